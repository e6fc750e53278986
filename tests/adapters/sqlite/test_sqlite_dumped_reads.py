"""``SqliteReceiptStore.get_dumped`` (ports.DumpedReceiptReader) is ``get(...).model_dump(mode="json")`` for every
stored receipt, inside the caller's scope, including rows written before a field existed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.receipt_store import SqliteReceiptStore
from receiptcore.domain.policy import Scope
from receiptcore.domain.receipt import Receipt
from receiptcore.errors import NotFound
from tests.factories import make_receipt
from tests.support.receipt_strategies import receipts


async def _dump_and_get(tmp: Path, receipt: Receipt) -> tuple[object, object]:
    db = SqliteDatabase(":memory:")  # (a file per example would spend the test's time on fsync)
    store = SqliteReceiptStore(db, tmp / "files")
    try:
        await store.add(receipt, b"content")
        scope = Scope.only(receipt.owner_id)
        return await store.get_dumped(receipt.id, scope), (await store.get(receipt.id, scope)).model_dump(mode="json")
    finally:
        await db.aclose()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(receipts())
def test_the_stored_dump_is_the_dump_of_the_stored_receipt(tmp_path: Path, receipt: Receipt) -> None:
    receipt = receipt.model_copy(update={"source": receipt.source.model_copy(update={"sha256": "cd" * 32, "size": 7})})
    dumped, expected = asyncio.run(_dump_and_get(tmp_path, receipt))
    assert dumped == expected
    assert json.dumps(dumped) == json.dumps(expected)  # the same types too (an int is not a float here)


async def test_a_row_from_before_a_field_existed_reads_as_get_gives_it(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "r.sqlite3")
    store = SqliteReceiptStore(db, tmp_path / "files")
    receipt, content = make_receipt()
    await store.add(receipt, content)
    old = json.loads(receipt.model_dump_json())
    del old["queued_at"]  # as a row written before the field was added: validation fills its default
    await db.execute("UPDATE receipts SET data = ? WHERE id = ?", (json.dumps(old), receipt.id))
    scope = Scope.only(receipt.owner_id)
    try:
        dumped = await store.get_dumped(receipt.id, scope)
        assert dumped == (await store.get(receipt.id, scope)).model_dump(mode="json")
        assert dumped["queued_at"] is None
    finally:
        await db.aclose()


async def test_another_owners_receipt_is_not_found(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "r.sqlite3")
    store = SqliteReceiptStore(db, tmp_path / "files")
    receipt, content = make_receipt()
    await store.add(receipt, content)
    try:
        with pytest.raises(NotFound):
            await store.get_dumped(receipt.id, Scope.only("someone-else"))
        with pytest.raises(NotFound):
            await store.get_dumped("0b5d8f4e-2a4c-4c55-9d87-4e5b8d1c2f30", Scope.everyone())
    finally:
        await db.aclose()
