"""What every ReceiptStore adapter computes the same way: sort keys, opaque cursors, search text, index columns.

Sharing this keeps paging identical across adapters (a cursor means the same thing everywhere) and makes the
contract suite's "walks every item exactly once" hold for each of them.

Sort values are plain, order-preserving scalars so SQL columns and Python comparisons agree:
``created_at`` → fixed-width ISO-8601 UTC text, ``purchase_date`` → ``YYYY-MM-DD`` text, ``total`` → integer
ten-thousandths (the model allows 4 decimals). NULLs sort last in both directions.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from receiptcore.domain.queries import ReceiptQuery, SortKey
from receiptcore.domain.receipt import Receipt
from receiptcore.errors import ValidationFailed

SortValue = str | int | None

TOTAL_SCALE = 4  # totals are stored as integer units of 10^-4
_CURSOR_VERSION = 1
# Not a secret: the checksum tells a cursor we issued from one edited by hand or truncated in transit.
_CURSOR_SALT = b"receiptcore-cursor-v1"


def iso_utc(value: dt.datetime) -> str:
    """Fixed-width, lexicographically sortable UTC timestamp text (microseconds, ``Z``)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def total_units(value: Decimal | None) -> int | None:
    """``total`` as integer ten-thousandths (exact: the model allows at most 4 decimals)."""
    return None if value is None else int(value.scaleb(TOTAL_SCALE).to_integral_value())


def bound_units(value: Decimal, *, lower: bool) -> int:
    """A min/max filter bound in ten-thousandths, rounded inward so the filter stays exact."""
    return int(value.scaleb(TOTAL_SCALE).to_integral_value(rounding=ROUND_CEILING if lower else ROUND_FLOOR))


def units_to_decimal(units: int) -> Decimal:
    """Inverse of ``total_units``, normalised to at least two decimals."""
    value = Decimal(units).scaleb(-TOTAL_SCALE)
    return value.quantize(Decimal("0.01")) if value == value.quantize(Decimal("0.01")) else value.normalize()


def sort_column(sort: SortKey) -> str:
    """The field a sort key orders by (``created_at``, ``purchase_date`` or ``total``)."""
    return sort.value.lstrip("-")


def is_descending(sort: SortKey) -> bool:
    """Whether the sort key is descending."""
    return sort.value.startswith("-")


def sort_value(receipt: Receipt, sort: SortKey) -> SortValue:
    """The receipt's value for ``sort`` in the shared scalar representation."""
    column = sort_column(sort)
    if column == "created_at":
        return iso_utc(receipt.created_at)
    if column == "purchase_date":
        return receipt.purchase_date.isoformat() if receipt.purchase_date else None
    return total_units(receipt.total)


@dataclass(frozen=True, slots=True)
class CursorPosition:
    """Where the previous page ended: the sort it was issued for, the last sort value and the last id."""

    sort: SortKey
    value: SortValue
    receipt_id: str


def encode_cursor(position: CursorPosition) -> str:
    """An opaque, url-safe cursor for ``position``."""
    payload = json.dumps(
        [_CURSOR_VERSION, position.sort.value, position.value, position.receipt_id], separators=(",", ":")
    ).encode()
    digest = hashlib.blake2b(payload, digest_size=6, key=_CURSOR_SALT).digest()
    return base64.urlsafe_b64encode(digest + payload).decode().rstrip("=")


def decode_cursor(cursor: str, sort: SortKey) -> CursorPosition:
    """Parse a cursor issued by ``encode_cursor`` for the same sort. Raises ValidationFailed otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        digest, payload = raw[:6], raw[6:]
        intact = hashlib.blake2b(payload, digest_size=6, key=_CURSOR_SALT).digest() == digest
        version, sort_text, value, receipt_id = json.loads(payload) if intact else (None, None, None, None)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed("the cursor is not one this listing issued", errors=[{"field": "cursor"}]) from exc
    expected_type = int if sort_column(sort) == "total" else str
    valid = (
        version == _CURSOR_VERSION
        and sort_text == sort.value
        and (value is None or (isinstance(value, expected_type) and not isinstance(value, bool)))
    )
    if not valid or not isinstance(receipt_id, str):
        raise ValidationFailed("the cursor belongs to another listing or sort order", errors=[{"field": "cursor"}])
    return CursorPosition(sort=sort, value=value, receipt_id=receipt_id)


def comes_after(value: SortValue, receipt_id: str, position: CursorPosition) -> bool:
    """Whether an item with (``value``, ``receipt_id``) comes after ``position`` in its sort (NULLs last)."""
    desc = is_descending(position.sort)
    if position.value is None:
        return value is None and (receipt_id < position.receipt_id if desc else receipt_id > position.receipt_id)
    if value is None:
        return True
    if value != position.value:
        return value < position.value if desc else value > position.value  # type: ignore[operator]
    return receipt_id < position.receipt_id if desc else receipt_id > position.receipt_id


def search_text(receipt: Receipt) -> str:
    """Lower-cased text searched by ``q``: merchant name and address, items, receipt number, notes, raw text."""
    parts = [
        receipt.merchant.name or "",
        receipt.merchant.address or "",
        *(item.description for item in receipt.line_items),
        receipt.receipt_number or "",
        receipt.notes or "",
        receipt.raw_text,
    ]
    return "\n".join(part for part in parts if part).casefold()


def fold(value: str | None) -> str | None:
    """Case-insensitive comparison form of a category, tag or merchant name."""
    return value.strip().casefold() if value is not None else None


def matches(receipt: Receipt, query: ReceiptQuery) -> bool:
    """Whether ``receipt`` passes ``query``'s filters (the in-memory twin of the SQL WHERE clause)."""
    checks = (
        query.owner_id is None or receipt.owner_id == query.owner_id,
        query.status is None or receipt.status == query.status,
        query.category is None or fold(receipt.category) == fold(query.category),
        query.tag is None or fold(query.tag) in {fold(tag) for tag in receipt.tags},
        query.date_from is None or (receipt.purchase_date is not None and receipt.purchase_date >= query.date_from),
        query.date_to is None or (receipt.purchase_date is not None and receipt.purchase_date <= query.date_to),
    )
    if not all(checks):
        return False
    units = total_units(receipt.total)
    if query.min_total is not None and (units is None or units < bound_units(query.min_total, lower=True)):
        return False
    if query.max_total is not None and (units is None or units > bound_units(query.max_total, lower=False)):
        return False
    return not query.q or query.q.casefold() in search_text(receipt)


MISSING_CATEGORY = "uncategorized"
MISSING_MERCHANT = "unknown"
