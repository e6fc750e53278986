"""WAL checkpoints of a database file on a connection and thread of their own (``Checkpointer``), not in a commit.

SQLite checkpoints automatically in the commit that takes the WAL past ``wal_autocheckpoint`` pages, on the
committing connection: with the writer's lock held it copies the WAL's pages back into the database and fsyncs
both, and every write of the process waits (10-86 ms under uploads; docs/benchmarks.md, "Uploads, 2026-12-07
night"). So the writer's automatic checkpoint is moved far out, to ``BACKSTOP_PAGES`` (a safety net only: it
bounds the WAL should this thread fail or be stopped), and this thread checkpoints instead:

- every ``POLL_S`` it reads the ``-wal`` file's size (one ``stat``). The writer's ``journal_size_limit`` is
  ``CHECKPOINT_PAGES`` pages, so each time the WAL starts over from its beginning (the first commit after a
  complete checkpoint) SQLite truncates the file back to that size: a file larger than ``CHECKPOINT_PAGES``
  frames means the WAL has grown past the bound since the last complete checkpoint;
  (Another process's writer, the CLI's, starts the WAL over without cutting it back, so the file can stay large
  for a while: the checkpoints then run every poll, each with little to copy, until this writer starts it over.)
- then ``PRAGMA wal_checkpoint(PASSIVE)``: it copies what no reader still needs, beside the writer (it takes no
  writer lock), so no commit waits for its copies and fsyncs; it answers how many frames the WAL holds;
- when they are ``RESTART_PAGES`` or more, ``RESTART``. The WAL starts over only in a write transaction that
  begins after a checkpoint copied it all, with no reader in the WAL; a writer that commits faster than the
  checkpoints finish, or readers that keep reading older frames, keep that from happening, and passive
  checkpoints alone would let the WAL grow. ``RESTART`` copies what is left and waits up to ``RESTART_BUSY_MS``
  for those readers and for the transaction in progress (new ones wait for it: the only time a commit may wait
  for a checkpoint, and it has little left to copy), so the next commit starts the WAL over;
- a failed checkpoint is logged once (until one succeeds again) and tried again at the next poll;
- on ``stop`` a last ``TRUNCATE`` checkpoint, then the connection is closed (the last connection of the process
  to close also checkpoints and removes the WAL when no other process has the file open).

A checkpoint never loses a committed transaction: it copies committed frames only, and the WAL stays the record
of them until they are in the database file. Other processes on the same file (the CLI) keep their own automatic
checkpoints; SQLite lets one checkpoint run at a time, the others answer busy and are retried.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

# The WAL's bound in pages (SQLite's own automatic checkpoint uses 1,000: ~4 MiB at the default page size).
CHECKPOINT_PAGES = 1000
# The writer's own automatic checkpoint, for when this thread cannot keep the WAL bounded.
BACKSTOP_PAGES = 10 * CHECKPOINT_PAGES
# At this many pages a checkpoint waits for the readers (and the writer) that kept the WAL from starting over.
RESTART_PAGES = 2 * CHECKPOINT_PAGES
POLL_S = 0.1
RESTART_BUSY_MS = 200
_WAL_HEADER = 32
_FRAME_HEADER = 24


def wal_pages(wal_path: str, page_size: int) -> int:
    """The number of frames the ``-wal`` file at ``wal_path`` has room for (0 when there is none)."""
    try:
        size = os.stat(wal_path).st_size
    except FileNotFoundError:
        return 0
    return max(0, size - _WAL_HEADER) // (page_size + _FRAME_HEADER)


def connect(path: str) -> sqlite3.Connection:
    """The checkpointer's own connection to the existing file ``path`` (it reads and writes no rows; ``mode=rw``:
    it never creates a file that was removed)."""
    uri = f"{Path(path).resolve().as_uri()}?mode=rw"
    conn = sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {RESTART_BUSY_MS}")
    except BaseException:
        conn.close()
        raise
    return conn


class Checkpointer:
    """Checkpoints the WAL of the database file ``path`` from a thread of its own (see the module docstring).

    Args:
        path: the database file (already in WAL mode).
        pages: the WAL's bound in pages (``CHECKPOINT_PAGES``).
        poll_s: seconds between two looks at the WAL's size.
        opener: opens the thread's connection (``connect``; tests substitute one that fails).
    """

    def __init__(
        self,
        path: str,
        pages: int = CHECKPOINT_PAGES,
        poll_s: float = POLL_S,
        opener: Callable[[str], sqlite3.Connection] = connect,
    ) -> None:
        self._path = path
        self._wal = f"{path}-wal"
        self._pages = pages
        self._restart_pages = pages * (RESTART_PAGES // CHECKPOINT_PAGES)
        self._poll_s = poll_s
        self._opener = opener
        self._conn: sqlite3.Connection | None = None
        self._page_size = 4096
        self._failing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0  # completed checkpoint statements (tests, benchmarks)

    def start(self) -> None:
        """Start the thread (once; a stopped checkpointer is not started again)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="receiptcore-sqlite-checkpoint", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its last checkpoint and close its connection; blocks until then (call it off
        the event loop)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self._poll_s):
                self._tick()
        finally:
            self._final()

    def _tick(self) -> None:
        try:
            conn = self._connection()
            pages = wal_pages(self._wal, self._page_size)
            if pages < self._pages:
                return
            _busy, frames, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
            if frames >= self._restart_pages:  # it has not started over: wait for the readers, briefly
                conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
            self.checkpoints += 1
        except (sqlite3.Error, OSError) as exc:
            if not self._failing:
                log.warning("WAL checkpoint of %s failed (retried every %.1f s): %s", self._path, self._poll_s, exc)
            self._failing = True
            self._drop()
            return
        if self._failing:
            log.info("WAL checkpoint of %s succeeded again", self._path)
        self._failing = False

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = self._opener(self._path)
            try:
                # fetchall: a statement stepped to its end holds no read transaction (one would pin the WAL)
                row = conn.execute("PRAGMA page_size").fetchall()[0]
            except BaseException:
                conn.close()
                raise
            self._page_size = int(row[0])
            self._conn = conn
        return self._conn

    def _final(self) -> None:
        with contextlib.suppress(sqlite3.Error, OSError):
            self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
