"""The ReceiptStats contract (ports.ReceiptStats docstrings: the figures /metrics reports), one test body run
against every adapter beside the store it reads (``RECEIPT_STATS`` in conftest.py)."""

from __future__ import annotations

import datetime as dt

from receiptcore.domain.receipt import ReceiptStatus
from tests.contract.conftest import StoreWithStats
from tests.factories import T0, make_receipt


def _nonzero(by_status: dict[ReceiptStatus, int]) -> dict[ReceiptStatus, int]:
    return {status: count for status, count in by_status.items() if count}


async def test_an_empty_store_has_no_queue(store_with_stats: StoreWithStats) -> None:
    counts = await store_with_stats.stats.receipt_stats()
    assert _nonzero(counts.by_status) == {}  # statuses without receipts may be absent
    assert counts.pending == 0
    assert counts.oldest_pending_at is None


async def test_receipts_are_counted_by_status_and_the_oldest_pending_one_is_found(
    store_with_stats: StoreWithStats,
) -> None:
    statuses = [
        (ReceiptStatus.EXTRACTED, 0),
        (ReceiptStatus.PENDING, 5),
        (ReceiptStatus.PENDING, 3),  # added later, but created earlier: the oldest waiting one
        (ReceiptStatus.FAILED, 1),
        (ReceiptStatus.PENDING, 9),
        (ReceiptStatus.EXTRACTED, 2),
    ]
    for status, minutes in statuses:
        receipt, content = make_receipt(status=status, created_at=T0 + dt.timedelta(minutes=minutes))
        await store_with_stats.store.add(receipt, content)
    counts = await store_with_stats.stats.receipt_stats()
    assert _nonzero(counts.by_status) == {ReceiptStatus.PENDING: 3, ReceiptStatus.EXTRACTED: 2, ReceiptStatus.FAILED: 1}
    assert counts.pending == 3
    assert counts.oldest_pending_at == T0 + dt.timedelta(minutes=3)


async def test_a_claimed_receipt_leaves_the_queue(store_with_stats: StoreWithStats) -> None:
    first, content = make_receipt(created_at=T0)
    await store_with_stats.store.add(first, content)
    second, content = make_receipt(created_at=T0 + dt.timedelta(minutes=1))
    await store_with_stats.store.add(second, content)
    claimed = await store_with_stats.store.claim_pending(
        "worker-1", T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=2)
    )
    assert claimed is not None
    assert claimed.id == first.id
    counts = await store_with_stats.stats.receipt_stats()
    assert counts.pending == 1
    assert _nonzero(counts.by_status) == {ReceiptStatus.PENDING: 1, ReceiptStatus.PROCESSING: 1}
    assert counts.oldest_pending_at == second.created_at
