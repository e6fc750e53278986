"""Backup and restore of the embedded profile: a consistent snapshot while the server runs, verified on restore.

A backup is a directory:

```
DEST/receiptcore.sqlite3   the database, copied with SQLite's online backup API (a point-in-time snapshot that
                           never blocks the server for long and includes what is still in the WAL)
DEST/files/ab/abcd...      every receipt file the snapshot references (content-addressed, so immutable)
DEST/keys/, other files    signing keys, the LLM spend ledger, ... (everything else in the data dir)
DEST/manifest.json         format version, time, receiptcore version, every file's SHA-256 and size, and the
                           row count of every table of the snapshot
```

Why files after the database: receipt files are written before their row commits and removed only when no row
references them, so every file a snapshot references exists at that moment; a file deleted *after* the snapshot
(its receipt was deleted meanwhile) makes the backup take a fresh snapshot (``SNAPSHOT_ATTEMPTS``). Files of
uploads that commit after the snapshot are simply not part of it.

Restore checks everything before it touches the target: every file's SHA-256 and size against the manifest,
``PRAGMA integrity_check`` and each table's row count. It builds the new data dir beside the target and moves it
into place at the end; a non-empty target is refused unless ``force``, and even then it is moved aside
(``<target>.replaced-<time>``), never deleted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from receiptcore import __version__
from receiptcore.errors import ConfigurationError, ReceiptcoreError

FORMAT = "receiptcore-backup/1"
MANIFEST = "manifest.json"
DATABASE = "receiptcore.sqlite3"
FILES = "files"
SNAPSHOT_ATTEMPTS = 3
_SKIPPED = {DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm", f"{DATABASE}-journal", FILES}
_CHUNK = 1024 * 1024


class BackupError(ReceiptcoreError):
    """A backup could not be made or a restore could not be verified; nothing was changed."""

    code = "backup-failed"


@dataclass(frozen=True, slots=True)
class BackupReport:
    """What a backup or restore handled: receipt files, other files, rows per table, bytes."""

    path: Path
    receipt_files: int
    other_files: int
    rows: dict[str, int]
    total_bytes: int

    def summary(self) -> str:
        """One line for the operator."""
        receipts = self.rows.get("receipts", 0)
        users = self.rows.get("users", 0)
        return (
            f"{receipts} receipts, {users} users, {self.receipt_files} receipt files, {self.other_files} other "
            f"files, {self.total_bytes / 1e6:.1f} MB"
        )


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _empty_or_absent(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def _row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [
        row[0]
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    ]
    # table names come from sqlite_master itself, quoted: never user input
    return {name: int(conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]) for name in sorted(names)}  # noqa: S608


def _snapshot(source: Path, target: Path) -> None:
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            # small steps with pauses: the server's writers get the lock between pages
            src.backup(dst, pages=256, sleep=0.005)
            # a self-contained file (no -wal beside it) so that its SHA-256 says everything; the server turns
            # WAL on again when it opens the restored file
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _referenced_files(database: Path) -> list[str]:
    conn = sqlite3.connect(database)
    try:
        has_receipts = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'receipts'").fetchone()
        if not has_receipts:
            return []
        return sorted({row[0] for row in conn.execute("SELECT sha256 FROM receipts")})
    finally:
        conn.close()


def _copy(source: Path, target: Path) -> tuple[str, int]:
    """Copy a file, hashing what is written; returns (sha256, size)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    shutil.copymode(source, target)
    return digest.hexdigest(), size


def _snapshot_with_files(data_dir: Path, dest: Path) -> dict[str, dict[str, object]] | None:
    """The database snapshot and every receipt file it references; None when one vanished meanwhile."""
    for leftover in (dest / DATABASE, dest / FILES):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        elif leftover.exists():
            leftover.unlink()
    _snapshot(data_dir / DATABASE, dest / DATABASE)
    copied: dict[str, dict[str, object]] = {}
    for sha in _referenced_files(dest / DATABASE):
        relative = f"{FILES}/{sha[:2]}/{sha}"
        source = data_dir / relative
        if not source.is_file():
            return None  # its receipt was deleted after the snapshot: take a fresh one
        digest, size = _copy(source, dest / relative)
        copied[relative] = {"sha256": digest, "size": size}
    return copied


def backup(data_dir: Path, dest: Path) -> BackupReport:
    """Write a verified snapshot of ``data_dir`` to the new or empty directory ``dest``.

    Raises:
        BackupError: no database in ``data_dir``, ``dest`` not empty, or files kept vanishing under the server.
    """
    database = data_dir / DATABASE
    if not database.is_file():
        raise BackupError(f"no receiptcore database in data dir {data_dir.resolve()}")
    if not _empty_or_absent(dest):
        raise BackupError(f"{dest} is not empty: back up into a new or empty directory")
    dest.mkdir(parents=True, exist_ok=True)
    for _attempt in range(SNAPSHOT_ATTEMPTS):
        manifest_files = _snapshot_with_files(data_dir, dest)
        if manifest_files is not None:
            break
    else:
        raise BackupError("receipt files kept disappearing while the backup ran (many deletions?); try again")
    receipt_files = len(manifest_files)
    for entry in sorted(data_dir.rglob("*")):
        relative_path = entry.relative_to(data_dir)
        if relative_path.parts[0] in _SKIPPED or not entry.is_file() or entry.suffix in {".lock", ".tmp"}:
            continue
        digest, size = _copy(entry, dest / relative_path)
        manifest_files[relative_path.as_posix()] = {"sha256": digest, "size": size}
    conn = sqlite3.connect(dest / DATABASE)
    try:
        rows = _row_counts(conn)
    finally:
        conn.close()
    db_digest, db_size = sha256_of(dest / DATABASE), (dest / DATABASE).stat().st_size
    manifest = {
        "format": FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "receiptcore_version": __version__,
        "source": str(data_dir.resolve()),
        "database": {"path": DATABASE, "sha256": db_digest, "size": db_size},
        "rows": rows,
        "files": manifest_files,
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    total = db_size + sum(int(str(f["size"])) for f in manifest_files.values())
    return BackupReport(dest, receipt_files, len(manifest_files) - receipt_files, rows, total)


def _load_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(f"{source} is not a receiptcore backup: no {MANIFEST}") from exc
    except (ValueError, OSError) as exc:
        raise BackupError(f"{source / MANIFEST} cannot be read: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{source} is not a {FORMAT} backup")
    return manifest


def verify(source: Path) -> BackupReport:
    """Check a backup: the database's and every file's SHA-256 and size, integrity, row counts.

    Raises:
        BackupError: naming the first thing that does not match.
    """
    manifest = _load_manifest(source)
    database = manifest.get("database")
    files = manifest.get("files")
    rows = manifest.get("rows")
    if not isinstance(database, dict) or not isinstance(files, dict) or not isinstance(rows, dict):
        raise BackupError(f"{source / MANIFEST} is incomplete")
    entries = {str(database.get("path", DATABASE)): database, **files}
    total = 0
    for relative, expected in entries.items():
        path = source / relative
        if ".." in Path(relative).parts or Path(relative).is_absolute():
            raise BackupError(f"the manifest names a path outside the backup: {relative}")
        if not path.is_file():
            raise BackupError(f"the backup is missing {relative}")
        size = path.stat().st_size
        if size != expected.get("size") or sha256_of(path) != expected.get("sha256"):
            raise BackupError(f"{relative} does not match its SHA-256 in the manifest: the backup is damaged")
        total += size
    conn = sqlite3.connect(f"file:{source / DATABASE}?mode=ro", uri=True)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()
        if check is None or check[0] != "ok":
            raise BackupError(f"the backed-up database fails its integrity check: {check}")
        counted = _row_counts(conn)
    finally:
        conn.close()
    if counted != rows:
        raise BackupError(f"row counts differ from the manifest: {counted} != {rows}")
    receipt_files = sum(1 for name in files if name.startswith(f"{FILES}/"))
    return BackupReport(source, receipt_files, len(files) - receipt_files, counted, total)


def _copy_verified(source: Path, target: Path, sha256: str) -> None:
    digest, _ = _copy(source, target)
    if digest != sha256:
        raise BackupError(f"{source.name} changed while it was restored; nothing was replaced")


def restore(source: Path, data_dir: Path, *, force: bool = False) -> tuple[BackupReport, Path | None]:
    """Verify the backup ``source``, then make it the data dir ``data_dir``.

    Returns the report and, with ``force`` over a non-empty data dir, where the previous one was moved.

    Raises:
        BackupError: the backup does not verify. ConfigurationError: ``data_dir`` is not empty and no ``force``.
    """
    report = verify(source)
    if not _empty_or_absent(data_dir) and not force:
        raise ConfigurationError(
            f"data dir {data_dir.resolve()} is not empty: restore into a new one, or pass --force to move it aside"
        )
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}.restore-", dir=data_dir.parent))
    try:
        manifest = _load_manifest(source)
        names = [DATABASE, *manifest["files"]]
        for relative in names:
            expected = manifest["database"] if relative == DATABASE else manifest["files"][relative]
            _copy_verified(source / relative, staging / relative, str(expected["sha256"]))
        keys = staging / "keys"
        if keys.is_dir():
            keys.chmod(0o700)
        moved_aside: Path | None = None
        if data_dir.exists():
            if _empty_or_absent(data_dir):
                data_dir.rmdir()
            else:
                stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
                moved_aside = data_dir.with_name(f"{data_dir.name}.replaced-{stamp}")
                data_dir.rename(moved_aside)
        staging.rename(data_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report, moved_aside
