"""Reads on the event loop's own thread (``LoopReads``): point reads and bounded listing pages, no thread hop.

Point reads (``SqliteDatabase.fetchone_point``: one row by primary key or unique index, or a single-row counter)
skip the hop to a reader's thread: that hop costs ~30 µs of CPU on a quiet machine (~90 µs under load: the
executor's queue, the thread's wake-up, the GIL hand-offs and the future's callback), the read itself 2-10 µs.
They run on the calling (event loop) thread, on one more read-only connection whose busy timeout is 0, so the
loop never waits for a lock: when SQLite would have to wait (another connection running WAL recovery after a
crash, a connection holding the file in exclusive mode, a journal-mode switch) or another thread is using that
connection, the read is handed to a reader thread as ``fetchone`` would do, which may wait up to the busy timeout
there. What a point read can still cost the loop is the statement itself: a B-tree descent of a few pages plus
the row's overflow pages (a receipt's JSON: 1-2 pages; 50 at most for 200 KB of raw text), from SQLite's page
cache, the OS page cache, or, cold, the disk (a few page reads). Searches and anything that scans stay on the
reader threads.

Bounded reads (``fetchall_bounded``: a listing page) run on that connection too, under a progress handler that
stops the statement after ``LOOP_READ_STEPS`` VM steps; a stopped one runs again, whole, on a reader's thread. A
page on a reader thread cost more CPU than on the loop, not less: the ``sqlite3`` module releases the GIL around
every row step and takes it back for each row (52 times a page), and with the loop busy each of those is a
hand-off (docs/benchmarks.md, "Listing pages ... 2026-12-07 afternoon").
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from receiptcore.adapters.sqlite.connections import READ_CACHE_KIB, interrupted, open_reader, query, would_wait
from receiptcore.errors import StorageUnavailable

# The most SQLite VM steps a bounded read (``fetchall_bounded``) may take on the loop's thread before it is moved to a
# reader's. The benchmark's listing pages at 100,000 receipts take 2,900-13,400 (0.2-0.7 ms); a page whose filters
# match few of the walked rows takes ~150,000-230,000 (~4 ms) and is better off a thread.
LOOP_READ_STEPS = 25_000
STEPS_PER_CHECK = 1_000


class LoopReads:
    """The loop's read-only connection to the database file ``path``, opened on first use.

    Args:
        path: the database file.
        before_open: awaited before the connection is opened (the writer's connection: it creates the file and
            switches it to WAL).
    """

    def __init__(self, path: str, before_open: Callable[[], Awaitable[object]]) -> None:
        self._path = path
        self._before_open = before_open
        # the connection, and the lock of whichever thread is using it (a loop in another thread may share it)
        self.conn: sqlite3.Connection | None = None
        self.lock = threading.Lock()

    async def open(self) -> None:
        """Open the connection unless it is open (or another thread is opening it, or SQLite would wait: the
        reads then go to a reader thread)."""
        await self._before_open()
        if self.conn is not None or not self.lock.acquire(blocking=False):
            return
        try:
            if self.conn is None:
                self.conn = open_reader(self._path, busy_timeout_ms=0, cache_kib=READ_CACHE_KIB)
        except sqlite3.OperationalError as exc:
            if not would_wait(exc):
                raise StorageUnavailable(f"cannot open the SQLite database: {exc}") from exc
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot open the SQLite database: {exc}") from exc
        finally:
            self.lock.release()

    def read(self, sql: str, params: Sequence[Any], *, one: bool, steps: int | None) -> list[sqlite3.Row] | None:
        """The statement's rows, or None when it has to go to a reader thread: the connection is not open
        (``open``) or in use by another thread, SQLite would wait for a lock, or the statement ran past ``steps``
        VM steps (checked every ``STEPS_PER_CHECK``; None: no limit). Plain (not a coroutine): nothing in it
        awaits, and a point read is a few microseconds.

        Raises:
            StorageUnavailable: any other driver error.
        """
        if not self.lock.acquire(blocking=False):
            return None
        try:
            conn = self.conn
            if conn is None:
                return None
            if steps is None:
                return query(conn, sql, params, one)
            budget, checks = steps // STEPS_PER_CHECK, 0

            def past_budget() -> bool:
                nonlocal checks
                checks += 1
                return checks > budget

            conn.set_progress_handler(past_budget, STEPS_PER_CHECK)
            try:
                return query(conn, sql, params, one)
            finally:
                conn.set_progress_handler(None, 0)
        except sqlite3.OperationalError as exc:
            if not (would_wait(exc) or interrupted(exc)):
                raise StorageUnavailable(f"SQLite query failed: {exc}") from exc
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"SQLite query failed: {exc}") from exc
        finally:
            self.lock.release()
        return None

    def close(self) -> None:
        """Close the connection (waiting for a thread reading through it); a later ``open`` opens it again."""
        with self.lock:
            conn, self.conn = self.conn, None
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
