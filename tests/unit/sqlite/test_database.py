"""SqliteDatabase: migrations applied once, transactions all-or-nothing and serialised, errors translated."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from receiptcore.adapters.sqlite.database import SqliteDatabase, split_statements
from receiptcore.errors import StorageUnavailable

DDL = """
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE audit (name TEXT NOT NULL, at TEXT NOT NULL);
CREATE TRIGGER counters_audit AFTER UPDATE ON counters BEGIN
    INSERT INTO audit (name, at) VALUES (new.name, 'now');
END;
"""


def test_split_statements_keeps_triggers_whole() -> None:
    statements = split_statements(DDL)
    assert len(statements) == 3
    assert statements[2].startswith("CREATE TRIGGER")
    assert statements[2].rstrip().endswith("END;")
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TABLE x (a INTEGER")


async def test_migrations_apply_once_across_instances_and_restarts(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "db.sqlite3"
    first, second = SqliteDatabase(path), SqliteDatabase(path)
    for db in (first, second):
        db.register_migration("counters_v1", DDL)
    await asyncio.gather(first.migrate(), second.migrate(), first.migrate())
    assert await first.applied_migrations() == ["counters_v1"]
    await first.aclose()
    await second.aclose()
    again = SqliteDatabase(path)
    again.register_migration("counters_v1", DDL)
    again.register_migration("counters_v2", "ALTER TABLE counters ADD COLUMN note TEXT NOT NULL DEFAULT '';")
    await again.migrate()
    assert await again.applied_migrations() == ["counters_v1", "counters_v2"]
    row = await again.fetchone("SELECT journal_mode FROM pragma_journal_mode")
    assert row is not None
    assert row[0] == "wal"
    await again.aclose()


async def test_registering_a_name_with_other_ddl_is_an_error() -> None:
    db = SqliteDatabase(":memory:")
    db.register_migration("m", "CREATE TABLE a (x INTEGER);")
    db.register_migration("m", "CREATE TABLE a (x INTEGER);")
    with pytest.raises(ValueError, match="different DDL"):
        db.register_migration("m", "CREATE TABLE b (x INTEGER);")


async def test_a_failing_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "db.sqlite3")
    db.register_migration("broken", "CREATE TABLE ok_table (x INTEGER);\nCREATE TABLE ok_table (x INTEGER);")
    with pytest.raises(StorageUnavailable):
        await db.migrate()
    assert await db.fetchall("SELECT name FROM sqlite_master WHERE name = 'ok_table'") == []
    assert await db.fetchall("SELECT name FROM schema_migrations") == []
    await db.aclose()


async def test_transaction_rolls_back_on_error_and_reraises_integrity_errors() -> None:
    db = SqliteDatabase(":memory:")
    db.register_migration("counters_v1", DDL)
    await db.migrate()
    await db.execute("INSERT INTO counters (name, value) VALUES ('a', 1)")

    async def duplicate() -> None:
        async with db.transaction() as conn:
            await conn.execute("UPDATE counters SET value = 2 WHERE name = 'a'")
            await conn.execute("INSERT INTO counters (name, value) VALUES ('a', 3)")

    async def boom() -> None:
        async with db.transaction() as conn:
            await conn.execute("UPDATE counters SET value = 5 WHERE name = 'a'")
            raise RuntimeError("boom")

    with pytest.raises(sqlite3.IntegrityError):
        await duplicate()
    with pytest.raises(RuntimeError):
        await boom()
    row = await db.fetchone("SELECT value FROM counters WHERE name = 'a'")
    assert row is not None
    assert row[0] == 1
    assert await db.fetchall("SELECT * FROM audit") == []
    await db.aclose()


async def test_concurrent_transactions_do_not_interleave() -> None:
    db = SqliteDatabase(":memory:")
    db.register_migration("counters_v1", DDL)
    await db.migrate()
    await db.execute("INSERT INTO counters (name, value) VALUES ('n', 0)")

    async def increment() -> None:
        async with db.transaction() as conn:
            cursor = await conn.execute("SELECT value FROM counters WHERE name = 'n'")
            row = await cursor.fetchone()
            await asyncio.sleep(0)  # let the other coroutines run: without serialisation, updates get lost
            await conn.execute("UPDATE counters SET value = ? WHERE name = 'n'", (row[0] + 1,))

    await asyncio.gather(*(increment() for _ in range(20)))
    row = await db.fetchone("SELECT value FROM counters WHERE name = 'n'")
    assert row is not None
    assert row[0] == 20
    await db.aclose()


async def test_driver_errors_become_storage_unavailable() -> None:
    db = SqliteDatabase(":memory:")
    with pytest.raises(StorageUnavailable):
        await db.fetchall("SELECT * FROM no_such_table")
    with pytest.raises(StorageUnavailable):
        await db.execute("INSERT INTO no_such_table VALUES (1)")
    await db.aclose()


async def test_in_memory_database_reopens_empty_and_migrates_again() -> None:
    db = SqliteDatabase(":memory:")
    db.register_migration("counters_v1", DDL)
    await db.migrate()
    await db.execute("INSERT INTO counters (name, value) VALUES ('a', 1)")
    await db.aclose()
    await db.migrate()
    assert await db.fetchall("SELECT * FROM counters") == []
    await db.aclose()


async def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "fk.sqlite3")
    db.register_migration(
        "fk", "CREATE TABLE p (id INTEGER PRIMARY KEY);\nCREATE TABLE c (p_id INTEGER NOT NULL REFERENCES p(id));"
    )
    await db.migrate()
    with pytest.raises(sqlite3.IntegrityError):
        await db.execute("INSERT INTO c (p_id) VALUES (42)")
    await db.aclose()
