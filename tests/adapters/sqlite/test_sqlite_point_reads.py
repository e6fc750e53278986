"""Point reads (``SqliteDatabase.fetchone_point``) run on the event loop's thread, see what the other reads see,
and never make the loop wait for a lock: when SQLite would wait, the read moves to a reader thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.receipt_store import SqliteReceiptStore
from receiptcore.adapters.sqlite.user_repo import SqliteUserRepo
from receiptcore.domain.policy import Scope
from receiptcore.errors import StorageUnavailable
from tests.adapters.sqlite.conftest import NOTES_DDL
from tests.factories import make_receipt, make_token, make_user

ONE = "SELECT text FROM notes WHERE id = ?"


@pytest.fixture
def db(notes_db: SqliteDatabase) -> SqliteDatabase:
    return notes_db


async def text_of(db: SqliteDatabase, note: int) -> str | None:
    row = await db.fetchone_point(ONE, (note,))
    return None if row is None else str(row["text"])


async def test_a_point_read_runs_on_the_loop_thread_without_a_reader_thread(db: SqliteDatabase) -> None:
    before = {thread.ident for thread in threading.enumerate()}
    assert await text_of(db, 1) == "committed"
    assert await text_of(db, 2) is None
    assert db._readers.readers == []  # no reader connection (and so no reader thread) was needed
    assert {thread.ident for thread in threading.enumerate()} <= before


async def test_a_point_read_sees_every_commit_and_no_open_transaction(db: SqliteDatabase) -> None:
    written, release = asyncio.Event(), asyncio.Event()

    async def slow_writer() -> None:
        async with db.transaction() as conn:
            await conn.execute("UPDATE notes SET text = 'uncommitted' WHERE id = 1")
            await conn.execute("INSERT INTO notes (id, text) VALUES (2, 'uncommitted')")
            written.set()
            await release.wait()

    writer = asyncio.create_task(slow_writer())
    await written.wait()
    try:
        assert await text_of(db, 1) == "committed"
        assert await text_of(db, 2) is None
    finally:
        release.set()
        await writer
    assert await text_of(db, 1) == "uncommitted"  # committed when transaction() returned: read-your-writes
    await db.execute("DELETE FROM notes WHERE id = 2")
    assert await text_of(db, 2) is None


async def test_a_point_read_cannot_write(db: SqliteDatabase) -> None:
    with pytest.raises(StorageUnavailable):
        await db.fetchone_point("INSERT INTO notes (id, text) VALUES (9, 'x') RETURNING id")
    assert await text_of(db, 9) is None


class _BusyConnection:
    """Stands for the point connection while SQLite answers SQLITE_BUSY (what a busy timeout of 0 gives)."""

    def __init__(self) -> None:
        self.tries = 0

    def execute(self, *_args: object) -> sqlite3.Cursor:
        self.tries += 1
        busy = sqlite3.OperationalError("database is locked")
        busy.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
        raise busy

    def close(self) -> None:
        pass


async def test_a_point_read_that_would_wait_is_handed_to_a_reader_thread(db: SqliteDatabase) -> None:
    busy = _BusyConnection()
    db._loop.conn = busy  # type: ignore[assignment]
    assert await text_of(db, 1) == "committed"
    assert busy.tries == 1
    assert len(db._readers.readers) == 1  # answered by a reader connection, on its thread


async def test_a_locked_file_never_blocks_the_loop(db: SqliteDatabase, tmp_path: Path) -> None:
    assert await text_of(db, 1) == "committed"  # the point connection is open
    # another process's connection in exclusive locking mode: every other reader gets SQLITE_BUSY until it closes
    other = sqlite3.connect(tmp_path / "notes.sqlite3", isolation_level=None, check_same_thread=False)
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    await db.aclose()  # (an exclusive lock needs the file to itself once; the reads below reopen)
    other.execute("BEGIN EXCLUSIVE")
    other.execute("UPDATE notes SET text = 'changed elsewhere' WHERE id = 1")
    other.execute("COMMIT")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    beat = asyncio.create_task(ticker())
    read = asyncio.create_task(text_of(db, 1))
    await asyncio.sleep(0.3)
    try:
        assert not read.done()  # waiting (off the loop: the busy timeout runs on the connections' threads) ...
        assert ticks >= 20  # ... while the loop kept running
    finally:
        other.close()
    assert await asyncio.wait_for(read, timeout=5) == "changed elsewhere"
    beat.cancel()
    assert await text_of(db, 1) == "changed elsewhere"  # and the next point read is on the loop again


async def test_a_point_connection_in_use_by_another_thread_hands_the_read_over(db: SqliteDatabase) -> None:
    assert await text_of(db, 1) == "committed"
    with db._loop.lock:  # as if another thread's loop were reading through it right now
        assert await text_of(db, 1) == "committed"
    assert len(db._readers.readers) == 1


async def test_an_in_memory_database_reads_points_through_its_one_connection() -> None:
    database = SqliteDatabase(":memory:")
    database.register_migration("notes_v1", NOTES_DDL)
    try:
        await database.migrate()
        await database.execute("INSERT INTO notes (id, text) VALUES (1, 'here')")
        assert await text_of(database, 1) == "here"
    finally:
        await database.aclose()


async def test_every_point_read_of_the_repos_is_an_index_search_never_a_scan(tmp_path: Path) -> None:
    # a point read runs on the event loop: one that scanned a table would stall every request while it ran
    db = SqliteDatabase(tmp_path / "receiptcore.sqlite3")
    users = SqliteUserRepo(db)
    store = SqliteReceiptStore(db, tmp_path / "files")
    user = make_user()
    await users.add_user(user)
    token = make_token(user)
    await users.add_refresh_token(token)
    receipt, content = make_receipt(owner_id=user.id)
    await store.add(receipt, content)
    assert await users.auth_change_count() >= 0  # opens the point connection
    statements: list[str] = []
    assert db._loop.conn is not None
    db._loop.conn.set_trace_callback(statements.append)
    try:
        await users.get_user(user.id)
        await users.find_user_by_email(user.email.upper())
        await users.find_refresh_token(token.token_hash)
        await users.auth_change_count()
        await store.get(receipt.id, Scope.only(user.id))
        await store.get(receipt.id, Scope.everyone())
        await store.get_dumped(receipt.id, Scope.only(user.id))
        db._loop.conn.set_trace_callback(None)
        assert len(statements) == 7  # every one of them was a point read on the loop's connection
        plans = {sql: db._loop.conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall() for sql in statements}
    finally:
        await db.aclose()
    for sql, plan in plans.items():
        details = [row[3] for row in plan]
        assert details, sql
        assert all(detail.startswith("SEARCH") for detail in details), (sql, details)
