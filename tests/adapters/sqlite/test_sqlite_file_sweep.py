"""SqliteReceiptStore after a crash (issue 9, hole 6): the leftovers of interrupted writes are swept on first use,
what receipts reference is kept, and ``check_writable`` tells a full disk without naming paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.receipt_store import SqliteReceiptStore
from receiptcore.domain.policy import Scope
from receiptcore.errors import StorageUnavailable
from tests.factories import make_receipt


async def test_first_use_sweeps_temp_and_unreferenced_files_and_keeps_referenced_ones(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "db.sqlite3")
    files = tmp_path / "files"
    kept, content = make_receipt()
    first = SqliteReceiptStore(db, files)
    await first.add(kept, content)
    shard = files / "ab"
    shard.mkdir(parents=True, exist_ok=True)
    temp = shard / f".ab{'0' * 62}.dead.tmp"
    unreferenced = shard / f"ab{'1' * 62}"
    temp.write_bytes(b"half")
    unreferenced.write_bytes(b"never committed")
    restarted = SqliteReceiptStore(db, files)
    another, more = make_receipt()
    await restarted.add(another, more)  # the first write after a start sweeps first
    assert not temp.exists()
    assert not unreferenced.exists()
    for receipt, data in ((kept, content), (another, more)):
        assert (await restarted.open_file(receipt.id, Scope.everyone()))[1] == data
    await db.aclose()


async def test_check_writable_refuses_a_full_disk_without_naming_paths(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "db.sqlite3")
    full = SqliteReceiptStore(db, tmp_path / "files", min_free_bytes=2**62)
    with pytest.raises(StorageUnavailable) as raised:
        await full.check_writable()
    assert str(tmp_path) not in raised.value.detail
    await SqliteReceiptStore(db, tmp_path / "files").check_writable()  # room enough: no error
    await db.aclose()
