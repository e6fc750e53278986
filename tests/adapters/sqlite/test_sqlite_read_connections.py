"""Reads of a SQLite database file have their own read-only connections: they proceed while a write transaction
is open (WAL), see every committed write and never an uncommitted one, and cannot write."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from receiptcore.adapters.sqlite.database import READ_CACHE_KIB, SqliteDatabase
from receiptcore.errors import StorageUnavailable


@pytest.fixture
def db(notes_db: SqliteDatabase) -> SqliteDatabase:
    return notes_db


async def texts(db: SqliteDatabase) -> list[str]:
    return [row[0] for row in await db.fetchall("SELECT text FROM notes ORDER BY id")]


async def test_a_read_completes_while_a_write_transaction_is_open(db: SqliteDatabase) -> None:
    written, release = asyncio.Event(), asyncio.Event()

    async def slow_writer() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (id, text) VALUES (2, 'uncommitted')")
            written.set()
            await release.wait()

    writer = asyncio.create_task(slow_writer())
    await written.wait()
    try:
        # with reads behind the writer's lock this waits for `release`, which only comes after it: a timeout
        assert await asyncio.wait_for(texts(db), timeout=5) == ["committed"]
        row = await asyncio.wait_for(db.fetchone("SELECT count(*) FROM notes"), timeout=5)
        assert row is not None
        assert row[0] == 1
    finally:
        release.set()
        await writer
    # the write has committed when transaction() returned: the next read sees it (read-your-writes)
    assert await texts(db) == ["committed", "uncommitted"]


async def test_a_rolled_back_write_is_never_seen(db: SqliteDatabase) -> None:
    seen_inside: list[str] = []

    async def abandoned_write() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (id, text) VALUES (3, 'rolled back')")
            seen_inside.extend(await texts(db))
            raise RuntimeError("abandon")

    with pytest.raises(RuntimeError, match="abandon"):
        await abandoned_write()
    assert seen_inside == ["committed"]
    assert await texts(db) == ["committed"]


async def test_every_read_sees_the_write_committed_just_before_it(db: SqliteDatabase) -> None:
    # many readers at once (more than the pool holds), each right after its own write
    async def write_then_read(n: int) -> bool:
        await db.execute("INSERT INTO notes (id, text) VALUES (?, ?)", (10 + n, f"note {n}"))
        row = await db.fetchone("SELECT text FROM notes WHERE id = ?", (10 + n,))
        return row is not None and row[0] == f"note {n}"

    assert all(await asyncio.gather(*(write_then_read(n) for n in range(20))))


async def test_reads_cannot_write(db: SqliteDatabase) -> None:
    with pytest.raises(StorageUnavailable, match=r"readonly|read-only"):
        await db.fetchall("INSERT INTO notes (id, text) VALUES (4, 'sneaked in')")
    assert await texts(db) == ["committed"]


async def test_the_file_is_in_wal_mode_and_readers_reopen_after_close(db: SqliteDatabase) -> None:
    row = await db.fetchone("PRAGMA journal_mode")
    assert row is not None
    assert row[0] == "wal"
    await db.aclose()
    assert await texts(db) == ["committed"]


async def test_read_connections_keep_a_listings_pages_cached(db: SqliteDatabase) -> None:
    # a listing page's ~150 pages, four listings' ~700: SQLite's default 2,000 KiB made them come back through the
    # OS on every page (connections.py's docstring); the loop's connection reads listing pages too
    row = await db.fetchone("PRAGMA cache_size")
    assert row is not None
    assert row[0] == -READ_CACHE_KIB
    assert READ_CACHE_KIB >= 8192
    point = await db.fetchone_point("PRAGMA cache_size")
    assert point is not None
    assert point[0] == -READ_CACHE_KIB


async def test_a_cancelled_read_leaves_its_connection_usable(db: SqliteDatabase) -> None:
    slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) SELECT sum(i) FROM n"
    tasks = [asyncio.create_task(db.fetchone(slow)) for _ in range(4)]
    await asyncio.sleep(0.01)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert await asyncio.wait_for(texts(db), timeout=10) == ["committed"]


def test_a_database_needs_a_reader() -> None:
    with pytest.raises(ValueError, match="at least one reader"):
        SqliteDatabase("x.sqlite3", readers=0)


async def test_several_reads_in_one_hop_run_on_a_reader_and_fail_as_reads_do(db: SqliteDatabase) -> None:
    def count_then_read(conn: sqlite3.Connection) -> tuple[str, list[str]]:
        (count,) = conn.execute("SELECT count(*) FROM notes").fetchone()
        texts = [row[0] for row in conn.execute("SELECT text FROM notes LIMIT ?", (count,)).fetchall()]
        return threading.current_thread().name, texts

    thread, read = await db.read(count_then_read)
    assert read == ["committed"]
    assert thread.startswith("receiptcore-sqlite-read")

    def read_around_a_commit(conn: sqlite3.Connection) -> tuple[int, int]:
        (before,) = conn.execute("SELECT count(*) FROM notes").fetchone()
        other = sqlite3.connect(str(db.path), isolation_level=None)
        other.execute("INSERT INTO notes (id, text) VALUES (2, 'meanwhile')")
        other.close()
        (after,) = conn.execute("SELECT count(*) FROM notes").fetchone()
        return before, after

    # one snapshot: a commit between two statements of the same read is not seen by the second
    assert await db.read(read_around_a_commit) == (1, 1)
    assert await texts(db) == ["committed", "meanwhile"]
    with pytest.raises(StorageUnavailable):
        await db.read(lambda conn: conn.execute("INSERT INTO notes (id, text) VALUES (3, 'no')"))
    with pytest.raises(StorageUnavailable):
        await db.read(lambda conn: conn.execute("SELECT nothing FROM nowhere"))
    assert await texts(db) == ["committed", "meanwhile"]


async def test_several_reads_in_one_hop_on_an_in_memory_database() -> None:
    db = SqliteDatabase(":memory:")
    try:
        await db.execute("CREATE TABLE t (x INTEGER)")
        await db.execute("INSERT INTO t VALUES (7)")
        assert await db.read(lambda conn: conn.execute("SELECT x FROM t").fetchall()[0][0]) == 7
        with pytest.raises(StorageUnavailable):
            await db.read(lambda conn: conn.execute("SELECT nothing FROM nowhere"))
    finally:
        await db.aclose()
