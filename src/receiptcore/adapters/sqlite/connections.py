"""The SQLite connections of ``SqliteDatabase`` and the work each runs on its own thread.

Three kinds, all to one file (``database.py`` says who uses which):

- the writer (``open_writer``): an aiosqlite connection, WAL mode, ``synchronous = NORMAL``, foreign keys on, a
  ``busy_timeout`` of ``BUSY_TIMEOUT_MS``; ``BEGIN``/``COMMIT`` are ours (``isolation_level=None``); its
  automatic checkpoint is only a backstop, ``checkpoints.py`` checkpoints from a thread of its own;
- readers (``open_reader``): plain ``sqlite3`` connections with ``PRAGMA query_only``, in autocommit mode, so every
  statement is its own read transaction and sees every commit made before it began, and never an open one;
  a page cache of ``READ_CACHE_KIB`` each (SQLite's default is 2,000 KiB). A listing page reads ~150 pages (its
  index walk, 51 rows and their overflow pages): the four filtered listings of the benchmark need ~700 between
  them, so with the default cache every page came back through the OS (a ``pread`` and a copy each, and a
  WAL-index lookup), and a page's statement cost ~650 µs of CPU instead of ~270 µs on the 100,000-receipt store.
  The cost is memory: at most ``READ_CACHE_KIB`` per reader, only as pages are read;
- the loop's reader: one more reader, with a busy timeout of 0 (``loop_reads.py``).

``query``, ``in_read`` and ``in_transaction`` are what runs on a connection's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from receiptcore.adapters.sqlite.checkpoints import BACKSTOP_PAGES, CHECKPOINT_PAGES
from receiptcore.errors import StorageUnavailable

T = TypeVar("T")

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 5000
WAL_RETRY_PAUSE_S = 0.02
# Page cache of each read connection, the loop's included (see the module docstring).
READ_CACHE_KIB = 8192


async def open_writer(path: Path | str, wal_pages: int = CHECKPOINT_PAGES) -> aiosqlite.Connection:
    """The writer's connection to ``path`` (its directory created first), or to a new in-memory database.

    On a file the writer checkpoints automatically only past ``BACKSTOP_PAGES / CHECKPOINT_PAGES`` times
    ``wal_pages`` (a ``Checkpointer`` keeps the WAL near ``wal_pages``), and a WAL that starts over is cut back to
    ``wal_pages`` pages (``journal_size_limit``), so the ``-wal`` file's size says how far it has grown since.

    Raises:
        StorageUnavailable: the directory cannot be created or the database cannot be opened.
    """
    memory = str(path) == MEMORY
    try:
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageUnavailable(f"cannot create the SQLite directory: {exc}") from exc
    conn: aiosqlite.Connection | None = None
    try:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves instead of the driver's implicit ones.
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA foreign_keys = ON")
        if not memory:
            await enable_wal(conn)
            # NORMAL is durable across application crashes in WAL mode and much faster than FULL.
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute(f"PRAGMA wal_autocheckpoint = {wal_pages * (BACKSTOP_PAGES // CHECKPOINT_PAGES)}")
            async with conn.execute("PRAGMA page_size") as cursor:
                row = await cursor.fetchone()
            page_size = int(row[0]) if row is not None else 4096
            await conn.execute(f"PRAGMA journal_size_limit = {wal_pages * page_size}")
    except sqlite3.Error as exc:
        if conn is not None:
            await conn.close()
        raise StorageUnavailable(f"cannot open the SQLite database: {exc}") from exc
    return conn


async def enable_wal(conn: aiosqlite.Connection) -> None:
    """Switch the file to WAL mode, waiting (up to the busy timeout) while another connection holds a lock.

    The switch needs an exclusive lock, and SQLite answers "database is locked" at once instead of calling the
    busy handler when another connection is creating the same fresh file, so two instances opening a new data
    dir together would otherwise fail. WAL is persistent in the file: once set, later opens skip the switch.
    """
    deadline = asyncio.get_running_loop().time() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            async with conn.execute("PRAGMA journal_mode") as cursor:
                row = await cursor.fetchone()
            if row is not None and str(row[0]).lower() == "wal":
                return
            await conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(WAL_RETRY_PAUSE_S)


def open_reader(path: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS, cache_kib: int | None = None) -> sqlite3.Connection:
    """A read-only connection to the database file ``path`` (usable from any one thread at a time)."""
    # isolation_level=None: autocommit, so every SELECT is its own read transaction and sees the latest commit
    conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        conn.execute("PRAGMA query_only = 1")
        if cache_kib is not None:
            conn.execute(f"PRAGMA cache_size = -{cache_kib}")  # negative: KiB, not pages
    except BaseException:
        conn.close()
        raise
    return conn


def would_wait(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED (and their extended codes): the statement would have had to wait."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def interrupted(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_INTERRUPT: a progress handler stopped the statement (``fetchall_bounded``'s budget)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return bool(code == sqlite3.SQLITE_INTERRUPT)
    return "interrupted" in str(exc)


def query(conn: sqlite3.Connection, sql: str, params: Sequence[Any], one: bool) -> list[sqlite3.Row]:
    """The rows of one statement (only the first when ``one``)."""
    cursor = conn.execute(sql, params)
    try:
        if one:
            row = cursor.fetchone()
            return [] if row is None else [row]
        return cursor.fetchall()
    finally:
        cursor.close()  # resets the statement: the read transaction ends here, not at the next read


def in_read(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """``SqliteDatabase.read`` on the reader's thread: one read transaction, ended however ``work`` ends."""
    conn.execute("BEGIN")
    try:
        return work(conn)
    finally:
        with contextlib.suppress(sqlite3.Error):  # nothing was written; an error of work's is the one to report
            conn.execute("ROLLBACK")


def in_transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """``SqliteDatabase.write`` on the writer's thread."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
    except BaseException:
        with contextlib.suppress(sqlite3.Error):  # the original error is the one worth reporting
            conn.rollback()
        raise
    conn.commit()
    return result
