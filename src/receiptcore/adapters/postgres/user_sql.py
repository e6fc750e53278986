"""SQL of the PostgreSQL user repo: column lists, statements, and row <-> domain mapping.

Role lists and permission sets are ``text[]``; times are ``timestamptz`` (microseconds, like Python's datetime),
read back as aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from receiptcore.domain.users import ADMIN, RefreshToken, Role, User

LAST_ADMIN = "the last active admin cannot lose the admin role or be disabled"
CHANGED = "the user was changed by someone else meanwhile; reload and try again"
TAKEN = "a user with this email already exists"

USER_COLUMNS = (
    "id, email, display_name, password_hash, roles, disabled, token_version, created_at, updated_at, "
    "password_changed_at, default_currency"
)
TOKEN_COLUMNS = "id, user_id, family_id, token_hash, created_at, expires_at, family_expires_at, used_at, revoked_at"  # noqa: S105 - column names, not a secret

INSERT_USER = f"INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"  # noqa: S608
SELECT_USER = f"SELECT {USER_COLUMNS}, row_version FROM users WHERE id = $1"  # noqa: S608 - constant columns
# The conditional write of the guarded save: only the row version that was read (and locked) is overwritten.
UPDATE_USER = (
    "UPDATE users SET email = $2, display_name = $3, password_hash = $4, roles = $5, disabled = $6, "
    "token_version = $7, created_at = $8, updated_at = $9, password_changed_at = $10, default_currency = $11, "
    "row_version = row_version + 1 WHERE id = $1 AND ($12::bigint IS NULL OR row_version = $12)"
)
COUNT_ACTIVE_WITH_ROLE = "SELECT count(*) FROM users WHERE NOT disabled AND roles @> ARRAY[$1::text]"
# Locks the saved user's row and every active admin's row, in id order. Every guarded save takes its locks through
# this one statement, so two of them always lock in the same order (no deadlock), and a save that may remove an
# admin waits for any other such save in flight, then counts what that one committed.
LOCK_USER_AND_ADMINS = (
    "SELECT id FROM users WHERE id = $1 OR (NOT disabled AND roles @> ARRAY[$2::text]) ORDER BY id FOR UPDATE"
)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the user repo; times must be timezone-aware UTC")
    return value.astimezone(dt.UTC)


def _read_utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC)


def user_args(user: User) -> tuple[Any, ...]:
    """The users row of ``user`` as statement arguments, in ``USER_COLUMNS`` order."""
    return (
        user.id,
        user.email,
        user.display_name,
        user.password_hash,
        list(user.roles),
        user.disabled,
        user.token_version,
        _utc(user.created_at),
        _utc(user.updated_at),
        _utc(user.password_changed_at),
        user.default_currency,
    )


def row_to_user(row: asyncpg.Record) -> User:
    """The User of a users row."""
    return User(
        id=row["id"],
        email=row["email"],
        display_name=row["display_name"],
        password_hash=row["password_hash"],
        roles=list(row["roles"]),
        disabled=row["disabled"],
        token_version=row["token_version"],
        created_at=_read_utc(row["created_at"]),
        updated_at=_read_utc(row["updated_at"]),
        password_changed_at=_read_utc(row["password_changed_at"]),
        default_currency=row["default_currency"],
    )


def row_to_role(row: asyncpg.Record) -> Role:
    """The (custom) Role of a roles row."""
    return Role(name=row["name"], description=row["description"], permissions=frozenset(row["permissions"]))


def token_args(token: RefreshToken) -> tuple[Any, ...]:
    """The refresh_tokens row of ``token`` as statement arguments, in ``TOKEN_COLUMNS`` order."""
    return (
        token.id,
        token.user_id,
        token.family_id,
        token.token_hash,
        _utc(token.created_at),
        _utc(token.expires_at),
        _utc(token.family_expires_at),
        _utc(token.used_at),
        _utc(token.revoked_at),
    )


def row_to_token(row: asyncpg.Record) -> RefreshToken:
    """The RefreshToken of a refresh_tokens row."""
    return RefreshToken(
        id=row["id"],
        user_id=row["user_id"],
        family_id=row["family_id"],
        token_hash=row["token_hash"],
        created_at=_read_utc(row["created_at"]),
        expires_at=_read_utc(row["expires_at"]),
        family_expires_at=_read_utc(row["family_expires_at"]),
        used_at=_read_utc(row["used_at"]),
        revoked_at=_read_utc(row["revoked_at"]),
    )


def active_admin(user: User) -> bool:
    """Whether ``user`` counts towards the last-admin rule."""
    return ADMIN in user.roles and not user.disabled
