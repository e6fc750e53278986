"""SqliteReceiptStore.add writes the file durably *before* its write transaction (issue 10: the two fsyncs of an
upload had held SQLite's one write lock, ~8 ms each, which capped uploads near 125/s), and the transaction still
never commits a row whose file is missing or not yet durable: a file removed between the two is written again,
one another upload put at the same name has its directory fsynced under the lock."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from pathlib import Path

import pytest

from receiptcore.adapters.sqlite import receipt_files as files
from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.receipt_store import SqliteReceiptStore
from receiptcore.domain.policy import Scope
from receiptcore.errors import Conflict
from tests.factories import make_receipt

EVERYONE = Scope.everyone()


async def test_a_slow_file_fsync_does_not_hold_the_write_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = SqliteDatabase(tmp_path / "r.sqlite3")
    store = SqliteReceiptStore(db, tmp_path / "files")
    await store.add(*make_receipt())  # migrations and the first-use sweep, before fsync is slowed down
    other_write_done = threading.Event()
    real_fsync = os.fsync
    waited: list[bool] = []

    def slow_fsync(descriptor: int) -> None:
        if not waited:
            # the first fsync of the upload (its file) waits until another write transaction has committed:
            # under the write lock that transaction could not start, and this would time out
            waited.append(other_write_done.wait(timeout=5))
        real_fsync(descriptor)

    monkeypatch.setattr(files.os, "fsync", slow_fsync)

    async def other_write() -> None:
        await asyncio.sleep(0.05)
        await db.execute("CREATE TABLE IF NOT EXISTS beside_the_upload (x INTEGER)")
        other_write_done.set()

    receipt, content = make_receipt()
    try:
        await asyncio.gather(store.add(receipt, content), other_write())
        assert waited == [True]
        assert (await store.open_file(receipt.id, EVERYONE))[1] == content
    finally:
        await db.aclose()


async def test_a_file_removed_before_the_transaction_is_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = SqliteDatabase(tmp_path / "r.sqlite3")
    store = SqliteReceiptStore(db, tmp_path / "files")
    await store.add(*make_receipt())
    real_place = files.place

    def place_then_swept(path: Path, content: bytes) -> files.Placed | None:
        placed = real_place(path, content)
        path.unlink()  # what another process's sweep, or the deletion of the last receipt sharing it, does
        return placed

    monkeypatch.setattr(files, "place", place_then_swept)
    receipt, content = make_receipt()
    try:
        await store.add(receipt, content)
        assert (await store.open_file(receipt.id, EVERYONE))[1] == content
    finally:
        await db.aclose()


async def test_a_temporary_file_swept_while_written_is_written_under_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = SqliteDatabase(tmp_path / "r.sqlite3")
    store = SqliteReceiptStore(db, tmp_path / "files")
    await store.add(*make_receipt())
    real_replace = os.replace
    swept: list[str] = []

    def replace_after_sweep(source: str | Path, target: str | Path) -> None:
        if not swept and str(source).endswith(files.TEMP_SUFFIX):
            swept.append(str(source))
            Path(source).unlink()  # another process's sweep at its start: the rename finds no file
        real_replace(source, target)

    monkeypatch.setattr(files.os, "replace", replace_after_sweep)
    receipt, content = make_receipt()
    try:
        await store.add(receipt, content)
        assert swept
        assert (await store.open_file(receipt.id, EVERYONE))[1] == content
    finally:
        await db.aclose()


def test_place_writes_nothing_over_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "ab" / "ab01"
    placed = files.place(path, b"first")
    assert placed is not None
    placed.close()
    assert files.place(path, b"other") is None
    assert path.read_bytes() == b"first"


def test_settle_keeps_its_own_file_and_fsyncs_the_directory_of_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ab" / "ab01"
    placed = files.place(path, b"bytes")
    fsynced: list[Path] = []
    monkeypatch.setattr(files, "_fsync_directory", fsynced.append)
    assert files.is_placed(path, placed)
    assert files.settle(path, placed, b"bytes") is False
    assert fsynced == []
    # the same bytes put there by another upload (another inode): its rename may not be durable yet
    path.unlink()
    path.write_bytes(b"bytes")
    assert not files.is_placed(path, placed)
    assert files.settle(path, placed, b"bytes") is False
    assert fsynced == [path.parent]
    assert placed is not None
    placed.close()


def test_settle_writes_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "ab" / "ab01"
    placed = files.place(path, b"bytes")
    assert placed is not None
    path.unlink()
    assert files.settle(path, placed, b"bytes") is True
    assert path.read_bytes() == b"bytes"
    placed.close()


def test_a_new_shard_directory_is_made_durable_in_its_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fsynced: list[Path] = []
    monkeypatch.setattr(files, "_fsync_directory", fsynced.append)
    root = tmp_path / "files"
    for name, content in (("ab01", b"x"), ("ab02", b"y")):
        placed = files.place(root / "ab" / name, content)
        assert placed is not None
        placed.close()
    assert fsynced == [root, root / "ab", root / "ab"]


def _open_files_under(directory: Path) -> list[str]:
    """What this process's open descriptors point to below ``directory`` (only a test's own files: other tests
    in the same worker open and close descriptors meanwhile)."""
    targets = []
    for name in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{name}"))
        except OSError:
            continue
    return [target for target in targets if target.startswith(str(directory))]


async def test_adds_leave_no_descriptor_open(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "r.sqlite3")
    store = SqliteReceiptStore(db, tmp_path / "files")
    await store.add(*make_receipt())
    files_dir = tmp_path / "files"

    try:
        for _ in range(10):
            receipt, content = make_receipt()
            await store.add(receipt, content)
            await store.add(receipt, content)  # the same bytes again: the owner's existing receipt
            clash, other = make_receipt(id=receipt.id)
            with pytest.raises(Conflict):
                await store.add(clash, other)  # the insert fails after the file was placed
        assert _open_files_under(files_dir) == []
    finally:
        await db.aclose()


def test_closing_a_placed_file_twice_never_closes_a_descriptor_given_its_number(tmp_path: Path) -> None:
    placed = files.place(tmp_path / "ab" / "ab01", b"bytes")
    assert placed is not None
    placed.close()
    assert not files.is_placed(tmp_path / "ab" / "ab01", placed)  # closed: not trusted as the file any more
    other = os.open(tmp_path / "other", os.O_WRONLY | os.O_CREAT, 0o600)  # most likely the same number
    try:
        placed.close()
        os.fstat(other)  # still open
    finally:
        os.close(other)


async def test_adds_cancelled_anywhere_leave_no_descriptor_open(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "r.sqlite3")
    store = SqliteReceiptStore(db, tmp_path / "files")
    await store.add(*make_receipt())
    files_dir = tmp_path / "files"

    try:
        # cancelled while placing, while waiting for the writer, while the writer runs its transaction, or after
        for delay in (0.0, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.05):
            task = asyncio.ensure_future(store.add(*make_receipt()))
            await asyncio.sleep(delay)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # what the threads were still doing has finished: a placement's thread, then the writer's queue
        for _ in range(100):
            if not _open_files_under(files_dir):
                break
            await asyncio.sleep(0.02)
        await db.write(lambda conn: conn.execute("SELECT 1").fetchone())
        assert _open_files_under(files_dir) == []
    finally:
        await db.aclose()
