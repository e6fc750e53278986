"""SqliteMerchantDirectory: the MerchantDirectory port on the shared SQLite database (migration ``merchants_v1``).

The entry is stored as JSON; ``owner_id`` and ``key`` beside it exist to filter and to enforce, with a unique
index, that an owner's entries have distinct keys.
"""

from __future__ import annotations

import builtins
import sqlite3
from typing import Any

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.domain.merchants import MerchantEntry
from receiptcore.domain.policy import Scope
from receiptcore.errors import Conflict, NotFound, require_version
from receiptcore.ports import MerchantDirectory

SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS merchants (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (owner_id, key)
);
CREATE INDEX IF NOT EXISTS merchants_owner ON merchants (owner_id, id);
"""


def _scope_clause(scope: Scope) -> tuple[str, list[Any]]:
    if scope.owner_ids is None:
        return "1 = 1", []
    owners = sorted(scope.owner_ids)
    if not owners:
        return "0 = 1", []
    return f"owner_id IN ({', '.join('?' for _ in owners)})", list(owners)


def _to_entry(data: str) -> MerchantEntry:
    return MerchantEntry.model_validate_json(data)


class SqliteMerchantDirectory(MerchantDirectory):
    """Merchant entries in the ``merchants`` table of the embedded database.

    Args:
        db: the shared SQLite database (the migration is registered here and applied on first use).
    """

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.register_migration("merchants_v1", SCHEMA_V1)

    async def entries(self, owner_id: str) -> builtins.list[MerchantEntry]:
        """Every entry of ``owner_id``, ordered by id."""
        await self._db.migrate()
        rows = await self._db.fetchall("SELECT data FROM merchants WHERE owner_id = ? ORDER BY id", (owner_id,))
        return [_to_entry(row[0]) for row in rows]

    async def list(self, scope: Scope, *, limit: int = 100, after: str | None = None) -> builtins.list[MerchantEntry]:
        """Entries inside ``scope`` by id, after ``after``, at most ``limit``."""
        await self._db.migrate()
        where, params = _scope_clause(scope)
        rows = await self._db.fetchall(
            f"SELECT data FROM merchants WHERE {where} AND (? IS NULL OR id > ?) ORDER BY id LIMIT ?",  # noqa: S608
            [*params, after, after, max(0, limit)],
        )
        return [_to_entry(row[0]) for row in rows]

    async def get(self, entry_id: str, scope: Scope) -> MerchantEntry:
        """The entry; NotFound when absent or outside ``scope``."""
        await self._db.migrate()
        where, params = _scope_clause(scope)
        row = await self._db.fetchone(
            f"SELECT data FROM merchants WHERE id = ? AND {where}",  # noqa: S608 - placeholders only
            [entry_id, *params],
        )
        if row is None:
            raise NotFound(f"merchant {entry_id} not found")
        return _to_entry(row[0])

    async def add(self, entry: MerchantEntry) -> None:
        """Store a new entry; Conflict on a taken id or owner key."""
        await self._db.migrate()
        try:
            await self._db.execute(
                "INSERT INTO merchants (id, owner_id, key, version, data) VALUES (?, ?, ?, ?, ?)",
                (entry.id, entry.owner_id, entry.key, entry.version, entry.model_dump_json()),
            )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"the merchant {entry.name!r} already exists") from exc

    async def save(self, entry: MerchantEntry, expected_version: int) -> MerchantEntry:
        """Compare-and-set on ``version`` inside one write transaction."""
        await self._db.migrate()
        stored = entry.model_copy(update={"version": expected_version + 1})
        try:
            async with self._db.transaction() as conn:
                cursor = await conn.execute(
                    "SELECT version FROM merchants WHERE id = ? AND owner_id = ?", (entry.id, entry.owner_id)
                )
                row = await cursor.fetchone()
                require_version(f"merchant {entry.id}", None if row is None else row[0], expected_version)
                await conn.execute(
                    "UPDATE merchants SET key = ?, version = ?, data = ? WHERE id = ?",
                    (stored.key, stored.version, stored.model_dump_json(), stored.id),
                )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"another merchant is already named {entry.name!r}") from exc
        return stored

    async def delete(self, entry_id: str, scope: Scope) -> None:
        """Delete the entry; NotFound when absent or outside ``scope``."""
        await self._db.migrate()
        where, params = _scope_clause(scope)
        changed = await self._db.execute(
            f"DELETE FROM merchants WHERE id = ? AND {where}",  # noqa: S608 - placeholders only
            [entry_id, *params],
        )
        if changed == 0:
            raise NotFound(f"merchant {entry_id} not found")
