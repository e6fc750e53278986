"""``MongoReceiptStats``: queue and status figures of the receipts collection, for monitoring."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from receiptcore.adapters.mongo.connection import translated
from receiptcore.adapters.mongo.receipt_documents import RECEIPTS
from receiptcore.domain.receipt import ReceiptStatus
from receiptcore.ports import ReceiptCounts, ReceiptStats


class MongoReceiptStats(ReceiptStats):
    """Counts receipts by status (one ``$group``) and finds the oldest pending one (the ``claim_queue`` index)."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self._receipts = database[RECEIPTS]

    async def receipt_stats(self) -> ReceiptCounts:
        """Receipts by status, how many are pending and since when the oldest waits."""
        with translated("count receipts"):
            cursor = await self._receipts.aggregate([{"$group": {"_id": "$status", "count": {"$sum": 1}}}])
            rows = await cursor.to_list(None)
            oldest = await self._receipts.find_one(
                {"status": ReceiptStatus.PENDING.value}, projection={"created_at": 1}, sort=[("created_at", 1)]
            )
        by_status = {ReceiptStatus(row["_id"]): int(row["count"]) for row in rows}
        oldest_at = dt.datetime.fromisoformat(oldest["created_at"]) if oldest is not None else None
        return ReceiptCounts(
            by_status=by_status, pending=by_status.get(ReceiptStatus.PENDING, 0), oldest_pending_at=oldest_at
        )
