"""SqliteUserRepo: users, custom roles and refresh tokens in the embedded SQLite database.

Role lists and permission sets are stored as JSON arrays; times as ISO-8601 UTC strings with a fixed width
(microseconds, ``+00:00``) so that string order is time order. Row ↔ domain mapping sits next to the SQL.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.domain.users import RefreshToken, Role, User
from receiptcore.errors import Conflict, NotFound
from receiptcore.ports import UserRepo

USERS_V1 = """
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL COLLATE NOCASE UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL DEFAULT '[]',
    disabled INTEGER NOT NULL DEFAULT 0,
    token_version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    password_changed_at TEXT
);
CREATE TABLE roles (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    permissions TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    family_id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    family_expires_at TEXT NOT NULL,
    used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);
"""

_USER_COLUMNS = (
    "id, email, display_name, password_hash, roles, disabled, token_version, created_at, updated_at, "
    "password_changed_at"
)
_TOKEN_COLUMNS = "id, user_id, family_id, token_hash, created_at, expires_at, family_expires_at, used_at, revoked_at"  # noqa: S105 - column names, not a secret


def _ts(value: dt.datetime | None) -> str | None:
    """A UTC timestamp string whose lexical order is its time order."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the user repo; times must be timezone-aware UTC")
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _dt(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def _req_dt(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def user_to_row(user: User) -> tuple[Any, ...]:
    """The users row of ``user``, in ``_USER_COLUMNS`` order."""
    return (
        user.id,
        user.email,
        user.display_name,
        user.password_hash,
        json.dumps(list(user.roles)),
        int(user.disabled),
        user.token_version,
        _ts(user.created_at),
        _ts(user.updated_at),
        _ts(user.password_changed_at),
    )


def row_to_user(row: sqlite3.Row) -> User:
    """The User of a users row."""
    return User(
        id=row["id"],
        email=row["email"],
        display_name=row["display_name"],
        password_hash=row["password_hash"],
        roles=json.loads(row["roles"]),
        disabled=bool(row["disabled"]),
        token_version=row["token_version"],
        created_at=_req_dt(row["created_at"]),
        updated_at=_req_dt(row["updated_at"]),
        password_changed_at=_dt(row["password_changed_at"]),
    )


def row_to_role(row: sqlite3.Row) -> Role:
    """The (custom) Role of a roles row."""
    return Role(name=row["name"], description=row["description"], permissions=frozenset(json.loads(row["permissions"])))


def token_to_row(token: RefreshToken) -> tuple[Any, ...]:
    """The refresh_tokens row of ``token``, in ``_TOKEN_COLUMNS`` order."""
    return (
        token.id,
        token.user_id,
        token.family_id,
        token.token_hash,
        _ts(token.created_at),
        _ts(token.expires_at),
        _ts(token.family_expires_at),
        _ts(token.used_at),
        _ts(token.revoked_at),
    )


def row_to_token(row: sqlite3.Row) -> RefreshToken:
    """The RefreshToken of a refresh_tokens row."""
    return RefreshToken(
        id=row["id"],
        user_id=row["user_id"],
        family_id=row["family_id"],
        token_hash=row["token_hash"],
        created_at=_req_dt(row["created_at"]),
        expires_at=_req_dt(row["expires_at"]),
        family_expires_at=_req_dt(row["family_expires_at"]),
        used_at=_dt(row["used_at"]),
        revoked_at=_dt(row["revoked_at"]),
    )


class SqliteUserRepo(UserRepo):
    """The UserRepo port over the shared SQLite database (migration ``users_v1``, applied on first use).

    Args:
        db: the shared database of the embedded profile.
    """

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.register_migration("users_v1", USERS_V1)

    async def add_user(self, user: User) -> None:
        """Store a new user. Raises Conflict when the (case-insensitive) email or the id exists."""
        await self._db.migrate()
        try:
            async with self._db.transaction() as conn:
                await conn.execute(
                    f"INSERT INTO users ({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant
                    user_to_row(user),
                )
        except sqlite3.IntegrityError as exc:
            raise Conflict("a user with this email already exists") from exc

    async def get_user(self, user_id: str) -> User:
        """Return the user with this id. Raises NotFound."""
        await self._db.migrate()
        row = await self._db.fetchone(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,))  # noqa: S608
        if row is None:
            raise NotFound("no such user")
        return row_to_user(row)

    async def find_user_by_email(self, email: str) -> User | None:
        """Return the user with this email (compared case-insensitively), or None."""
        await self._db.migrate()
        row = await self._db.fetchone(
            f"SELECT {_USER_COLUMNS} FROM users WHERE email = ? COLLATE NOCASE",  # noqa: S608 - constant columns
            # Stored emails are lower case (the User model folds them); NOCASE alone folds only ASCII.
            (email.strip().lower(),),
        )
        return None if row is None else row_to_user(row)

    async def save_user(self, user: User) -> None:
        """Overwrite an existing user. Raises NotFound if absent, Conflict on a taken email."""
        await self._db.migrate()
        row = user_to_row(user)
        try:
            async with self._db.transaction() as conn:
                cursor = await conn.execute(
                    "UPDATE users SET email = ?, display_name = ?, password_hash = ?, roles = ?, disabled = ?, "
                    "token_version = ?, created_at = ?, updated_at = ?, password_changed_at = ? WHERE id = ?",
                    (*row[1:], row[0]),
                )
                changed = cursor.rowcount
        except sqlite3.IntegrityError as exc:
            raise Conflict("a user with this email already exists") from exc
        if changed == 0:
            raise NotFound("no such user")

    async def list_users(self, *, limit: int = 100, after: str | None = None) -> list[User]:
        """Users ordered by id ascending, at most ``limit``, starting after the id ``after``."""
        await self._db.migrate()
        rows = await self._db.fetchall(
            f"SELECT {_USER_COLUMNS} FROM users WHERE ? IS NULL OR id > ? ORDER BY id LIMIT ?",  # noqa: S608
            (after, after, max(limit, 0)),
        )
        return [row_to_user(row) for row in rows]

    async def count_users(self) -> int:
        """Number of users, disabled ones included."""
        await self._db.migrate()
        row = await self._db.fetchone("SELECT count(*) FROM users")
        return int(row[0]) if row is not None else 0

    async def count_active_with_role(self, role: str) -> int:
        """Number of users that hold ``role`` and are not disabled."""
        await self._db.migrate()
        row = await self._db.fetchone(
            "SELECT count(*) FROM users WHERE disabled = 0 "
            "AND EXISTS (SELECT 1 FROM json_each(users.roles) WHERE json_each.value = ?)",
            (role,),
        )
        return int(row[0]) if row is not None else 0

    async def add_role(self, role: Role) -> None:
        """Store a new custom role. Raises Conflict when the name exists."""
        await self._db.migrate()
        try:
            await self._db.execute(
                "INSERT INTO roles (name, description, permissions) VALUES (?, ?, ?)",
                (role.name, role.description, json.dumps(sorted(role.permissions))),
            )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"a role named {role.name!r} already exists") from exc

    async def save_role(self, role: Role) -> None:
        """Overwrite an existing custom role. Raises NotFound if absent."""
        await self._db.migrate()
        changed = await self._db.execute(
            "UPDATE roles SET description = ?, permissions = ? WHERE name = ?",
            (role.description, json.dumps(sorted(role.permissions)), role.name),
        )
        if changed == 0:
            raise NotFound(f"no role named {role.name!r}")

    async def delete_role(self, name: str) -> None:
        """Delete a custom role. Raises NotFound if absent."""
        await self._db.migrate()
        if await self._db.execute("DELETE FROM roles WHERE name = ?", (name,)) == 0:
            raise NotFound(f"no role named {name!r}")

    async def list_roles(self) -> list[Role]:
        """Every custom role, ordered by name."""
        await self._db.migrate()
        rows = await self._db.fetchall("SELECT name, description, permissions FROM roles ORDER BY name")
        return [row_to_role(row) for row in rows]

    async def add_refresh_token(self, token: RefreshToken) -> None:
        """Store a refresh token. Raises Conflict on a duplicate id or hash, or an unknown user."""
        await self._db.migrate()
        try:
            await self._db.execute(
                f"INSERT INTO refresh_tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                token_to_row(token),
            )
        except sqlite3.IntegrityError as exc:
            raise Conflict("refresh token already stored, or its user does not exist") from exc

    async def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        """Return the refresh token with this hash, used or not, or None."""
        await self._db.migrate()
        row = await self._db.fetchone(
            f"SELECT {_TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = ?",  # noqa: S608 - constant columns
            (token_hash,),
        )
        return None if row is None else row_to_token(row)

    async def use_refresh_token(self, token_id: str, at: dt.datetime) -> bool:
        """Mark an unused, unrevoked token used in one conditional UPDATE; True if this call used it."""
        await self._db.migrate()
        changed = await self._db.execute(
            "UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL",
            (_ts(at), token_id),
        )
        return changed == 1

    async def revoke_refresh_family(self, family_id: str, at: dt.datetime) -> int:
        """Revoke every unrevoked token of a family; returns how many were revoked."""
        await self._db.migrate()
        return await self._db.execute(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL", (_ts(at), family_id)
        )

    async def revoke_user_refresh_tokens(self, user_id: str, at: dt.datetime) -> int:
        """Revoke every unrevoked refresh token of a user; returns how many were revoked."""
        await self._db.migrate()
        return await self._db.execute(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", (_ts(at), user_id)
        )
