"""Documents of the MongoDB receipt store: the receipt ↔ document mapping and the filter and sort
builders of listings (the MongoDB twin of ``adapters/sqlite/receipt_sql.py``).

A receipt document holds the whole receipt under ``receipt`` (``Receipt.model_dump(mode="json")``: money as
decimal strings, times as ISO-8601 text) and, beside it, top-level fields derived from it on every write that exist
only to filter, sort, group and enforce uniqueness with indexes. The derived fields use the shared representations
of ``adapters/receipt_queries.py`` where order matters (``created_at`` as fixed-width UTC text keeps microseconds,
which BSON dates would cut to milliseconds; dates as ``YYYY-MM-DD``) and ``Decimal128`` for ``total``, so sorting,
range filters and sums are numeric and exact. The provenance map is stored as a list of ``{"field": ...}`` entries
because its keys (``taxes.0``) contain dots, which MongoDB field names should not.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128
from pymongo import ASCENDING, DESCENDING

from receiptcore.adapters.receipt_queries import (
    CursorPosition,
    SortValue,
    bound_units,
    fold,
    is_descending,
    iso_utc,
    merchant_keys,
    search_text,
    sort_column,
    units_to_decimal,
)
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery, SortKey
from receiptcore.domain.receipt import Receipt, ReceiptStatus

Filter = dict[str, Any]

RECEIPTS = "receipts"
IDEMPOTENCY = "receipt_idempotency"
FILES_BUCKET = "receipt_files"

# Money is at most 18 digits (domain.receipt.Money): a filter bound beyond this lies beyond every stored total, and
# clamping it keeps Decimal128 (34 digits) exact for any bound a client sends.
_BOUND_LIMIT = Decimal(10) ** 18

# The field each sort key orders by; ``created_at`` is never null, the other two may be.
SORT_FIELDS = {"created_at": "created_at", "purchase_date": "purchase_date", "total": "total"}


def decimal128(value: Decimal) -> Decimal128:
    """``value`` as BSON Decimal128 (exact for money: at most 18 digits)."""
    return Decimal128(value)


def to_document(receipt: Receipt, file_id: Any) -> dict[str, Any]:
    """The stored document of ``receipt`` whose original file is the GridFS file ``file_id``."""
    return {"_id": receipt.id, "file_id": file_id, **derived_fields(receipt), "receipt": receipt_data(receipt)}


def receipt_data(receipt: Receipt) -> dict[str, Any]:
    """The ``receipt`` subdocument: the whole receipt, JSON-typed, provenance as a list."""
    data = receipt.model_dump(mode="json")
    data["provenance"] = [{"field": field, **source} for field, source in data["provenance"].items()]
    return data


def derived_fields(receipt: Receipt) -> dict[str, Any]:
    """The top-level index fields of ``receipt`` (everything but ``_id``, ``file_id`` and ``receipt``)."""
    name = (receipt.merchant.name or "").strip()
    return {
        "owner_id": receipt.owner_id,
        "sha256": receipt.source.sha256,
        "status": receipt.status.value,
        "version": receipt.version,
        "created_at": iso_utc(receipt.created_at),
        "purchase_date": receipt.purchase_date.isoformat() if receipt.purchase_date else None,
        "purchase_month": receipt.purchase_date.strftime("%Y-%m") if receipt.purchase_date else None,
        "total": decimal128(receipt.total) if receipt.total is not None else None,
        "currency": receipt.currency,
        "category": fold(receipt.category) or None,
        "merchant_key": fold(name) or None,
        "merchant_name": name or None,
        "tags": sorted({fold(tag) or "" for tag in receipt.tags}),
        "search": search_text(receipt),
        "next_attempt_at": iso_utc(receipt.next_attempt_at) if receipt.next_attempt_at else None,
        "lease_until": iso_utc(receipt.lease_until) if receipt.lease_until else None,
    }


def to_receipt(document: dict[str, Any]) -> Receipt:
    """The receipt stored in ``document``."""
    data = dict(document["receipt"])
    data["provenance"] = {
        entry["field"]: {k: v for k, v in entry.items() if k != "field"} for entry in data["provenance"]
    }
    return Receipt.model_validate(data)


def scope_filter(scope: Scope) -> Filter:
    """The ``owner_id`` restriction of ``scope`` (empty when it reaches every owner)."""
    if scope.owner_ids is None:
        return {}
    return {"owner_id": {"$in": sorted(scope.owner_ids)}}


def list_filter(query: ReceiptQuery, scope: Scope) -> Filter:
    """The filter selecting ``query``'s receipts inside ``scope`` (the twin of ``receipt_queries.matches``)."""
    parts: list[Filter] = [scope_filter(scope)]
    if query.owner_id is not None:
        parts.append({"owner_id": query.owner_id})
    if query.status is not None:
        parts.append({"status": query.status.value})
    if query.category is not None:
        parts.append({"category": fold(query.category)})
    if query.tag is not None:
        parts.append({"tags": fold(query.tag)})
    if query.merchant is not None:
        parts.append({"merchant_key": {"$in": merchant_keys(query)}})
    dates: Filter = {}
    if query.date_from is not None:
        dates["$gte"] = query.date_from.isoformat()
    if query.date_to is not None:
        dates["$lte"] = query.date_to.isoformat()
    if dates:
        parts.append({"purchase_date": dates})
    totals: Filter = {}
    if query.min_total is not None:
        totals["$gte"] = _bound(query.min_total, lower=True)
    if query.max_total is not None:
        totals["$lte"] = _bound(query.max_total, lower=False)
    if totals:
        parts.append({"total": totals})
    if query.q:
        # a substring match over the folded search text, exactly as the SQL LIKE and the memory adapter do; a
        # $text index would match whole stemmed words instead ("ramen" but not "0%" in "100%_spicy")
        parts.append({"search": {"$regex": re.escape(query.q.casefold())}})
    return _all_of(parts)


def claimable_filter(at: str) -> Filter:
    """Receipts a worker may claim at the UTC text time ``at``: pending and due, or processing, lease expired."""
    return {
        "$or": [
            {
                "status": ReceiptStatus.PENDING.value,
                "$or": [{"next_attempt_at": None}, {"next_attempt_at": {"$lte": at}}],
            },
            {"status": ReceiptStatus.PROCESSING.value, "$or": [{"lease_until": None}, {"lease_until": {"$lt": at}}]},
        ]
    }


def sort_spec(sort: SortKey) -> list[tuple[str, int]]:
    """The sort of the non-null part of a listing: the sort field, then ``_id`` the same way."""
    direction = DESCENDING if is_descending(sort) else ASCENDING
    return [(SORT_FIELDS[sort_column(sort)], direction), ("_id", direction)]


def id_sort(sort: SortKey) -> list[tuple[str, int]]:
    """The sort of the null part of a listing (receipts without the sort value): by ``_id`` alone."""
    return [("_id", DESCENDING if is_descending(sort) else ASCENDING)]


def cursor_value(value: SortValue, sort: SortKey) -> Any:
    """A cursor's sort value as stored: text as is, total units as Decimal128."""
    if value is None or sort_column(sort) != "total":
        return value
    return decimal128(units_to_decimal(int(value)))


def after_present(position: CursorPosition) -> Filter:
    """Receipts with a sort value that come after ``position`` (which has a value) in its sort."""
    field = SORT_FIELDS[sort_column(position.sort)]
    beyond = "$lt" if is_descending(position.sort) else "$gt"
    value = cursor_value(position.value, position.sort)
    return {"$or": [{field: {beyond: value}}, {field: value, "_id": {beyond: position.receipt_id}}]}


def after_missing(position: CursorPosition) -> Filter:
    """Receipts without a sort value that come after ``position`` (which has none either) in its sort."""
    beyond = "$lt" if is_descending(position.sort) else "$gt"
    return {"_id": {beyond: position.receipt_id}}


def present(sort: SortKey) -> Filter:
    """Receipts that have the sort field's value."""
    return {SORT_FIELDS[sort_column(sort)]: {"$ne": None}}


def missing(sort: SortKey) -> Filter:
    """Receipts without the sort field's value (null)."""
    return {SORT_FIELDS[sort_column(sort)]: None}


def combine(*parts: Filter) -> Filter:
    """All of ``parts`` (empty ones dropped)."""
    return _all_of(list(parts))


def _all_of(parts: list[Filter]) -> Filter:
    kept = [part for part in parts if part]
    if not kept:
        return {}
    return kept[0] if len(kept) == 1 else {"$and": kept}


def _bound(value: Decimal, *, lower: bool) -> Decimal128:
    # rounded inward to the stored 4 decimals like the SQLite adapter's integer units, then clamped (see above)
    exact = units_to_decimal(bound_units(value, lower=lower))
    return decimal128(max(-_BOUND_LIMIT, min(_BOUND_LIMIT, exact)))
