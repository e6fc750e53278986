"""The schema migrations of one SQLite database: registered by the adapters, applied once each (``Migrations``).

Each migration is a DDL script applied all-or-nothing in its own ``BEGIN IMMEDIATE`` transaction and recorded in
``schema_migrations``; another process applying the same migrations at the same time waits for the write lock,
then sees the record and skips it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import aiosqlite

_RECORD_TABLE = "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
_RECORD = "INSERT INTO schema_migrations (name, applied_at) VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ'))"


def split_statements(script: str) -> list[str]:
    """Split a DDL script into complete SQL statements (triggers with inner ``;`` stay whole).

    ``executescript`` would be simpler, but it COMMITs any open transaction first, which would break the
    all-or-nothing application of a migration.
    """
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip().strip(";").strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:80]!r}")
    return statements


class Migrations:
    """The migrations registered on one database, in registration order, and those this process applied."""

    def __init__(self) -> None:
        self._statements: dict[str, list[str]] = {}
        self._applied: set[str] = set()

    def register(self, name: str, ddl: str) -> None:
        """Register DDL to apply once under ``name``. The same name twice with the same DDL is a no-op; with
        different DDL it is a programming error (ValueError)."""
        statements = split_statements(ddl)
        existing = self._statements.get(name)
        if existing is not None and existing != statements:
            raise ValueError(f"migration {name!r} is already registered with different DDL")
        self._statements[name] = statements

    @property
    def done(self) -> bool:
        """Whether every registered migration was applied by (or found applied by) this process."""
        return len(self._applied) == len(self._statements)

    async def apply(self, transaction: Callable[[], AbstractAsyncContextManager[aiosqlite.Connection]]) -> None:
        """Apply every registered migration not yet recorded, each in its own ``transaction()``, in order."""
        pending = [name for name in self._statements if name not in self._applied]
        if not pending:
            return
        async with transaction() as conn:
            await conn.execute(_RECORD_TABLE)
        for name in pending:
            async with transaction() as conn:
                cursor = await conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,))
                if await cursor.fetchone() is None:
                    for statement in self._statements[name]:
                        await conn.execute(statement)
                    await conn.execute(_RECORD, (name,))
            self._applied.add(name)

    def forget(self) -> None:
        """Forget what was applied (an in-memory database closed: it vanished with its connection)."""
        self._applied.clear()
