"""Shared fixtures of the SQLite adapter tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from receiptcore.adapters.sqlite.database import SqliteDatabase

NOTES_DDL = "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"


@pytest.fixture
async def notes_db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    """A file database with a ``notes`` table holding one committed row (id 1, 'committed')."""
    database = SqliteDatabase(tmp_path / "notes.sqlite3")
    database.register_migration("notes_v1", NOTES_DDL)
    await database.migrate()
    await database.execute("INSERT INTO notes (id, text) VALUES (1, 'committed')")
    yield database
    await database.aclose()
