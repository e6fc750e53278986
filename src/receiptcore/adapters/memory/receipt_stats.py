"""``MemoryReceiptStats``: the monitoring figures of a ``MemoryReceiptStore``."""

from __future__ import annotations

from collections import Counter

from receiptcore.adapters.memory.receipt_store import MemoryReceiptStore
from receiptcore.domain.receipt import ReceiptStatus
from receiptcore.ports import ReceiptCounts, ReceiptStats


class MemoryReceiptStats(ReceiptStats):
    """Counts the receipts a memory store holds by status, and finds the oldest pending one."""

    def __init__(self, store: MemoryReceiptStore) -> None:
        self._store = store

    async def receipt_stats(self) -> ReceiptCounts:
        """Receipts by status, how many are pending and since when the oldest waits."""
        receipts = self._store.snapshot()
        by_status = Counter(r.status for r in receipts)
        pending = [r.created_at for r in receipts if r.status is ReceiptStatus.PENDING]
        return ReceiptCounts(
            by_status=dict(by_status), pending=len(pending), oldest_pending_at=min(pending) if pending else None
        )
