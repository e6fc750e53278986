"""Spending summaries of the SQLite receipt store (``ReceiptStore.summarize``): SQL GROUP BY over integer amounts.

Totals by month, category and (owner, merchant), per currency, and the number of receipts per owner and
merchant, all inside the query's filters and the caller's scope (``receipt_sql.filter_clause``).
"""

from __future__ import annotations

import builtins
from collections import defaultdict

from receiptcore.adapters.receipt_queries import MISSING_MERCHANT, units_to_decimal
from receiptcore.adapters.sqlite import receipt_sql as sql
from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import (
    MISSING_CATEGORY,
    MerchantReceipts,
    ReceiptQuery,
    SpendingBucket,
    SpendingSummary,
)


async def summarize(db: SqliteDatabase, query: ReceiptQuery, scope: Scope) -> SpendingSummary:
    """The summary of ``query``'s receipts inside ``scope`` (the database is migrated)."""
    where, params = sql.filter_clause(query, scope)
    count_row = await db.fetchone(f"SELECT COUNT(*) FROM receipts WHERE {where}", params)  # noqa: S608
    # bucket -> (label, owner, GROUP BY, extra condition)
    groupings = {
        "month": (
            "substr(purchase_date, 1, 7)",
            "NULL",
            "substr(purchase_date, 1, 7)",
            "purchase_date IS NOT NULL",
        ),
        "category": ("COALESCE(category, ?)", "NULL", "category", "1"),
        "merchant": ("COALESCE(MIN(merchant_name), ?)", "owner_id", "owner_id, merchant_key", "1"),
    }
    buckets: dict[str, builtins.list[SpendingBucket]] = defaultdict(builtins.list)
    for name, (label, owner, group, extra) in groupings.items():
        label_params = {"category": [MISSING_CATEGORY], "merchant": [MISSING_MERCHANT]}.get(name, [])
        rows = await db.fetchall(
            f"SELECT {label}, currency, SUM(total_units), COUNT(*), {owner} FROM receipts"  # noqa: S608
            f" WHERE {where} AND total_units IS NOT NULL AND {extra} GROUP BY {group}, currency",
            [*label_params, *params],
        )
        buckets[name] = sorted(
            (
                SpendingBucket(
                    key=row[0], currency=row[1], total=units_to_decimal(row[2]), count=row[3], owner_id=row[4]
                )
                for row in rows
            ),
            key=lambda b: (b.key, b.owner_id or "", b.currency or ""),
        )
    rows = await db.fetchall(
        "SELECT COALESCE(MIN(merchant_name), ?), owner_id, COUNT(*) FROM receipts"  # noqa: S608
        f" WHERE {where} GROUP BY owner_id, merchant_key",
        [MISSING_MERCHANT, *params],
    )
    receipts = [MerchantReceipts(key=row[0], owner_id=row[1], count=row[2]) for row in rows]
    return SpendingSummary(
        by_month=buckets["month"],
        by_category=buckets["category"],
        by_merchant=buckets["merchant"],
        merchant_receipts=sorted(receipts, key=lambda m: (m.key, m.owner_id)),
        receipt_count=count_row[0] if count_row else 0,
    )
