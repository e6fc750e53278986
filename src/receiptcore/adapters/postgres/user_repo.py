"""PostgresUserRepo: users, custom roles and refresh tokens in PostgreSQL, with the transactional outbox.

The schema is ``migrations/0001_users.sql``; the statements and the row <-> domain mapping live in ``user_sql``.
Every write that changes what other instances cache (roles, disabled, token version) commits its event in the
outbox in the same transaction (``outbox.record``); ``OutboxRelay`` publishes it after commit.
"""

from __future__ import annotations

import datetime as dt

import asyncpg

from receiptcore.adapters.postgres import outbox
from receiptcore.adapters.postgres.database import PostgresDatabase
from receiptcore.adapters.postgres.user_sql import (
    CHANGED,
    COUNT_ACTIVE_WITH_ROLE,
    INSERT_USER,
    LAST_ADMIN,
    LOCK_USER_AND_ADMINS,
    SELECT_USER,
    TAKEN,
    TOKEN_COLUMNS,
    UPDATE_USER,
    USER_COLUMNS,
    active_admin,
    row_to_role,
    row_to_token,
    row_to_user,
    token_args,
    user_args,
)
from receiptcore.domain.users import ADMIN, RefreshToken, Role, User
from receiptcore.errors import Conflict, NotFound
from receiptcore.ports import UserRepo


def _count(status: str) -> int:
    # asyncpg returns the command tag, e.g. "UPDATE 3"
    return int(status.rsplit(maxsplit=1)[-1])


class PostgresUserRepo(UserRepo):
    """The UserRepo port over PostgreSQL.

    Args:
        db: the pool shared by the PostgreSQL adapters (migrations applied when it opens).
    """

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def add_user(self, user: User) -> None:
        """Store a new user (and its ``user.created`` event). Raises Conflict on a taken email or id."""
        try:
            async with self._db.transaction() as conn:
                await conn.execute(INSERT_USER, *user_args(user))
                await outbox.record(conn, outbox.change_events(None, user), self._db.config.outbox_channel)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(TAKEN) from exc

    async def get_user(self, user_id: str) -> User:
        """Return the user with this id. Raises NotFound."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(SELECT_USER, user_id)
        if row is None:
            raise NotFound("no such user")
        return row_to_user(row)

    async def find_user_by_email(self, email: str) -> User | None:
        """Return the user with this email (stored folded to lower case; the argument is folded too), or None."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {USER_COLUMNS} FROM users WHERE email = $1",  # noqa: S608 - constant columns
                email.strip().lower(),
            )
        return None if row is None else row_to_user(row)

    async def save_user(self, user: User) -> None:
        """Overwrite an existing user (with the events of the change). Raises NotFound, Conflict on a taken email."""
        try:
            async with self._db.transaction() as conn:
                row = await conn.fetchrow(SELECT_USER + " FOR UPDATE", user.id)
                if row is None:
                    raise NotFound("no such user")
                await conn.execute(UPDATE_USER, *user_args(user), None)
                await self._record(conn, row_to_user(row), user)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(TAKEN) from exc

    async def save_user_keeping_admin(self, user: User, expected: User | None = None) -> None:
        """Overwrite an existing user unless that takes away the last active admin, or the stored user differs
        from ``expected`` (Conflict, nothing stored).

        One transaction in the database, so the rule holds across every instance: it row-locks the user and
        every active admin (one statement, id order: concurrent saves never deadlock), compares the locked row
        with ``expected``, writes it only at the row version it read, and counts the active admins that remain
        before committing. A concurrent save that could also remove an admin waits on those locks and then
        counts what this one committed. Raises NotFound, Conflict (taken email, changed user, last admin).
        """
        try:
            async with self._db.transaction() as conn:
                await conn.execute(LOCK_USER_AND_ADMINS, user.id, ADMIN)
                row = await conn.fetchrow(SELECT_USER, user.id)
                if row is None:
                    raise NotFound("no such user")
                before = row_to_user(row)
                if expected is not None and before != expected:
                    raise Conflict(CHANGED)
                status = await conn.execute(UPDATE_USER, *user_args(user), row["row_version"])
                if _count(status) != 1:
                    raise Conflict(CHANGED)  # cannot happen under the row lock; kept as the database-side guard
                if active_admin(before) and await conn.fetchval(COUNT_ACTIVE_WITH_ROLE, ADMIN) == 0:
                    raise Conflict(LAST_ADMIN)  # leaving the block rolls the update back
                await self._record(conn, before, user)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(TAKEN) from exc

    async def list_users(self, *, limit: int = 100, after: str | None = None) -> list[User]:
        """Users ordered by id ascending, at most ``limit``, starting after the id ``after``."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {USER_COLUMNS} FROM users WHERE $1::text IS NULL OR id > $1 ORDER BY id LIMIT $2",  # noqa: S608
                after,
                max(limit, 0),
            )
        return [row_to_user(row) for row in rows]

    async def count_users(self) -> int:
        """Number of users, disabled ones included."""
        async with self._db.connection() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM users"))

    async def count_active_with_role(self, role: str) -> int:
        """Number of users that hold ``role`` and are not disabled."""
        async with self._db.connection() as conn:
            return int(await conn.fetchval(COUNT_ACTIVE_WITH_ROLE, role))

    async def add_role(self, role: Role) -> None:
        """Store a new custom role. Raises Conflict when the name exists."""
        try:
            async with self._db.connection() as conn:
                await conn.execute(
                    "INSERT INTO roles (name, description, permissions) VALUES ($1, $2, $3)",
                    role.name,
                    role.description,
                    sorted(role.permissions),
                )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"a role named {role.name!r} already exists") from exc

    async def save_role(self, role: Role) -> None:
        """Overwrite an existing custom role. Raises NotFound if absent."""
        async with self._db.connection() as conn:
            status = await conn.execute(
                "UPDATE roles SET description = $2, permissions = $3 WHERE name = $1",
                role.name,
                role.description,
                sorted(role.permissions),
            )
        if _count(status) == 0:
            raise NotFound(f"no role named {role.name!r}")

    async def delete_role(self, name: str) -> None:
        """Delete a custom role. Raises NotFound if absent."""
        async with self._db.connection() as conn:
            status = await conn.execute("DELETE FROM roles WHERE name = $1", name)
        if _count(status) == 0:
            raise NotFound(f"no role named {name!r}")

    async def list_roles(self) -> list[Role]:
        """Every custom role, ordered by name."""
        async with self._db.connection() as conn:
            rows = await conn.fetch("SELECT name, description, permissions FROM roles ORDER BY name")
        return [row_to_role(row) for row in rows]

    async def add_refresh_token(self, token: RefreshToken) -> None:
        """Store a refresh token. Raises Conflict on a duplicate id or hash, or an unknown user."""
        try:
            async with self._db.connection() as conn:
                await conn.execute(
                    f"INSERT INTO refresh_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",  # noqa: S608
                    *token_args(token),
                )
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise Conflict("refresh token already stored, or its user does not exist") from exc

    async def find_refresh_token(self, token_hash: str) -> RefreshToken | None:
        """Return the refresh token with this hash, used or not, or None."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = $1",  # noqa: S608 - constant columns
                token_hash,
            )
        return None if row is None else row_to_token(row)

    async def use_refresh_token(self, token_id: str, at: dt.datetime) -> bool:
        """Mark an unused, unrevoked token used in one conditional UPDATE; True if this call used it."""
        async with self._db.connection() as conn:
            status = await conn.execute(
                "UPDATE refresh_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL",
                token_id,
                at,
            )
        return _count(status) == 1

    async def revoke_refresh_family(self, family_id: str, at: dt.datetime) -> int:
        """Revoke every unrevoked token of a family; returns how many were revoked."""
        async with self._db.connection() as conn:
            status = await conn.execute(
                "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL", family_id, at
            )
        return _count(status)

    async def session_revoked(self, session_id: str) -> bool:
        """True once any token of the family was revoked, or for an unknown family."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT count(*) AS tokens, count(revoked_at) AS revoked FROM refresh_tokens WHERE family_id = $1",
                session_id,
            )
        return row is None or row["tokens"] == 0 or row["revoked"] > 0

    async def revoke_user_refresh_tokens(self, user_id: str, at: dt.datetime) -> int:
        """Revoke every unrevoked refresh token of a user; returns how many were revoked."""
        async with self._db.connection() as conn:
            status = await conn.execute(
                "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", user_id, at
            )
        return _count(status)

    async def _record(self, conn: asyncpg.Connection, before: User, after: User) -> None:
        await outbox.record(conn, outbox.change_events(before, after), self._db.config.outbox_channel)
