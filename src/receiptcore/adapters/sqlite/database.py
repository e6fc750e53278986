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

Reads (``fetchone`` / ``fetchall``) of a database file go through their own read-only connections
(``PRAGMA query_only``, at most ``readers`` of them, each on its own thread), not through the writer's lock: in
WAL mode a reader proceeds beside a writer, so a receipt read never waits behind a login's write transaction.
Each read is one statement in autocommit mode, so it starts a fresh read transaction and sees every transaction
committed before it began (read-your-writes: a write of the same request has committed when ``transaction()``
returned) and never a transaction still open. An in-memory database exists only in its one connection, so there
reads keep sharing the writer's connection and lock.

Each read connection keeps a page cache of ``READ_CACHE_KIB`` (SQLite's default is 2,000 KiB). A listing page
reads ~150 pages (its index walk, 51 rows and their overflow pages): the four filtered listings of the benchmark
need ~700 between them, so with the default cache every page came back through the OS (a ``pread`` and a copy
each, and a WAL-index lookup), and a page's statement cost ~650 µs of CPU instead of ~270 µs on the 100,000-
receipt store. The cost is memory: at most ``READ_CACHE_KIB`` per reader, only as pages are read.

Point reads (``fetchone_point``: one row by primary key or unique index, or a single-row counter) skip even that
thread hop: a hop to a reader's thread costs ~30 µs of CPU on a quiet machine (~90 µs under load: the executor's
queue, the thread's wake-up, the GIL hand-offs and the future's callback), the read itself 2-10 µs. They run on
the calling (event loop) thread, on one more read-only connection whose busy timeout is 0, so the loop never
waits for a lock: when SQLite would have to wait (another connection running WAL recovery after a crash, a
connection holding the file in exclusive mode, a journal-mode switch) or another thread is using that
connection, the read is handed to a reader thread as ``fetchone`` would do, which may wait up to the busy
timeout there. What a point read can still cost the loop is the statement itself: a B-tree descent of a few
pages plus the row's overflow pages (a receipt's JSON: 1-2 pages; 50 at most for 200 KB of raw text), from
SQLite's page cache, the OS page cache, or, cold, the disk (a few page reads). Searches and anything that scans
stay on the reader threads.

Bounded reads (``fetchall_bounded``: a listing page) run on that connection too, under a progress handler that
stops the statement after ``LOOP_READ_STEPS`` VM steps; a stopped one runs again, whole, on a reader's thread. A
page on a reader thread cost more CPU than on the loop, not less: the ``sqlite3`` module releases the GIL around
every row step and takes it back for each row (52 times a page), and with the loop busy each of those is a
hand-off (docs/benchmarks.md, "Listing pages ... 2026-12-07 afternoon").

Driver errors become ``StorageUnavailable``, except ``sqlite3.IntegrityError``, which is left to the calling
adapter because only it knows which domain error (usually ``Conflict``) a constraint violation means.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from receiptcore.errors import StorageUnavailable

T = TypeVar("T")

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 5000
WAL_RETRY_PAUSE_S = 0.02
# Read connections per database file: SQLite releases the GIL while it steps a statement, so two readers use both
# cores of a small machine; more would mostly add page caches.
READERS = 2
# Page cache of each read connection, the loop's included (see the module docstring).
READ_CACHE_KIB = 8192
# The most SQLite VM steps a bounded read (``fetchall_bounded``) may take on the loop's thread before it is moved to a
# reader's. The benchmark's listing pages at 100,000 receipts take 2,900-13,400 (0.2-0.7 ms); a page whose filters
# match few of the walked rows takes ~150,000-230,000 (~4 ms) and is better off a thread.
LOOP_READ_STEPS = 25_000
_STEPS_PER_CHECK = 1_000


async def _enable_wal(conn: aiosqlite.Connection) -> None:
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


def split_statements(script: str) -> list[str]:
    """Split a DDL script into complete SQL statements (triggers with inner ``;`` stay whole).

    ``executescript`` would be simpler, but it COMMITs any open transaction first, which would break the
    all-or-nothing application of a migration.
    """
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip().strip(";").strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:80]!r}")
    return statements


class SqliteDatabase:
    """A lazily opened SQLite database file (or ``":memory:"``) with migrations and serialised transactions.

    Args:
        path: the database file; its parent directory is created on first use. ``":memory:"`` keeps the
            database in memory for the lifetime of this object (tests).
        readers: at most this many read-only connections (opened on demand) serve ``fetchone`` / ``fetchall``.
    """

    def __init__(self, path: Path | str, readers: int = READERS) -> None:
        if readers < 1:
            raise ValueError("a database needs at least one reader")
        self._memory = str(path) == MEMORY
        self._path = path if self._memory else Path(path)
        self._conn: aiosqlite.Connection | None = None
        self._open_lock = asyncio.Lock()
        self._lock = asyncio.Lock()
        self._max_readers = readers
        self._readers: list[_Reader] = []
        self._idle: list[_Reader] = []
        self._reader_slots = asyncio.Semaphore(readers)
        self._migrations: dict[str, list[str]] = {}
        self._migrated: set[str] = set()
        self._point: sqlite3.Connection | None = None
        self._point_lock = threading.Lock()

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
        statements = split_statements(ddl)
        existing = self._migrations.get(name)
        if existing is not None and existing != statements:
            raise ValueError(f"migration {name!r} is already registered with different DDL")
        self._migrations[name] = statements

    @property
    def migrated(self) -> bool:
        """Whether every registered migration was applied (``migrate`` has nothing to do): a hot read may test
        this instead of awaiting ``migrate``."""
        return len(self._migrated) == len(self._migrations)

    async def migrate(self) -> None:
        """Apply every registered migration not yet recorded in ``schema_migrations``, each in its own
        ``BEGIN IMMEDIATE`` transaction, in registration order. Safe to call repeatedly and from several
        processes at once: the write lock makes the second process wait, then it sees the record and skips."""
        if self.migrated:  # every call of every adapter comes here first
            return
        pending = [name for name in self._migrations if name not in self._migrated]
        if not pending:
            return
        async with self.transaction() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
        for name in pending:
            async with self.transaction() as conn:
                cursor = await conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?", (name,))
                if await cursor.fetchone() is None:
                    for statement in self._migrations[name]:
                        await conn.execute(statement)
                    await conn.execute(
                        "INSERT INTO schema_migrations (name, applied_at) VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ'))",
                        (name,),
                    )
            self._migrated.add(name)

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
            return await self._on_writer_thread(_in_transaction, work)
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
        run on the calling thread without a hop to a reader thread; never waits for a lock there (see the
        module docstring), handing the read to ``fetchone`` instead. Never use it for a query that scans."""
        if self._point is None:
            await self._open_point()
        rows = self._read_on_loop(sql, params, one=True, budget=None)
        if rows is None:  # it would have waited: wait on a reader's thread instead
            return await self.fetchone(sql, params)
        return rows[0] if rows else None

    async def fetchall_bounded(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """``fetchall`` for a read that is usually short but not always (a listing page): run on the calling
        thread, as a point read is, while it takes at most ``LOOP_READ_STEPS`` SQLite VM steps; a read that
        needs more is interrupted there and run again on a reader's thread, as is one that would wait for a lock.
        So the loop spends at most that budget on it, and the common page pays no thread hop."""
        if self._point is None:
            await self._open_point()
        rows = self._read_on_loop(sql, params, one=False, budget=LOOP_READ_STEPS // _STEPS_PER_CHECK)
        if rows is None:
            return await self.fetchall(sql, params)
        return rows

    async def _open_point(self) -> None:
        """Open the loop's read connection, unless this is an in-memory database (or another thread is opening
        it, or SQLite would wait: the read then goes to a reader thread)."""
        if self._memory:
            return
        await self._connection()  # the writer first: it creates the file and switches it to WAL
        if self._point is not None or not self._point_lock.acquire(blocking=False):
            return
        try:
            if self._point is None:
                self._point = _open_reader(str(self._path), busy_timeout_ms=0, cache_kib=READ_CACHE_KIB)
        except sqlite3.OperationalError as exc:
            if not _would_wait(exc):
                raise StorageUnavailable(f"cannot open the SQLite database: {exc}") from exc
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot open the SQLite database: {exc}") from exc
        finally:
            self._point_lock.release()

    def _read_on_loop(
        self, sql: str, params: Sequence[Any], *, one: bool, budget: int | None
    ) -> list[sqlite3.Row] | None:
        """The statement's rows read through the loop's read connection, or None when it has to go to a reader
        thread: that connection is not open (``_open_point``) or in use by another thread, SQLite would wait for a
        lock, or the statement ran past ``budget`` progress checks (of ``_STEPS_PER_CHECK`` VM steps each; None:
        no limit). Plain (not a coroutine): nothing in it awaits, and a point read is a few microseconds."""
        if not self._point_lock.acquire(blocking=False):
            return None
        try:
            conn = self._point
            if conn is None:
                return None
            if budget is None:
                return _query(conn, sql, params, one)
            checks = 0

            def past_budget() -> bool:
                nonlocal checks
                checks += 1
                return checks > budget

            conn.set_progress_handler(past_budget, _STEPS_PER_CHECK)
            try:
                return _query(conn, sql, params, one)
            finally:
                conn.set_progress_handler(None, 0)
        except sqlite3.OperationalError as exc:
            if not (_would_wait(exc) or _interrupted(exc)):
                raise StorageUnavailable(f"SQLite query failed: {exc}") from exc
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"SQLite query failed: {exc}") from exc
        finally:
            self._point_lock.release()
        return None

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
        return await self._read_with(_in_read, work)

    async def aclose(self) -> None:
        """Close the connections. Safe to call twice; a later use opens new ones."""
        readers, self._readers, self._idle = self._readers, [], []
        for reader in readers:
            await reader.close()
        with self._point_lock:
            point, self._point = self._point, None
            if point is not None:
                with contextlib.suppress(sqlite3.Error):
                    point.close()
        async with self._open_lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                try:
                    await conn.close()
                except sqlite3.Error as exc:
                    raise StorageUnavailable(f"closing SQLite failed: {exc}") from exc
            # An in-memory database vanishes with its connection; its migrations must run again.
            if self._memory:
                self._migrated.clear()

    async def _read(self, sql: str, params: Sequence[Any], *, one: bool) -> list[sqlite3.Row]:
        return await self._read_with(_query, sql, params, one)

    async def _read_with(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)`` on a reader's thread (in one trip), or on the writer's connection for an
        in-memory database (it exists only there); a driver error is ``StorageUnavailable``."""
        try:
            if self._memory:
                return await self._on_writer_thread(fn, *args)
            reader = await self._checkout()
            try:
                return await asyncio.get_running_loop().run_in_executor(reader.thread, fn, reader.conn, *args)
            finally:
                await self._checkin(reader)
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"SQLite query failed: {exc}") from exc

    async def _checkout(self) -> _Reader:
        """An idle reader, or a new one while fewer than ``readers`` are in use (else wait for one)."""
        await self._reader_slots.acquire()
        try:
            if self._idle:
                return self._idle.pop()
            # the writer's connection first: it creates the file and switches it to WAL
            await self._connection()
            reader = await _Reader.open(str(self._path))
        except BaseException:
            self._reader_slots.release()
            raise
        self._readers.append(reader)
        return reader

    async def _checkin(self, reader: _Reader) -> None:
        # A cancelled caller may leave its statement running on the reader's thread; the next one queues behind it
        # there (one thread per reader), so the reader is never used by two threads at once.
        self._reader_slots.release()
        if reader in self._readers:
            self._idle.append(reader)
        else:  # the database was closed meanwhile
            await reader.close()

    async def _connection(self) -> aiosqlite.Connection:
        if self._conn is not None:
            return self._conn
        async with self._open_lock:
            if self._conn is None:
                self._conn = await self._open()
            return self._conn

    async def _open(self) -> aiosqlite.Connection:
        target = str(self._path)
        try:
            if not self._memory:
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot create the SQLite directory: {exc}") from exc
        conn: aiosqlite.Connection | None = None
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves instead of the driver's implicit ones.
            conn = await aiosqlite.connect(target, isolation_level=None)
            conn.row_factory = sqlite3.Row
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await conn.execute("PRAGMA foreign_keys = ON")
            if not self._memory:
                await _enable_wal(conn)
                # NORMAL is durable across application crashes in WAL mode and much faster than FULL.
                await conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            if conn is not None:
                await conn.close()
            raise StorageUnavailable(f"cannot open the SQLite database: {exc}") from exc
        return conn


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
                thread, _open_reader, path, BUSY_TIMEOUT_MS, READ_CACHE_KIB
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


def _open_reader(path: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS, cache_kib: int | None = None) -> sqlite3.Connection:
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


def _would_wait(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED (and their extended codes): the statement would have had to wait."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def _interrupted(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_INTERRUPT: the progress handler stopped the statement (``fetchall_bounded``'s budget)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return bool(code == sqlite3.SQLITE_INTERRUPT)
    return "interrupted" in str(exc)


def _query(conn: sqlite3.Connection, sql: str, params: Sequence[Any], one: bool) -> list[sqlite3.Row]:
    cursor = conn.execute(sql, params)
    try:
        if one:
            row = cursor.fetchone()
            return [] if row is None else [row]
        return cursor.fetchall()
    finally:
        cursor.close()  # resets the statement: the read transaction ends here, not at the next read


def _in_read(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """``SqliteDatabase.read`` on the reader's thread: one read transaction, ended however ``work`` ends."""
    conn.execute("BEGIN")
    try:
        return work(conn)
    finally:
        with contextlib.suppress(sqlite3.Error):  # nothing was written; an error of work's is the one to report
            conn.execute("ROLLBACK")


def _in_transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
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
