"""SqliteReceiptStore beyond the shared contract (tests/contract): a reopened file keeps everything, files are
content-addressed on disk, a failed insert leaves no file, two connections to one file never share a claim, and an
unwritable files directory is a clean StorageUnavailable."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.receipt_store import SqliteReceiptStore
from receiptcore.domain.policy import Scope
from receiptcore.errors import NotFound, StorageUnavailable
from tests.factories import T0, make_receipt

EVERYONE = Scope.everyone()


def stored_files(root: Path) -> list[str]:
    """Names of the files the store keeps under ``root``."""
    return sorted(p.name for p in root.rglob("*") if p.is_file())


async def test_sqlite_data_survives_reopening(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "r.sqlite3")
    store = SqliteReceiptStore(db, tmp_path / "files")
    receipt, content = make_receipt(total=Decimal("3.30"))
    await store.add(receipt, content)
    await store.remember_idempotency(receipt.owner_id, "k", "fp", [receipt.id])
    await db.aclose()
    reopened_db = SqliteDatabase(tmp_path / "r.sqlite3")
    reopened = SqliteReceiptStore(reopened_db, tmp_path / "files")
    try:
        assert await reopened.get(receipt.id, EVERYONE) == receipt
        assert (await reopened.open_file(receipt.id, EVERYONE))[1] == content
        assert await reopened.recall_idempotency(receipt.owner_id, "k") == ("fp", [receipt.id])
    finally:
        await reopened_db.aclose()


async def test_sqlite_files_are_content_addressed(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "r.sqlite3")
    store = SqliteReceiptStore(db, tmp_path / "files")
    receipt, content = make_receipt()
    await store.add(receipt, content)
    sha = receipt.source.sha256
    assert (tmp_path / "files" / sha[:2] / sha).read_bytes() == content
    assert stored_files(tmp_path / "files") == [sha]
    await db.aclose()


async def test_sqlite_failed_insert_leaves_no_file(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "r.sqlite3")
    store = SqliteReceiptStore(db, tmp_path / "files")
    receipt, content = make_receipt()
    await store.add(receipt, content)
    # same id, other bytes: the row insert fails on the primary key after the file was written
    clash, other = make_receipt(id=receipt.id)
    with pytest.raises(Exception):  # noqa: B017, PT011 - any error is fine, the point is what stays on disk
        await store.add(clash, other)
    assert stored_files(tmp_path / "files") == [receipt.source.sha256]
    await db.aclose()


async def test_sqlite_claims_from_two_connections_never_overlap(tmp_path: Path) -> None:
    # two SqliteDatabase objects on one file behave like two processes: only SQLite's locking separates them
    dbs = [SqliteDatabase(tmp_path / "shared.sqlite3") for _ in range(2)]
    stores = [SqliteReceiptStore(db, tmp_path / "files") for db in dbs]
    for i in range(12):
        receipt, content = make_receipt(created_at=T0 + dt.timedelta(milliseconds=i))
        await stores[i % 2].add(receipt, content)
    lease = T0 + dt.timedelta(minutes=5)
    try:
        results = await asyncio.gather(*(stores[i % 2].claim_pending(f"w{i}", T0, lease) for i in range(30)))
    finally:
        for db in dbs:
            await db.aclose()
    claimed = [r.id for r in results if r is not None]
    assert len(claimed) == len(set(claimed)) == 12


async def test_sqlite_unwritable_files_dir_is_storage_unavailable_and_stores_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the files directory should be")
    db = SqliteDatabase(tmp_path / "r.sqlite3")
    store = SqliteReceiptStore(db, blocker)
    receipt, content = make_receipt()
    try:
        with pytest.raises(StorageUnavailable):
            await store.add(receipt, content)
        with pytest.raises(NotFound):
            await store.get(receipt.id, EVERYONE)
    finally:
        await db.aclose()
