"""The read-only connections of a database file that run reads on threads of their own (``ReaderThreads``).

Reads (``SqliteDatabase.fetchone`` / ``fetchall`` / ``read``) of a database file go through these connections
(``connections.open_reader``, at most ``READERS`` of them by default, each on its own thread), not through the
writer's lock: in WAL mode a reader proceeds beside a writer, so a receipt read never waits behind a login's
write transaction. SQLite releases the GIL while it steps a statement, so two readers use both cores of a small
machine; more would mostly add page caches.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from receiptcore.adapters.sqlite.connections import BUSY_TIMEOUT_MS, READ_CACHE_KIB, open_reader
from receiptcore.errors import StorageUnavailable

T = TypeVar("T")

# Read connections per database file (see the module docstring).
READERS = 2


class _Reader:
    """A read-only connection to a database file and the one thread that uses it."""

    def __init__(self, conn: sqlite3.Connection, thread: ThreadPoolExecutor) -> None:
        self.conn = conn
        self.thread = thread

    @classmethod
    async def open(cls, path: str) -> _Reader:
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="receiptcore-sqlite-read")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(
                thread, open_reader, path, BUSY_TIMEOUT_MS, READ_CACHE_KIB
            )
        except sqlite3.Error as exc:
            thread.shutdown(wait=False)
            raise StorageUnavailable(f"cannot open the SQLite database: {exc}") from exc
        except BaseException:
            thread.shutdown(wait=False)
            raise
        return cls(conn, thread)

    async def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            await asyncio.get_running_loop().run_in_executor(self.thread, self.conn.close)
        self.thread.shutdown(wait=False)


class ReaderThreads:
    """At most ``size`` read-only connections to ``path``, opened on demand, each used by one thread of its own.

    Args:
        path: the database file.
        size: the most connections (and threads).
        before_open: awaited before a connection is opened (the writer's connection: it creates the file and
            switches it to WAL).
    """

    def __init__(self, path: str, size: int, before_open: Callable[[], Awaitable[object]]) -> None:
        if size < 1:
            raise ValueError("a database needs at least one reader")
        self._path = path
        self._before_open = before_open
        self.readers: list[_Reader] = []  # every open one, in use or idle
        self._idle: list[_Reader] = []
        self._slots = asyncio.Semaphore(size)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)`` on a reader's thread, in one trip (waiting for a free reader)."""
        reader = await self._checkout()
        try:
            return await asyncio.get_running_loop().run_in_executor(reader.thread, fn, reader.conn, *args)
        finally:
            await self._checkin(reader)

    async def close(self) -> None:
        """Close every idle reader now, and each one in use when it is given back. A later ``run`` opens anew."""
        readers, self.readers, self._idle = self.readers, [], []
        for reader in readers:
            await reader.close()

    async def _checkout(self) -> _Reader:
        """An idle reader, or a new one while fewer than ``size`` are in use (else wait for one)."""
        await self._slots.acquire()
        try:
            if self._idle:
                return self._idle.pop()
            await self._before_open()
            reader = await _Reader.open(self._path)
        except BaseException:
            self._slots.release()
            raise
        self.readers.append(reader)
        return reader

    async def _checkin(self, reader: _Reader) -> None:
        # A cancelled caller may leave its statement running on the reader's thread; the next one queues behind it
        # there (one thread per reader), so the reader is never used by two threads at once.
        self._slots.release()
        if reader in self.readers:
            self._idle.append(reader)
        else:  # closed meanwhile
            await reader.close()
