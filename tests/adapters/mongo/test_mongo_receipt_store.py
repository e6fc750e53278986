"""MongoReceiptStore's own behaviour beyond the shared contract: indexes, money as Decimal128, GridFS files that
never outlive or precede their receipt, concurrent duplicate uploads, the TTL of idempotency records.

Each test runs on a real server when RECEIPTCORE_TEST_MONGO_URL is set (id ``mongo:server``), else on the
in-process emulation (id ``mongo:emulated``, a stand-in); tests that inject faults into the emulation say so.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from decimal import Decimal
from typing import Any

import pytest
from bson.decimal128 import Decimal128
from pymongo.errors import AutoReconnect

from receiptcore.adapters.mongo.receipt_documents import FILES_BUCKET, IDEMPOTENCY, RECEIPTS
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery, SortKey
from receiptcore.errors import Conflict, NotFound, StorageUnavailable
from tests.factories import make_receipt
from tests.support.mongo_fixtures import TTL_SECONDS, MongoHarness, requires_emulation

EVERYONE = Scope.everyone()

EXPECTED_RECEIPT_INDEXES = {
    "_id_": [("_id", 1)],
    "owner_sha256_unique": [("owner_id", 1), ("sha256", 1)],
    "owner_created": [("owner_id", 1), ("created_at", 1), ("_id", 1)],
    "owner_purchase_date": [("owner_id", 1), ("purchase_date", 1), ("_id", 1)],
    "owner_total": [("owner_id", 1), ("total", 1), ("_id", 1)],
    "owner_status_created": [("owner_id", 1), ("status", 1), ("created_at", 1), ("_id", 1)],
    "owner_category_created": [("owner_id", 1), ("category", 1), ("created_at", 1), ("_id", 1)],
    "owner_tags_created": [("owner_id", 1), ("tags", 1), ("created_at", 1), ("_id", 1)],
    "owner_matching": [("owner_id", 1), ("merchant_key", 1), ("purchase_date", 1), ("total", 1)],
    "created": [("created_at", 1), ("_id", 1)],
    "purchase_date": [("purchase_date", 1), ("_id", 1)],
    "total": [("total", 1), ("_id", 1)],
    "claim_queue": [("status", 1), ("created_at", 1), ("_id", 1)],
}


async def _indexes(harness: MongoHarness, collection: str) -> dict[str, dict[str, Any]]:
    info = await harness.database[collection].index_information()
    return {
        name: {**spec, "key": [(field, int(direction)) for field, direction in spec["key"]]}
        for name, spec in info.items()
    }


async def test_every_index_exists_after_first_use(harness: MongoHarness) -> None:
    await harness.store.list(ReceiptQuery(), EVERYONE)
    receipts = await _indexes(harness, RECEIPTS)
    assert {name: spec["key"] for name, spec in receipts.items()} == EXPECTED_RECEIPT_INDEXES
    assert receipts["owner_sha256_unique"].get("unique") is True
    idempotency = await _indexes(harness, IDEMPOTENCY)
    assert idempotency["owner_key_unique"]["key"] == [("owner_id", 1), ("key", 1)]
    assert idempotency["owner_key_unique"].get("unique") is True
    assert idempotency["created_ttl"]["key"] == [("created_at", 1)]
    assert idempotency["created_ttl"]["expireAfterSeconds"] == TTL_SECONDS
    chunks = await _indexes(harness, f"{FILES_BUCKET}.chunks")
    assert chunks["files_id_1_n_1"]["key"] == [("files_id", 1), ("n", 1)]
    assert chunks["files_id_1_n_1"].get("unique") is True


async def test_creating_indexes_again_is_a_no_op_and_a_changed_ttl_is_applied(harness: MongoHarness) -> None:
    await harness.store.create_indexes()
    await harness.store.create_indexes()
    restarted = harness.new_store(ttl_seconds=600)
    await restarted.create_indexes()
    assert (await _indexes(harness, IDEMPOTENCY))["created_ttl"]["expireAfterSeconds"] == 600
    assert set(await _indexes(harness, RECEIPTS)) == set(EXPECTED_RECEIPT_INDEXES)


async def test_money_is_decimal128_and_sorts_numerically_not_as_text(harness: MongoHarness) -> None:
    owner = make_receipt()[0].owner_id
    totals = ["9.99", "10.00", "100.5", "0.0001", "-2.50"]
    for total in totals:
        receipt, content = make_receipt(owner, total=Decimal(total))
        await harness.store.add(receipt, content)
    raw = await harness.database[RECEIPTS].find_one({"owner_id": owner, "receipt.total": "100.5"})
    assert raw is not None
    assert isinstance(raw["total"], Decimal128)
    assert raw["total"].to_decimal() == Decimal("100.5")
    page = await harness.store.list(ReceiptQuery(sort=SortKey.TOTAL_ASC), Scope.only(owner))
    assert [r.total for r in page.items] == sorted(Decimal(t) for t in totals)
    assert [str(r.total) for r in page.items] == ["-2.50", "0.0001", "9.99", "10.00", "100.5"]


async def test_deleting_a_receipt_removes_its_gridfs_file_and_chunks(harness: MongoHarness) -> None:
    receipt, content = make_receipt(content=os.urandom(5000))
    await harness.store.add(receipt, content)
    assert (await harness.stored_files())[0] == 1
    assert (await harness.store.open_file(receipt.id, EVERYONE))[1] == content
    await harness.store.delete(receipt.id, EVERYONE)
    assert await harness.stored_files() == (0, 0)


async def test_a_failed_receipt_insert_leaves_no_file(harness: MongoHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    async def lost_connection(*args: Any, **kwargs: Any) -> Any:
        raise AutoReconnect("connection closed")

    receipt, content = make_receipt(content=os.urandom(3000))
    monkeypatch.setattr(harness.store._receipts, "insert_one", lost_connection)
    with pytest.raises(StorageUnavailable):
        await harness.store.add(receipt, content)
    monkeypatch.undo()
    assert await harness.stored_files() == (0, 0)
    with pytest.raises(NotFound):
        await harness.store.get(receipt.id, EVERYONE)


async def test_an_insert_whose_reply_was_lost_keeps_receipt_and_file(
    harness: MongoHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    insert = harness.store._receipts.insert_one

    async def landed_but_reply_lost(document: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        await insert(document)
        raise AutoReconnect("connection closed before the reply")

    receipt, content = make_receipt()
    monkeypatch.setattr(harness.store._receipts, "insert_one", landed_but_reply_lost)
    stored, created = await harness.store.add(receipt, content)
    monkeypatch.undo()
    assert created
    assert stored == receipt
    assert (await harness.store.open_file(receipt.id, EVERYONE))[1] == content


@requires_emulation
async def test_emulated_upload_failing_between_chunks_leaves_no_chunks_and_no_receipt(harness: MongoHarness) -> None:
    receipt, content = make_receipt(content=os.urandom(4 * 1024 + 10))  # 5 chunks of the emulated 1 KiB
    harness.database[f"{FILES_BUCKET}.chunks"].fail_next("insert_one", AutoReconnect("reset"), after_calls=2)
    with pytest.raises(StorageUnavailable):
        await harness.store.add(receipt, content)
    assert await harness.stored_files() == (0, 0)
    assert await harness.database[RECEIPTS].count_documents({}) == 0


async def test_concurrent_uploads_of_the_same_bytes_by_one_owner_store_one_receipt(harness: MongoHarness) -> None:
    first, content = make_receipt(content=os.urandom(2048))
    others = [make_receipt(first.owner_id, content)[0] for _ in range(5)]
    results = await asyncio.gather(*(harness.store.add(r, content) for r in [first, *others]))
    created = [stored for stored, was_created in results if was_created]
    assert len(created) == 1
    assert {stored.id for stored, _ in results} == {created[0].id}
    assert (await harness.stored_files())[0] == 1


async def test_reusing_an_id_is_a_conflict_and_leaves_no_extra_file(harness: MongoHarness) -> None:
    receipt, content = make_receipt()
    await harness.store.add(receipt, content)
    clash, other = make_receipt(id=receipt.id)
    with pytest.raises(Conflict):
        await harness.store.add(clash, other)
    assert (await harness.stored_files())[0] == 1
    assert (await harness.store.open_file(receipt.id, EVERYONE))[1] == content


async def test_idempotency_records_carry_a_date_for_the_ttl_index(harness: MongoHarness) -> None:
    await harness.store.remember_idempotency("owner", "key", "fp", ["r1"])
    record = await harness.database[IDEMPOTENCY].find_one({"owner_id": "owner", "key": "key"})
    assert record is not None
    assert isinstance(record["created_at"], dt.datetime)
    assert abs(record["created_at"] - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


@requires_emulation
async def test_emulated_ttl_index_forgets_old_idempotency_records(harness: MongoHarness) -> None:
    await harness.store.remember_idempotency("owner", "key", "fp", ["r1"])
    client = harness.database.client
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=TTL_SECONDS + 1)
    client.clock = lambda: later
    assert await harness.store.recall_idempotency("owner", "key") is None


async def test_receipts_round_trip_microseconds_and_dotted_provenance_keys(harness: MongoHarness) -> None:
    from receiptcore.domain.receipt import FieldSource

    created = dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
    receipt, content = make_receipt(
        created_at=created, provenance={"taxes.0": FieldSource(confidence=0.5, text="VAT 20%")}
    )
    await harness.store.add(receipt, content)
    assert await harness.store.get(receipt.id, EVERYONE) == receipt


async def test_a_receipt_deleted_while_its_file_is_opened_is_not_found(
    harness: MongoHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    receipt, content = make_receipt()
    await harness.store.add(receipt, content)
    open_stream = harness.store._files.open_download_stream

    async def deleted_meanwhile(file_id: Any, *args: Any, **kwargs: Any) -> Any:
        await harness.store.delete(receipt.id, EVERYONE)
        return await open_stream(file_id, *args, **kwargs)

    monkeypatch.setattr(harness.store._files, "open_download_stream", deleted_meanwhile)
    with pytest.raises(NotFound):
        await harness.store.open_file(receipt.id, EVERYONE)


async def test_a_receipt_whose_gridfs_file_vanished_is_storage_unavailable_not_a_crash(harness: MongoHarness) -> None:
    receipt, content = make_receipt()
    await harness.store.add(receipt, content)
    raw = await harness.database[RECEIPTS].find_one({"_id": receipt.id})
    assert raw is not None
    await harness.files.delete(raw["file_id"])
    with pytest.raises(StorageUnavailable, match="missing from GridFS"):
        await harness.store.open_file(receipt.id, EVERYONE)
