"""SqliteUserRepo: users, custom roles and refresh tokens in the embedded SQLite database.

The schema and the row <-> domain mapping live in ``user_sql``; this module holds the statements and their
transactions.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import aiosqlite

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.user_sql import (
    AUTH_CHANGES_V1,
    AUTH_CHANGES_V2,
    CHANGED,
    COUNT_ACTIVE_WITH_ROLE,
    LAST_ADMIN,
    READ_AUTH_CHANGES,
    SESSION_STATE,
    TOKEN_COLUMNS,
    USER_COLUMNS,
    USER_PREFERENCES_V1,
    USERS_V1,
    row_to_role,
    row_to_token,
    row_to_user,
    token_to_row,
    ts,
    user_to_row,
)
from receiptcore.domain.users import ADMIN, RefreshToken, Role, User
from receiptcore.errors import Conflict, NotFound, StorageUnavailable
from receiptcore.ports import AuthChangeCounter, UserRepo


class SqliteUserRepo(UserRepo, AuthChangeCounter):
    """The UserRepo port over the shared SQLite database (migration ``users_v1``, applied on first use).

    Args:
        db: the shared database of the embedded profile.
    """

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        self._unreadable = -1  # counts down on every failed read, so each failure reads as a change
        db.register_migration("users_v1", USERS_V1)
        db.register_migration("auth_changes_v1", AUTH_CHANGES_V1)
        db.register_migration("user_preferences_v1", USER_PREFERENCES_V1)
        db.register_migration("auth_changes_v2", AUTH_CHANGES_V2)

    async def auth_change_count(self) -> int:
        """The counter the ``auth_changes`` triggers bump (ports.AuthChangeCounter): every committed write of a
        user row, a custom role or a refresh-token revocation moves it, whichever connection made it.

        A point read on the event loop's thread (``SqliteDatabase.fetchone_point``): one single-row read in WAL
        mode, a few microseconds, never waiting for a lock on the loop (when SQLite would wait, the read moves to
        a reader thread). When the read fails the answer is a number never returned before, which only makes the
        caller drop its caches. A ``":memory:"`` database is read through its one connection (it exists nowhere
        else), which is slower but follows this process's writes just the same.
        """
        if not self._db.migrated:  # read on every request: not even an awaited no-op
            await self._db.migrate()
        try:
            if self._db.in_memory:
                row = await self._db.fetchone(READ_AUTH_CHANGES)
            else:
                row = await self._db.fetchone_point(READ_AUTH_CHANGES)
        except StorageUnavailable:
            self._unreadable -= 1
            return self._unreadable
        return int(row[0]) if row is not None else 0

    async def session_revoked(self, session_id: str) -> bool:
        """True once any token of the family was revoked, or for an unknown family."""
        await self._db.migrate()
        row = await self._db.fetchone(SESSION_STATE, (session_id,))
        return row is None or int(row[0]) == 0 or int(row[1]) > 0

    async def add_user(self, user: User) -> None:
        """Store a new user. Raises Conflict when the (case-insensitive) email or the id exists."""
        await self._db.migrate()
        try:
            async with self._db.transaction() as conn:
                await conn.execute(
                    f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant
                    user_to_row(user),
                )
        except sqlite3.IntegrityError as exc:
            raise Conflict("a user with this email already exists") from exc

    async def get_user(self, user_id: str) -> User:
        """Return the user with this id. Raises NotFound."""
        await self._db.migrate()
        row = await self._db.fetchone_point(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,))  # noqa: S608
        if row is None:
            raise NotFound("no such user")
        return row_to_user(row)

    async def find_user_by_email(self, email: str) -> User | None:
        """Return the user with this email (compared case-insensitively), or None."""
        await self._db.migrate()
        row = await self._db.fetchone_point(  # the unique index on email (declared COLLATE NOCASE)
            f"SELECT {USER_COLUMNS} FROM users WHERE email = ? COLLATE NOCASE",  # noqa: S608 - constant columns
            # Stored emails are lower case (the User model folds them); NOCASE alone folds only ASCII.
            (email.strip().lower(),),
        )
        return None if row is None else row_to_user(row)

    async def save_user(self, user: User) -> None:
        """Overwrite an existing user. Raises NotFound if absent, Conflict on a taken email."""
        await self._db.migrate()
        try:
            async with self._db.transaction() as conn:
                await _update_user(conn, user)
        except sqlite3.IntegrityError as exc:
            raise Conflict("a user with this email already exists") from exc

    async def save_user_keeping_admin(self, user: User, expected: User | None = None) -> None:
        """Overwrite an existing user unless that takes away the last active admin, or the stored user differs
        from ``expected`` (Conflict, nothing stored).

        Read, update and count share one ``BEGIN IMMEDIATE`` transaction: it holds SQLite's write lock from its
        first statement, so a concurrent save, here or in another process, waits and then sees what this one
        committed. Raises NotFound if absent, Conflict on a taken email, a changed user or the last active admin.
        """
        await self._db.migrate()
        try:
            async with self._db.transaction() as conn:
                cursor = await conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user.id,))  # noqa: S608
                row = await cursor.fetchone()
                if row is None:
                    raise NotFound("no such user")
                before = row_to_user(row)
                if expected is not None and before != expected:
                    raise Conflict(CHANGED)
                await _update_user(conn, user)
                was_admin = ADMIN in before.roles and not before.disabled
                if was_admin and await _count_active_with_role(conn, ADMIN) == 0:
                    raise Conflict(LAST_ADMIN)  # leaving the block rolls the update back
        except sqlite3.IntegrityError as exc:
            raise Conflict("a user with this email already exists") from exc

    async def list_users(self, *, limit: int = 100, after: str | None = None) -> list[User]:
        """Users ordered by id ascending, at most ``limit``, starting after the id ``after``."""
        await self._db.migrate()
        rows = await self._db.fetchall(
            f"SELECT {USER_COLUMNS} FROM users WHERE ? IS NULL OR id > ? ORDER BY id LIMIT ?",  # noqa: S608
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
        row = await self._db.fetchone(COUNT_ACTIVE_WITH_ROLE, (role,))
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
                f"INSERT INTO refresh_tokens ({TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                token_to_row(token),
            )
        except sqlite3.IntegrityError as exc:
            raise Conflict("refresh token already stored, or its user does not exist") from exc

    async def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        """Return the refresh token with this hash, used or not, or None."""
        await self._db.migrate()
        row = await self._db.fetchone_point(
            f"SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = ?",  # noqa: S608 - constant columns
            (token_hash,),
        )
        return None if row is None else row_to_token(row)

    async def use_refresh_token(self, token_id: str, at: dt.datetime) -> bool:
        """Mark an unused, unrevoked token used in one conditional UPDATE; True if this call used it."""
        await self._db.migrate()
        changed = await self._db.execute(
            "UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL",
            (ts(at), token_id),
        )
        return changed == 1

    async def revoke_refresh_family(self, family_id: str, at: dt.datetime) -> int:
        """Revoke every unrevoked token of a family; returns how many were revoked."""
        await self._db.migrate()
        return await self._db.execute(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL", (ts(at), family_id)
        )

    async def revoke_user_refresh_tokens(self, user_id: str, at: dt.datetime) -> int:
        """Revoke every unrevoked refresh token of a user; returns how many were revoked."""
        await self._db.migrate()
        return await self._db.execute(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", (ts(at), user_id)
        )


async def _update_user(conn: aiosqlite.Connection, user: User) -> None:
    """Overwrite the users row of ``user`` inside the caller's transaction. Raises NotFound if absent."""
    row = user_to_row(user)
    cursor = await conn.execute(
        "UPDATE users SET email = ?, display_name = ?, password_hash = ?, roles = ?, disabled = ?, "
        "token_version = ?, created_at = ?, updated_at = ?, password_changed_at = ?, default_currency = ? WHERE id = ?",
        (*row[1:], row[0]),
    )
    if cursor.rowcount == 0:
        raise NotFound("no such user")


async def _count_active_with_role(conn: aiosqlite.Connection, role: str) -> int:
    cursor = await conn.execute(COUNT_ACTIVE_WITH_ROLE, (role,))
    row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0
