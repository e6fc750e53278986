"""The local file tree of SqliteReceiptStore: durable writes, the sweep of a crash's leftovers, the space probe.

A file is written as ``.<sha256>.<id>.tmp`` beside its final name, fsynced, renamed into place, and the directory
fsynced: the final name is either absent or complete, and once the directory is fsynced it survives a crash of the
machine. An upload does that *before* its write transaction (``place``), so the fsyncs of concurrent uploads
overlap instead of queueing behind SQLite's one write lock (two fsyncs are ~8 ms on the reference VM, which capped
uploads at ~125/s while they ran under the lock); inside the transaction ``settle`` then checks, with one
``stat``, that the file it placed is still the one at that name (a sweep or the deletion of the last receipt
sharing those bytes may have removed it meanwhile: it is then written again, under the lock). So a row is only
ever committed after its file is durable. Placements run in a thread pool of their own (``place_off_loop``), not
in the loop's default executor, where their fsyncs held the threads the uploads' image inspection runs on.

A crash between the first write and the rename leaves the temporary file behind, and one between the rename and
the commit a complete file no receipt references; ``remove_temp_files`` and ``remove_unreferenced`` delete those
(the store calls them under its write lock; an upload whose file they remove in flight writes it again).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from receiptcore.domain.ids import new_id
from receiptcore.errors import StorageUnavailable

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"
# a disk with less free space than this cannot be trusted with the next upload: the service reports not ready
MIN_FREE_BYTES = 64 * 1024 * 1024
PROBE_CACHE_SECONDS = 5.0
# Files are placed in a pool of their own: a placement is two fsyncs of waiting (~4 ms each on the reference VM,
# far more while the disk is busy), and in the loop's default executor (6 threads on 2 cores) a few slow ones
# held every thread the uploads' image inspection needed. As many as the uploads one instance lets in at once.
PLACING_THREADS = 16
_placer: ThreadPoolExecutor | None = None
_placer_lock = threading.Lock()


class Placed:
    """The file ``place`` renamed into place, still open: while this descriptor is open its inode cannot be freed
    and its number given to another file, so "the name still points to this inode" means "still my file". The
    caller closes it once that check is done under the write lock (no one can remove the file before the commit
    then), or once its transaction is over.

    ``close`` may be called more than once and from two threads (the writer's thread after the check, the upload's
    coroutine when it is cancelled meanwhile): the descriptor is closed exactly once, since a second
    ``os.close`` of its number could close another file that was given that number in between.
    """

    __slots__ = ("_lock", "descriptor", "open")

    def __init__(self, descriptor: int) -> None:
        self.descriptor = descriptor
        self.open = True
        self._lock = threading.Lock()

    def close(self) -> None:
        """Let the inode go (once)."""
        with self._lock:
            if not self.open:
                return
            self.open = False
        os.close(self.descriptor)


def write_atomically(path: Path, content: bytes) -> None:
    """Write ``content`` so that ``path`` is either absent or complete, never half-written, and durable."""
    try:
        _write_durably(path, content).close()
    except OSError as exc:
        raise _cannot_write(path, exc) from exc


def place(path: Path, content: bytes) -> Placed | None:
    """Write ``content`` at ``path`` durably (as ``write_atomically``) before the write transaction that will
    reference it, outside any lock. None when nothing was placed: ``path`` already exists (the same bytes were
    stored before), or a concurrent sweep removed the temporary file while it was written (``settle`` then writes
    the file under the lock). Raises StorageUnavailable when the file cannot be written."""
    try:
        if path.exists():
            return None
        return _write_durably(path, content)
    except FileNotFoundError:
        return None  # the temporary file was swept away before its rename
    except OSError as exc:
        raise _cannot_write(path, exc) from exc


def _placing() -> ThreadPoolExecutor:
    global _placer  # noqa: PLW0603 - one pool per process, made on first use
    with _placer_lock:
        if _placer is None:
            _placer = ThreadPoolExecutor(max_workers=PLACING_THREADS, thread_name_prefix="receiptcore-file")
        return _placer


async def place_off_loop(path: Path, content: bytes) -> Placed | None:
    """``place`` in a thread of the file pool. Cancelled meanwhile, the thread still finishes; its descriptor is
    then closed when it does (the placed file stays unreferenced until the next sweep, as a crash's would)."""
    task = asyncio.get_running_loop().run_in_executor(_placing(), place, path, content)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_close_when_placed)
        raise


def _close_when_placed(task: asyncio.Future[Placed | None]) -> None:
    if not task.cancelled() and task.exception() is None and (placed := task.result()) is not None:
        placed.close()


def is_placed(path: Path, placed: Placed | None) -> bool:
    """Whether the file at ``path`` is still the one ``place`` put there (False for None or any error)."""
    if placed is None or not placed.open:
        return False
    try:
        mine, there = os.fstat(placed.descriptor), os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def settle(path: Path, placed: Placed | None, content: bytes) -> bool:
    """Under the write lock, right before the row referencing ``path`` is inserted: make sure ``path`` holds a
    durable copy of ``content``; True when this call had to write it.

    The file ``place`` put there (still its inode) is durable already: its directory was fsynced after the rename.
    Another file at that name (same bytes, from a concurrent upload or an earlier receipt) gets its directory
    fsynced here, as its writer may still be on the way to that fsync; a missing one is written here.
    """
    if is_placed(path, placed):
        return False
    if not path.exists():
        write_atomically(path, content)
        return True
    try:
        _fsync_directory(path.parent)
    except OSError as exc:
        log.warning("cannot fsync the directory of %s: %s", path, exc)
        raise StorageUnavailable("cannot write the receipt file") from exc
    return False


def _write_durably(path: Path, content: bytes) -> Placed:
    """Temp file, fsync, rename, directory fsync; a new shard directory is made durable in its parent too."""
    parent = path.parent
    if not parent.is_dir():
        parent.mkdir(parents=True, exist_ok=True)
        _fsync_directory(parent.parent)
    temp = path.with_name(f".{path.name}.{new_id()}{TEMP_SUFFIX}")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        try:
            with memoryview(content) as view:
                written = 0
                while written < len(view):
                    written += os.write(descriptor, view[written:])
            os.fsync(descriptor)
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        # make the rename itself durable
        _fsync_directory(parent)
    except BaseException:
        os.close(descriptor)
        raise
    return Placed(descriptor)


def _cannot_write(path: Path, exc: OSError) -> StorageUnavailable:
    # the path and errno go to the log only; clients get a sentence
    log.warning("cannot write receipt file %s: %s", path, exc)
    return StorageUnavailable("cannot write the receipt file")


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_temp_files(root: Path) -> int:
    """Delete every ``.*.tmp`` file in the two-level file tree under ``root``; return how many were removed."""
    removed = 0
    if not root.is_dir():
        return 0
    for temp in [*root.glob(f".*{TEMP_SUFFIX}"), *root.glob(f"*/.*{TEMP_SUFFIX}")]:
        try:
            temp.unlink()
            removed += 1
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot remove the leftover temporary file %s: %s", temp, exc)
    if removed:
        log.info("removed %d temporary file(s) a crash left in %s", removed, root)
    return removed


def remove_unreferenced(root: Path, referenced: set[str]) -> int:
    """Delete every file of the tree whose name (a sha256) no receipt references; return how many.

    A crash after a file's rename but before its transaction committed leaves such a file: complete, but owned by
    no receipt (the upload was never acknowledged)."""
    removed = 0
    if not root.is_dir():
        return 0
    for path in root.glob("??/*"):
        if path.name.startswith(".") or path.name in referenced or not path.is_file():
            continue
        try:
            path.unlink()
            removed += 1
        except OSError as exc:
            log.warning("cannot remove the unreferenced file %s: %s", path, exc)
    if removed:
        log.info("removed %d file(s) no receipt references from %s", removed, root)
    return removed


class SpaceProbe:
    """Whether the file tree can take a new file: writable, with at least ``min_free_bytes`` free.

    Cached for ``PROBE_CACHE_SECONDS``: the readiness probe may be asked many times a second, and one failed
    answer stays true long enough to be honest about a full disk.
    """

    def __init__(self, root: Path, min_free_bytes: int) -> None:
        self._root = root
        self._min_free = min_free_bytes
        self._checked_at = -PROBE_CACHE_SECONDS
        self._problem: str | None = None

    def check(self) -> None:
        """StorageUnavailable with a path-free reason when the tree cannot take a file (details are logged)."""
        now = time.monotonic()
        if now - self._checked_at >= PROBE_CACHE_SECONDS:
            self._problem = self._probe()
            self._checked_at = now
        if self._problem is not None:
            raise StorageUnavailable(self._problem)

    def _probe(self) -> str | None:
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            probe = self._root / f".probe.{new_id()}{TEMP_SUFFIX}"
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, b"ok")
            finally:
                os.close(fd)
                probe.unlink(missing_ok=True)
            free = shutil.disk_usage(self._root).free
        except OSError as exc:
            log.warning("the receipt file tree %s is not writable: %s", self._root, exc)
            return "the receipt file store is not writable"
        if free < self._min_free:
            log.warning("the receipt file tree %s has %d bytes free (needs %d)", self._root, free, self._min_free)
            return "the receipt file store is (nearly) full"
        return None
