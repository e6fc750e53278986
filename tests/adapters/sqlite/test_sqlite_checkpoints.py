"""WAL checkpoints on a thread of their own (``checkpoints.Checkpointer``): the writer's automatic checkpoint is
only a far backstop, yet the WAL stays near its bound across many writes; a failing checkpoint is logged once and
retried; closing leaves no thread and no WAL behind; in-memory databases and other writers of the file still work."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from receiptcore.adapters.sqlite.checkpoints import Checkpointer, connect, wal_pages
from receiptcore.adapters.sqlite.database import SqliteDatabase
from tests.adapters.sqlite.conftest import NOTES_DDL

BOUND = 64
TEXT = "x" * 9000  # three pages a row at the default page size


def checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "receiptcore-sqlite-checkpoint"]


async def notes(path: Path | str, **kwargs: float) -> SqliteDatabase:
    db = SqliteDatabase(path, wal_pages=BOUND, checkpoint_poll_s=0.005, **kwargs)  # type: ignore[arg-type]
    db.register_migration("notes_v1", NOTES_DDL)
    await db.migrate()
    return db


async def test_the_wal_stays_near_its_bound_across_many_writes(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    db = await notes(path)
    try:
        async with db.transaction() as writer, writer.execute("PRAGMA wal_autocheckpoint") as cursor:
            autocheckpoint = await cursor.fetchone()
        assert autocheckpoint is not None
        assert autocheckpoint[0] == 10 * BOUND
        largest = 0
        for _ in range(600):  # ~1,800 pages: without the thread the WAL would reach the backstop, 640
            await db.execute("INSERT INTO notes (text) VALUES (?)", (TEXT,))
            largest = max(largest, wal_pages(f"{path}-wal", 4096))
            await asyncio.sleep(0.001)  # ~3 MB/s written: the bound is not meant for a writer outrunning the poll
        assert 0 < largest < 5 * BOUND  # the backstop alone: 10 * BOUND; a loaded machine delays the polls
        row = await db.fetchone("SELECT count(*) FROM notes")
        assert row is not None
        assert row[0] == 600
    finally:
        await db.aclose()


def grown_wal(path: Path, pages: int) -> None:
    """A database file in WAL mode whose WAL holds ``pages`` pages or so, left uncheckpointed."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    for _ in range(pages // 3):
        conn.execute("INSERT INTO notes (text) VALUES (?)", (TEXT,))
    # kept open: the last connection to close would checkpoint the WAL itself
    grown_wal.keep = conn  # type: ignore[attr-defined]


def wait_for(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.005)


def test_a_failing_checkpoint_is_logged_once_and_retried(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "notes.sqlite3"
    grown_wal(path, 3 * BOUND)
    attempts = []

    def flaky(name: str) -> sqlite3.Connection:
        attempts.append(name)
        if len(attempts) <= 5:
            raise sqlite3.OperationalError("disk I/O error")
        return connect(name)

    checkpointer = Checkpointer(str(path), BOUND, poll_s=0.005, opener=flaky)
    with caplog.at_level(logging.INFO, logger="receiptcore.adapters.sqlite.checkpoints"):
        checkpointer.start()
        wait_for(lambda: checkpointer.checkpoints > 0)
        checkpointer.stop()
    assert len(attempts) > 5
    assert checkpointer.checkpoints > 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "disk I/O error" in warnings[0].getMessage()
    assert any("succeeded again" in r.getMessage() for r in caplog.records)
    check = sqlite3.connect(path)
    busy, log, done = check.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, log, done) == (0, log, log)  # every frame is in the database file
    check.close()
    grown_wal.keep.close()  # type: ignore[attr-defined]


async def test_closing_leaves_no_thread_and_no_wal(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    db = await notes(path)
    for _ in range(100):
        await db.execute("INSERT INTO notes (text) VALUES (?)", (TEXT,))
    assert len(checkpoint_threads()) == 1
    await db.aclose()
    assert checkpoint_threads() == []
    assert wal_pages(f"{path}-wal", 4096) == 0  # checkpointed and removed by the last connection's close
    await db.execute("INSERT INTO notes (text) VALUES ('again')")  # a later use opens a new one
    assert len(checkpoint_threads()) == 1
    await db.aclose()
    await db.aclose()
    assert checkpoint_threads() == []


async def test_an_in_memory_database_has_no_checkpointer() -> None:
    db = await notes(":memory:")
    await db.execute("INSERT INTO notes (text) VALUES ('memory')")
    assert checkpoint_threads() == []
    row = await db.fetchone("SELECT text FROM notes")
    assert row is not None
    assert row[0] == "memory"
    await db.aclose()


async def test_another_writer_of_the_file_still_works(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    db = await notes(path)
    # the CLI's connection: SQLite's own automatic checkpoint
    other = sqlite3.connect(path, isolation_level=None, timeout=5, check_same_thread=False)
    try:
        for _ in range(100):
            await db.execute("INSERT INTO notes (text) VALUES (?)", (TEXT,))
            await asyncio.to_thread(other.execute, "INSERT INTO notes (text) VALUES (?)", (TEXT,))
            await asyncio.sleep(0.001)
        row = await db.fetchone("SELECT count(*) FROM notes")
        assert row is not None
        assert row[0] == 200
        _busy, frames, _copied = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert frames < 5 * BOUND  # without the thread: ~600, below the other writer's autocheckpoint (1,000)
    finally:
        other.close()
        await db.aclose()
