"""SQL of the SQLite user repo: schema, column lists, and row <-> domain mapping.

Role lists and permission sets are stored as JSON arrays; times as ISO-8601 UTC strings with a fixed width
(microseconds, ``+00:00``) so that string order is time order.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from typing import Any

from receiptcore.domain.users import RefreshToken, Role, User

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

# One counter row that triggers bump in the committing transaction whenever a write changes who may do what: a
# user's roles, disabled flag or token version, a user deleted, any custom role written, a refresh token revoked
# (since auth_changes_v2 below: any write of a user row).
# Triggers, not adapter code, so that every writer (this server, the CLI in another process, a future statement)
# bumps it. ``SqliteUserRepo.auth_change_count`` reads it on every request (ports.AuthChangeCounter).
AUTH_CHANGES_V1 = """
CREATE TABLE auth_changes (id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL);
INSERT INTO auth_changes (id, count) VALUES (1, 0);
CREATE TRIGGER auth_changes_user_update AFTER UPDATE ON users
WHEN OLD.roles IS NOT NEW.roles OR OLD.disabled IS NOT NEW.disabled OR OLD.token_version IS NOT NEW.token_version
BEGIN UPDATE auth_changes SET count = count + 1 WHERE id = 1; END;
CREATE TRIGGER auth_changes_user_delete AFTER DELETE ON users
BEGIN UPDATE auth_changes SET count = count + 1 WHERE id = 1; END;
CREATE TRIGGER auth_changes_role_insert AFTER INSERT ON roles
BEGIN UPDATE auth_changes SET count = count + 1 WHERE id = 1; END;
CREATE TRIGGER auth_changes_role_update AFTER UPDATE ON roles
BEGIN UPDATE auth_changes SET count = count + 1 WHERE id = 1; END;
CREATE TRIGGER auth_changes_role_delete AFTER DELETE ON roles
BEGIN UPDATE auth_changes SET count = count + 1 WHERE id = 1; END;
CREATE TRIGGER auth_changes_token_revoke AFTER UPDATE OF revoked_at ON refresh_tokens
WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
BEGIN UPDATE auth_changes SET count = count + 1 WHERE id = 1; END;
"""
# Every write of a user row moves the counter, not only those that change access (auth_changes_v1's update
# trigger): the name, email and times shown by ``GET /auth/me`` too, so that a rendering of a user kept while the
# counter stands still is current (``entrypoints/http/fastpath.py``), whichever process wrote the row. No ``WHEN``:
# a column added later is covered without a new trigger. Profile writes are rare (an edit, a preference, a rehash
# at login); each makes every instance read the states it had cached once more.
AUTH_CHANGES_V2 = """
DROP TRIGGER auth_changes_user_update;
CREATE TRIGGER auth_changes_user_update AFTER UPDATE ON users
BEGIN UPDATE auth_changes SET count = count + 1 WHERE id = 1; END;
"""
# The user's preferences (issue 12): the currency assumed for their receipts that print none; NULL follows the
# install's RECEIPTCORE_DEFAULT_CURRENCY.
USER_PREFERENCES_V1 = """
ALTER TABLE users ADD COLUMN default_currency TEXT;
"""
READ_AUTH_CHANGES = "SELECT count FROM auth_changes WHERE id = 1"
SESSION_STATE = "SELECT count(*), count(revoked_at) FROM refresh_tokens WHERE family_id = ?"

COUNT_ACTIVE_WITH_ROLE = (
    "SELECT count(*) FROM users WHERE disabled = 0 "
    "AND EXISTS (SELECT 1 FROM json_each(users.roles) WHERE json_each.value = ?)"
)
LAST_ADMIN = "the last active admin cannot lose the admin role or be disabled"
CHANGED = "the user was changed by someone else meanwhile; reload and try again"

USER_COLUMNS = (
    "id, email, display_name, password_hash, roles, disabled, token_version, created_at, updated_at, "
    "password_changed_at, default_currency"
)
TOKEN_COLUMNS = "id, user_id, family_id, token_hash, created_at, expires_at, family_expires_at, used_at, revoked_at"  # noqa: S105 - column names, not a secret


def ts(value: dt.datetime | None) -> str | None:
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
    """The users row of ``user``, in ``USER_COLUMNS`` order."""
    return (
        user.id,
        user.email,
        user.display_name,
        user.password_hash,
        json.dumps(list(user.roles)),
        int(user.disabled),
        user.token_version,
        ts(user.created_at),
        ts(user.updated_at),
        ts(user.password_changed_at),
        user.default_currency,
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
        default_currency=row["default_currency"],
    )


def row_to_role(row: sqlite3.Row) -> Role:
    """The (custom) Role of a roles row."""
    return Role(name=row["name"], description=row["description"], permissions=frozenset(json.loads(row["permissions"])))


def token_to_row(token: RefreshToken) -> tuple[Any, ...]:
    """The refresh_tokens row of ``token``, in ``TOKEN_COLUMNS`` order."""
    return (
        token.id,
        token.user_id,
        token.family_id,
        token.token_hash,
        ts(token.created_at),
        ts(token.expires_at),
        ts(token.family_expires_at),
        ts(token.used_at),
        ts(token.revoked_at),
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
