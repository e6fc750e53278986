"""The local file tree of SqliteReceiptStore: atomic writes, the sweep of a crash's leftovers, the space probe.

A file is written as ``.<sha256>.<id>.tmp`` beside its final name, fsynced, renamed into place, and the directory
fsynced: the final name is either absent or complete. A crash between the first write and the rename leaves the
temporary file behind, and one between the rename and the commit a complete file no receipt references;
``remove_temp_files`` and ``remove_unreferenced`` delete those (the store calls them under its write lock).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from receiptcore.domain.ids import new_id
from receiptcore.errors import StorageUnavailable

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".tmp"
# a disk with less free space than this cannot be trusted with the next upload: the service reports not ready
MIN_FREE_BYTES = 64 * 1024 * 1024
PROBE_CACHE_SECONDS = 5.0


def write_atomically(path: Path, content: bytes) -> None:
    """Write ``content`` so that ``path`` is either absent or complete, never half-written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{new_id()}{TEMP_SUFFIX}")
        try:
            with temp.open("wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
        # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        # the path and errno go to the log only; clients get a sentence
        log.warning("cannot write receipt file %s: %s", path, exc)
        raise StorageUnavailable("cannot write the receipt file") from exc


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
