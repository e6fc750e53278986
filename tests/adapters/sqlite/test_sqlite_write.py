"""SqliteDatabase.write: a whole write transaction in one call on the writer's thread, with transaction()'s
guarantees: committed on success, rolled back on any error, serialised with every other write."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.errors import StorageUnavailable
from tests.adapters.sqlite.conftest import NOTES_DDL


@pytest.fixture(params=["file", "memory"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    database = SqliteDatabase(tmp_path / "notes.sqlite3" if request.param == "file" else ":memory:")
    database.register_migration("notes_v1", NOTES_DDL)
    await database.migrate()
    yield database
    await database.aclose()


async def texts(db: SqliteDatabase) -> list[str]:
    return [row[0] for row in await db.fetchall("SELECT text FROM notes ORDER BY id")]


async def test_work_commits_and_its_result_comes_back(db: SqliteDatabase) -> None:
    def add_two(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO notes (id, text) VALUES (1, 'one')")
        conn.execute("INSERT INTO notes (id, text) VALUES (2, 'two')")
        return int(conn.execute("SELECT count(*) FROM notes").fetchone()[0])

    assert await db.write(add_two) == 2
    assert await texts(db) == ["one", "two"]


async def test_an_error_rolls_every_statement_back(db: SqliteDatabase) -> None:
    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO notes (id, text) VALUES (1, 'half')")
        raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        await db.write(half_then_fail)
    assert await texts(db) == []

    await db.execute("INSERT INTO notes (id, text) VALUES (1, 'kept')")
    with pytest.raises(sqlite3.IntegrityError):  # the adapter translates constraint errors itself
        await db.write(lambda conn: conn.execute("INSERT INTO notes (id, text) VALUES (1, 'again')"))
    with pytest.raises(StorageUnavailable):  # any other SQLite failure is the store being unavailable
        await db.write(lambda conn: conn.execute("INSERT INTO no_such_table VALUES (1)"))
    assert await texts(db) == ["kept"]
    assert await db.write(lambda conn: conn.execute("SELECT 1").fetchone()[0]) == 1  # nothing left open


async def test_the_work_runs_in_one_call_on_the_writers_thread(
    db: SqliteDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(fn)
        return await original(self, fn, *args, **kwargs)

    await db.execute("INSERT INTO notes (id, text) VALUES (1, 'warm')")  # the writer is open
    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    threads: list[int] = []

    def three_statements(conn: sqlite3.Connection) -> None:
        threads.append(threading.get_ident())
        for n in (2, 3, 4):
            conn.execute("INSERT INTO notes (id, text) VALUES (?, 'x')", (n,))

    await db.write(three_statements)
    assert len(calls) == 1  # BEGIN, three statements and COMMIT: one hop
    assert threads != [threading.get_ident()]  # not on the event loop's thread


async def test_writes_are_serialised_with_transactions(db: SqliteDatabase) -> None:
    inside, release = asyncio.Event(), asyncio.Event()

    async def open_transaction() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (id, text) VALUES (1, 'first')")
            inside.set()
            await release.wait()

    holder = asyncio.create_task(open_transaction())
    await inside.wait()
    second = asyncio.create_task(db.write(lambda conn: conn.execute("INSERT INTO notes (id, text) VALUES (2, 's')")))
    await asyncio.sleep(0.05)
    assert not second.done()  # waits for the open transaction, never interleaves with it
    release.set()
    await asyncio.gather(holder, second)
    assert await texts(db) == ["first", "s"]
