"""The ReceiptStore contract (ports.ReceiptStore docstrings), one test body run against every adapter (the
``store`` fixture in conftest.py); listing, paging and summaries are in test_receipt_store_queries.py."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from receiptcore.domain.ids import new_id
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery
from receiptcore.domain.receipt import Merchant, ReceiptStatus
from receiptcore.errors import NotFound, VersionConflict
from receiptcore.ports import ReceiptStore
from tests.factories import T0, make_receipt

EVERYONE = Scope.everyone()


async def test_add_then_get_returns_the_same_receipt(store: ReceiptStore) -> None:
    receipt, content = make_receipt(merchant=Merchant(name="Café Ümlaut"), total=Decimal("12.3400"))
    stored, created = await store.add(receipt, content)
    assert created
    assert stored == receipt
    assert await store.get(receipt.id, EVERYONE) == receipt
    source, data = await store.open_file(receipt.id, Scope.only(receipt.owner_id))
    assert data == content
    assert source == receipt.source


async def test_same_bytes_from_same_owner_return_the_existing_receipt(store: ReceiptStore) -> None:
    first, content = make_receipt()
    await store.add(first, content)
    again, _ = make_receipt(first.owner_id, content)
    existing, created = await store.add(again, content)
    assert not created
    assert existing.id == first.id
    with pytest.raises(NotFound):
        await store.get(again.id, EVERYONE)


async def test_same_bytes_from_two_owners_share_the_file_safely(store: ReceiptStore) -> None:
    a, content = make_receipt()
    b, _ = make_receipt(None, content)
    assert (await store.add(a, content))[1]
    assert (await store.add(b, content))[1]
    await store.delete(a.id, EVERYONE)
    assert (await store.open_file(b.id, EVERYONE))[1] == content
    await store.delete(b.id, EVERYONE)
    with pytest.raises(NotFound):
        await store.open_file(b.id, EVERYONE)


async def test_foreign_receipts_are_not_found_everywhere(store: ReceiptStore) -> None:
    receipt, content = make_receipt(total=Decimal(5), purchase_date=dt.date(2026, 1, 2))
    await store.add(receipt, content)
    stranger = Scope.only(new_id())
    with pytest.raises(NotFound):
        await store.get(receipt.id, stranger)
    with pytest.raises(NotFound):
        await store.open_file(receipt.id, stranger)
    with pytest.raises(NotFound):
        await store.delete(receipt.id, stranger)
    assert (await store.list(ReceiptQuery(), stranger)).items == []
    assert (await store.list(ReceiptQuery(owner_id=receipt.owner_id), stranger)).items == []
    summary = await store.summarize(ReceiptQuery(), stranger)
    assert summary.receipt_count == 0
    assert summary.by_month == []
    assert await store.get(receipt.id, Scope.only(receipt.owner_id)) == receipt


async def test_missing_receipt_is_not_found(store: ReceiptStore) -> None:
    for call in (store.get, store.open_file, store.delete):
        with pytest.raises(NotFound):
            await call(new_id(), EVERYONE)


async def test_update_is_compare_and_set_on_version(store: ReceiptStore) -> None:
    receipt, content = make_receipt()
    await store.add(receipt, content)
    changed = receipt.model_copy(update={"notes": "lunch"})
    stored = await store.update(changed, expected_version=1)
    assert stored.version == 2
    assert (await store.get(receipt.id, EVERYONE)).notes == "lunch"
    assert (await store.get(receipt.id, EVERYONE)).version == 2
    with pytest.raises(VersionConflict):
        await store.update(changed, expected_version=1)
    missing, _ = make_receipt()
    with pytest.raises(NotFound):
        await store.update(missing, expected_version=1)


async def test_delete_removes_receipt_and_file(store: ReceiptStore, tmp_path: Path) -> None:
    receipt, content = make_receipt()
    await store.add(receipt, content)
    await store.delete(receipt.id, Scope.only(receipt.owner_id))
    with pytest.raises(NotFound):
        await store.get(receipt.id, EVERYONE)
    assert not [p for p in (tmp_path / "files").rglob("*") if p.is_file()]


async def test_claim_takes_oldest_pending_and_leases_it(store: ReceiptStore) -> None:
    old, c1 = make_receipt(created_at=T0)
    new, c2 = make_receipt(created_at=T0 + dt.timedelta(seconds=1))
    await store.add(new, c2)
    await store.add(old, c1)
    lease = T0 + dt.timedelta(minutes=5)
    claimed = await store.claim_pending("w1", T0, lease)
    assert claimed is not None
    assert claimed.id == old.id
    assert claimed.status == ReceiptStatus.PROCESSING
    assert (claimed.lease_owner, claimed.lease_until, claimed.version) == ("w1", lease, 2)
    assert await store.get(old.id, EVERYONE) == claimed
    second = await store.claim_pending("w2", T0, lease)
    assert second is not None
    assert second.id == new.id
    assert await store.claim_pending("w3", T0, lease) is None


async def test_expired_lease_is_reclaimable_and_future_retry_is_not(store: ReceiptStore) -> None:
    receipt, content = make_receipt()
    await store.add(receipt, content)
    await store.claim_pending("w1", T0, T0 + dt.timedelta(seconds=60))
    assert await store.claim_pending("w2", T0 + dt.timedelta(seconds=30), T0 + dt.timedelta(seconds=90)) is None
    again = await store.claim_pending("w2", T0 + dt.timedelta(seconds=61), T0 + dt.timedelta(seconds=200))
    assert again is not None
    assert again.lease_owner == "w2"
    retry = again.model_copy(
        update={"status": ReceiptStatus.PENDING, "next_attempt_at": T0 + dt.timedelta(hours=1), "lease_owner": None}
    )
    await store.update(retry, again.version)
    assert await store.claim_pending("w3", T0 + dt.timedelta(minutes=59), T0 + dt.timedelta(hours=2)) is None
    assert await store.claim_pending("w3", T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=2)) is not None


async def test_finished_receipts_are_never_claimed(store: ReceiptStore) -> None:
    for status in (ReceiptStatus.EXTRACTED, ReceiptStatus.FAILED, ReceiptStatus.CONFIRMED):
        receipt, content = make_receipt(status=status)
        await store.add(receipt, content)
    assert await store.claim_pending("w", T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=2)) is None


async def test_concurrent_claimers_never_share_a_receipt(store: ReceiptStore) -> None:
    ids = set()
    for i in range(15):
        receipt, content = make_receipt(created_at=T0 + dt.timedelta(milliseconds=i))
        await store.add(receipt, content)
        ids.add(receipt.id)
    lease = T0 + dt.timedelta(minutes=5)
    results = await asyncio.gather(*(store.claim_pending(f"w{i}", T0, lease) for i in range(40)))
    claimed = [r.id for r in results if r is not None]
    assert len(claimed) == len(set(claimed)) == 15
    assert set(claimed) == ids


async def test_find_matching_compares_merchant_date_total_currency(store: ReceiptStore) -> None:
    fields = {
        "merchant": Merchant(name="Yam Fresh"),
        "purchase_date": dt.date(2026, 2, 3),
        "total": Decimal("8.35"),
        "currency": "MYR",
    }
    first, c1 = make_receipt(**fields)
    await store.add(first, c1)
    twin, c2 = make_receipt(first.owner_id, **{**fields, "merchant": Merchant(name="YAM FRESH")})
    await store.add(twin, c2)
    other_owner, c3 = make_receipt(**fields)
    await store.add(other_owner, c3)
    different, c4 = make_receipt(first.owner_id, **{**fields, "total": Decimal("8.36")})
    await store.add(different, c4)
    assert await store.find_matching(twin) == [first.id]
    assert await store.find_matching(first) == [twin.id]
    assert await store.find_matching(first.model_copy(update={"currency": None})) == []


async def test_idempotency_records_are_per_owner_and_first_wins(store: ReceiptStore) -> None:
    owner = new_id()
    assert await store.recall_idempotency(owner, "k1") is None
    await store.remember_idempotency(owner, "k1", "fp1", ["a", "b"])
    await store.remember_idempotency(owner, "k1", "fp2", ["c"])
    assert await store.recall_idempotency(owner, "k1") == ("fp1", ["a", "b"])
    assert await store.recall_idempotency(new_id(), "k1") is None
