"""One SQLite database shared by the embedded adapters (users, receipts): connections, migrations, transactions.

Usage by an adapter::

    db.register_migration("users_v1", USERS_DDL)      # once, in the adapter's constructor
    await db.migrate()                                 # applies pending migrations, idempotently
    async with db.transaction() as conn:               # BEGIN IMMEDIATE ... COMMIT / ROLLBACK
        await conn.execute("INSERT ...", params)
    row = await db.fetchone("SELECT ...", params)      # a single read of committed data

Writes: one connection and one lock. aiosqlite runs every statement of a connection on one thread, so two
coroutines sharing it would otherwise interleave statements inside each other's transactions. The lock makes
each transaction exclusive within the process; across processes, SQLite's own locking plus ``BEGIN IMMEDIATE``
and ``busy_timeout`` serialise writers.

Reads of a database file never take the writer's lock. ``fetchone`` / ``fetchall`` / ``read`` run on reader
connections of their own, each on its own thread (``reader_threads.py``); ``fetchone_point`` and
``fetchall_bounded`` run on the event loop's own read connection, without a thread hop, handing a read that would
wait (or run too long) to a reader thread (``loop_reads.py``). Each read is one statement in autocommit mode, so
it starts a fresh read transaction and sees every transaction committed before it began (read-your-writes: a write
of the same request has committed when ``transaction()`` returned) and never a transaction still open. An
in-memory database exists only in its one connection, so there reads keep sharing the writer's connection and
lock. The connections themselves, WAL mode and the read connections' page cache: ``connections.py``; the WAL's
checkpoints, from a thread of their own instead of inside the writer's commits: ``checkpoints.py``; the
migrations: ``migrations.py``.

Driver errors become ``StorageUnavailable``, except ``sqlite3.IntegrityError``, which is left to the calling
adapter because only it knows which domain error (usually ``Conflict``) a constraint violation means.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from receiptcore.adapters.sqlite.checkpoints import CHECKPOINT_PAGES, POLL_S, Checkpointer
from receiptcore.adapters.sqlite.connections import (
    BUSY_TIMEOUT_MS,
    MEMORY,
    READ_CACHE_KIB,
    in_read,
    in_transaction,
    open_writer,
    query,
)
from receiptcore.adapters.sqlite.loop_reads import LOOP_READ_STEPS, LoopReads
from receiptcore.adapters.sqlite.migrations import Migrations, split_statements
from receiptcore.adapters.sqlite.reader_threads import READERS, ReaderThreads
from receiptcore.errors import StorageUnavailable

# the names adapters, tests and benchmarks import from here
__all__ = [
    "BUSY_TIMEOUT_MS",
    "LOOP_READ_STEPS",
    "MEMORY",
    "READERS",
    "READ_CACHE_KIB",
    "SqliteDatabase",
    "split_statements",
]

T = TypeVar("T")


class SqliteDatabase:
    """A lazily opened SQLite database file (or ``":memory:"``) with migrations and serialised transactions.

    Args:
        path: the database file; its parent directory is created on first use. ``":memory:"`` keeps the
            database in memory for the lifetime of this object (tests).
        readers: at most this many read-only connections (opened on demand) serve ``fetchone`` / ``fetchall``.
        wal_pages: the WAL's bound in pages, kept by a ``Checkpointer`` (file only) polling every
            ``checkpoint_poll_s`` seconds.
    """

    def __init__(
        self,
        path: Path | str,
        readers: int = READERS,
        wal_pages: int = CHECKPOINT_PAGES,
        checkpoint_poll_s: float = POLL_S,
    ) -> None:
        self._memory = str(path) == MEMORY
        self._path = path if self._memory else Path(path)
        self._conn: aiosqlite.Connection | None = None
        self._open_lock = asyncio.Lock()
        self._lock = asyncio.Lock()
        self._readers = ReaderThreads(str(self._path), readers, before_open=self._connection)
        self._loop = LoopReads(str(self._path), before_open=self._connection)
        self._migrations = Migrations()
        self._wal_pages = wal_pages
        self._checkpoint_poll_s = checkpoint_poll_s
        self._checkpointer: Checkpointer | None = None

    @property
    def path(self) -> Path | str:
        """The database file path, or ``":memory:"``."""
        return self._path

    @property
    def in_memory(self) -> bool:
        """Whether this is a ``":memory:"`` database (it exists only in the writer's connection)."""
        return self._memory

    def register_migration(self, name: str, ddl: str) -> None:
        """Register DDL to apply once under ``name`` (e.g. ``"users_v1"``). Registering the same name twice
        with the same DDL is a no-op; with different DDL it is a programming error (ValueError)."""
        self._migrations.register(name, ddl)

    @property
    def migrated(self) -> bool:
        """Whether every registered migration was applied (``migrate`` has nothing to do): a hot read may test
        this instead of awaiting ``migrate``."""
        return self._migrations.done

    async def migrate(self) -> None:
        """Apply every registered migration not yet recorded in ``schema_migrations``, each in its own
        ``BEGIN IMMEDIATE`` transaction, in registration order. Safe to call repeatedly and from several
        processes at once: the write lock makes the second process wait, then it sees the record and skips."""
        if self._migrations.done:  # every call of every adapter comes here first
            return
        await self._migrations.apply(self.transaction)

    async def applied_migrations(self) -> list[str]:
        """Names of the migrations recorded in this database, in the order they were applied."""
        await self.migrate()
        # rowid = insertion order; applied_at has millisecond resolution, and two migrations often share one
        rows = await self.fetchall("SELECT name FROM schema_migrations ORDER BY rowid")
        return [row[0] for row in rows]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """An exclusive write transaction: ``BEGIN IMMEDIATE`` on entry, ``COMMIT`` on a clean exit,
        ``ROLLBACK`` on an exception. Other coroutines of this process wait for it to finish.

        Raises:
            StorageUnavailable: the database cannot be opened, is locked past the busy timeout, or fails.
            sqlite3.IntegrityError: a constraint failed (the calling adapter translates it).
        """
        async with self._lock:
            conn = await self._connection()
            try:
                await conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageUnavailable(f"SQLite database is unavailable: {exc}") from exc
            try:
                yield conn
            except BaseException as exc:
                # A failed rollback is not worth reporting; the original error is.
                with contextlib.suppress(sqlite3.Error):
                    await conn.rollback()
                if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
                    raise StorageUnavailable(f"SQLite statement failed: {exc}") from exc
                raise
            try:
                await conn.commit()
            except sqlite3.Error as exc:
                raise StorageUnavailable(f"SQLite commit failed: {exc}") from exc

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``transaction`` in one hop: ``BEGIN IMMEDIATE``, ``work(connection)``, ``COMMIT`` (``ROLLBACK`` if it
        raises), all in one call on the writer's thread instead of one awaited call per statement. Each hop costs
        the event loop tens of microseconds and, while other threads want the GIL (a login flood's hashing), a
        wait for it; a login's throttle writes were a dozen. ``work`` runs SQL only: no awaits, nothing slow.

        Raises:
            StorageUnavailable: as ``transaction``.
            sqlite3.IntegrityError: a constraint failed (the calling adapter translates it).
        """
        try:
            return await self._on_writer_thread(in_transaction, work)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"SQLite transaction failed: {exc}") from exc

    async def _on_writer_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)`` on the writer connection's thread, holding the writer's lock."""
        async with self._lock:
            conn = await self._connection()
            # aiosqlite runs a function on its connection's thread only through _execute (untyped)
            run: Callable[..., Awaitable[T]] = conn._execute
            return await run(fn, conn._conn, *args)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; returns the number of rows it changed."""
        async with self.transaction() as conn:
            cursor = await conn.execute(sql, params)
            return cursor.rowcount

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """Run one query and return its first row (or None), as committed when the query starts; it does not
        wait for a write transaction in progress (on a database file)."""
        rows = await self._read(sql, params, one=True)
        return rows[0] if rows else None

    async def fetchone_point(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """``fetchone`` for a short point read (a row by primary key or unique index, a single-row counter),
        run on the calling thread without a hop to a reader thread; never waits for a lock there
        (``loop_reads.py``), handing the read to ``fetchone`` instead. Never use it for a query that scans."""
        if self._loop.conn is None and not self._memory:
            await self._loop.open()
        rows = self._loop.read(sql, params, one=True, steps=None)
        if rows is None:  # it would have waited: wait on a reader's thread instead
            return await self.fetchone(sql, params)
        return rows[0] if rows else None

    async def fetchall_bounded(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """``fetchall`` for a read that is usually short but not always (a listing page): run on the calling
        thread, as a point read is, while it takes at most ``LOOP_READ_STEPS`` SQLite VM steps; a read that
        needs more is interrupted there and run again on a reader's thread, as is one that would wait for a lock.
        So the loop spends at most that budget on it, and the common page pays no thread hop."""
        if self._loop.conn is None and not self._memory:
            await self._loop.open()
        rows = self._loop.read(sql, params, one=False, steps=LOOP_READ_STEPS)
        if rows is None:
            return await self.fetchall(sql, params)
        return rows

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run one query and return all its rows, as committed when the query starts (see ``fetchone``)."""
        return await self._read(sql, params, one=False)

    async def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Several reads in one hop and one snapshot: ``work(connection)`` on a reader's thread (on a database
        file) inside one read transaction (``BEGIN`` ... ``ROLLBACK``: it wrote nothing), so every statement sees
        the same committed state, the one of the first statement. For a read whose next statement depends on the
        last one's rows (a text search page: count, boundary, walk), instead of one awaited hop per statement.
        ``work`` runs SQL only (reads: the connection is read-only).

        Raises:
            StorageUnavailable: as ``fetchall``.
        """
        return await self._read_with(in_read, work)

    async def aclose(self) -> None:
        """Close the connections, then stop the checkpointer after its last checkpoint (it leaves no thread).
        Safe to call twice; a later use opens new ones."""
        await self._readers.close()
        self._loop.close()
        async with self._open_lock:
            conn, self._conn = self._conn, None
            checkpointer, self._checkpointer = self._checkpointer, None
            try:
                if conn is not None:
                    await conn.close()
            except sqlite3.Error as exc:
                raise StorageUnavailable(f"closing SQLite failed: {exc}") from exc
            finally:
                if checkpointer is not None:  # joined off the loop: its last checkpoint does I/O
                    await asyncio.to_thread(checkpointer.stop)
            # An in-memory database vanishes with its connection; its migrations must run again.
            if self._memory:
                self._migrations.forget()

    async def _read(self, sql: str, params: Sequence[Any], *, one: bool) -> list[sqlite3.Row]:
        return await self._read_with(query, sql, params, one)

    async def _read_with(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)`` on a reader's thread (in one trip), or on the writer's connection for an
        in-memory database (it exists only there); a driver error is ``StorageUnavailable``."""
        try:
            if self._memory:
                return await self._on_writer_thread(fn, *args)
            return await self._readers.run(fn, *args)
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"SQLite query failed: {exc}") from exc

    async def _connection(self) -> aiosqlite.Connection:
        if self._conn is not None:
            return self._conn
        async with self._open_lock:
            if self._conn is None:
                self._conn = await open_writer(self._path, self._wal_pages)
                if not self._memory:
                    self._checkpointer = Checkpointer(str(self._path), self._wal_pages, self._checkpoint_poll_s)
                    self._checkpointer.start()
            return self._conn
