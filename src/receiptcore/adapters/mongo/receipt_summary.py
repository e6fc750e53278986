"""The spending summary of the MongoDB receipt store: three ``$group`` aggregations summed by the server.

Totals are Decimal128, so ``$sum`` is exact decimal arithmetic (no float anywhere); the labels follow the other
adapters: the month of the purchase date, the folded category or ``uncategorized``, and per folded merchant name
the smallest spelling of it (as SQL ``MIN()`` picks it) or ``unknown``, per owner; and the receipts per owner and
merchant, with a total or without.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from receiptcore.adapters.mongo.receipt_documents import Filter, combine
from receiptcore.adapters.receipt_queries import MISSING_MERCHANT, total_units, units_to_decimal
from receiptcore.domain.queries import MISSING_CATEGORY, MerchantReceipts, SpendingBucket, SpendingSummary

# bucket name -> (the field grouped by, extra condition)
_GROUPINGS: dict[str, tuple[str, Filter]] = {
    "month": ("purchase_month", {"purchase_month": {"$ne": None}}),
    "category": ("category", {}),
    "merchant": ("merchant_key", {}),
}
# merchants are grouped per owner (two people's "Netto" are two merchants)
_OWNER = {"merchant": {"owner": "$owner_id"}}


async def summarize(receipts: AsyncCollection[Any], where: Filter) -> SpendingSummary:
    """The SpendingSummary of the receipts matching ``where``."""
    count = await receipts.count_documents(where)
    buckets: dict[str, list[SpendingBucket]] = {}
    for name, (field, extra) in _GROUPINGS.items():
        pipeline = [
            {"$match": combine(where, {"total": {"$ne": None}}, extra)},
            {
                "$group": {
                    "_id": {"key": f"${field}", "currency": "$currency", **_OWNER.get(name, {})},
                    "total": {"$sum": "$total"},
                    "count": {"$sum": 1},
                    "name": {"$min": "$merchant_name"},
                }
            },
        ]
        rows = await (await receipts.aggregate(pipeline)).to_list(None)
        buckets[name] = sorted(
            (_bucket(name, row) for row in rows), key=lambda b: (b.key, b.owner_id or "", b.currency or "")
        )
    pipeline = [
        {"$match": where},
        {
            "$group": {
                "_id": {"key": "$merchant_key", "owner": "$owner_id"},
                "count": {"$sum": 1},
                "name": {"$min": "$merchant_name"},
            }
        },
    ]
    rows = await (await receipts.aggregate(pipeline)).to_list(None)
    counts = [
        MerchantReceipts(key=row.get("name") or MISSING_MERCHANT, owner_id=row["_id"]["owner"], count=row["count"])
        for row in rows
    ]
    return SpendingSummary(
        by_month=buckets["month"],
        by_category=buckets["category"],
        by_merchant=buckets["merchant"],
        merchant_receipts=sorted(counts, key=lambda m: (m.key, m.owner_id)),
        receipt_count=count,
    )


def _bucket(name: str, row: dict[str, Any]) -> SpendingBucket:
    group = row["_id"]
    key = group.get("key")
    if name == "category":
        key = key or MISSING_CATEGORY
    elif name == "merchant":
        key = row.get("name") or MISSING_MERCHANT
    total = units_to_decimal(total_units(row["total"].to_decimal()) or 0)
    return SpendingBucket(
        key=key, currency=group.get("currency"), total=total, count=row["count"], owner_id=group.get("owner")
    )
