"""``SqliteReceiptStats``: queue and status figures of the SQLite receipt table, for monitoring."""

from __future__ import annotations

import datetime as dt

from receiptcore.adapters.sqlite import receipt_sql as sql
from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.domain.receipt import ReceiptStatus
from receiptcore.ports import ReceiptCounts, ReceiptStats


class SqliteReceiptStats(ReceiptStats):
    """Counts receipts by status and finds the oldest pending one (two aggregate queries, no rows loaded).

    Args:
        db: the shared SQLite database (the receipt schema is registered here too, so a scrape of a fresh
            data dir finds an empty table instead of none).
    """

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.register_migration("receipts_v1", sql.SCHEMA_V1)

    async def receipt_stats(self) -> ReceiptCounts:
        """Receipts by status, how many are pending and since when the oldest waits."""
        await self._db.migrate()
        rows = await self._db.fetchall("SELECT status, COUNT(*) FROM receipts GROUP BY status")
        by_status = {ReceiptStatus(row[0]): int(row[1]) for row in rows}
        oldest = await self._db.fetchone("SELECT MIN(created_at) FROM receipts WHERE status = 'pending'")
        oldest_at = dt.datetime.fromisoformat(oldest[0]) if oldest is not None and oldest[0] else None
        return ReceiptCounts(
            by_status=by_status, pending=by_status.get(ReceiptStatus.PENDING, 0), oldest_pending_at=oldest_at
        )
