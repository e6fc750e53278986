"""Parsing the receipt routes' inputs: listing filters, receipt ids, ``If-Match`` versions, download names.

Filters arrive as strings and are validated by the core's ``ReceiptQuery`` model, so a bad value is a 422
problem naming the field, never a 400 or a 500.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from pydantic import ValidationError

from receiptcore.domain.ids import is_id
from receiptcore.domain.policy import Principal
from receiptcore.domain.queries import ReceiptQuery, SortKey
from receiptcore.domain.receipt import ReceiptStatus
from receiptcore.domain.users import RECEIPTS_READ_ANY
from receiptcore.entrypoints.http.deps import container_of
from receiptcore.entrypoints.http.errors import from_pydantic
from receiptcore.errors import NotFound, PermissionDenied, ValidationFailed, VersionConflict
from receiptcore.settings import Settings

# Every parameter with a pattern says in ``description`` what it accepts: that sentence is the OpenAPI
# description and the "expected ..." of a 422 for a bad value (param_errors).
_Text = Annotated[
    str | None,
    QueryParameter(required=False, max_length=512, description="the next_cursor of the previous page"),
]
# a canonical UUID, as ``is_id`` wants it (the pattern documents it; ``is_id`` still decides)
ID_PATTERN = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
ID_DESCRIPTION = "a user id: a UUID such as 01900000-0000-7000-8000-000000000000"
_Id = Annotated[
    str | None, QueryParameter(required=False, max_length=36, pattern=ID_PATTERN, description=ID_DESCRIPTION)
]


def _filter(max_length: int, pattern: str | None = None, enum: list[str] | None = None, about: str = "") -> Any:
    # An empty value means "no filter" (what an HTML form sends); the pattern and enum say so too, so that the
    # document tells clients (and the fuzzer) what ReceiptQuery accepts.
    extra = {"enum": ["", *enum]} if enum else None
    return QueryParameter(
        required=False, max_length=max_length, pattern=pattern, schema_extra=extra, description=about or None
    )


_DATE = r"^(\d{4}-\d{2}-\d{2})?$"
_AMOUNT = r"^(-?\d{1,12}(\.\d{1,4})?)?$"
_Q = Annotated[str | None, _filter(200, about="words to find in merchant, items and text, at most 200 characters")]
_Date = Annotated[str | None, _filter(10, _DATE, about="a date as YYYY-MM-DD, e.g. 2026-01-31 (empty: no filter)")]
_Amount = Annotated[
    str | None, _filter(18, _AMOUNT, about="an amount such as 12.50 (up to 4 decimals; empty: no filter)")
]
_Status = Annotated[str | None, _filter(20, enum=[s.value for s in ReceiptStatus])]
_Label = Annotated[str | None, _filter(64, about="a label of at most 64 characters")]
_Merchant = Annotated[
    str | None, _filter(500, about="a merchant name, matched exactly but case-insensitively, at most 500 characters")
]
_MerchantId = Annotated[
    str | None,
    QueryParameter(
        required=False,
        max_length=36,
        pattern=ID_PATTERN,
        description="a merchant id (a UUID): its receipts under any of its known spellings",
    ),
]
_Sort = Annotated[str | None, _filter(20, enum=[k.value for k in SortKey])]
_Limit = Annotated[str | None, _filter(3, r"^\d{0,3}$", about="a whole number from 1 to 500 (default 50)")]


async def provide_receipt_query(
    principal: NamedDependency[Principal],
    state: State,
    *,
    q: _Q = None,
    date_from: _Date = None,
    date_to: _Date = None,
    min_total: _Amount = None,
    max_total: _Amount = None,
    status: _Status = None,
    category: _Label = None,
    tag: _Label = None,
    merchant: _Merchant = None,
    merchant_id: _MerchantId = None,
    owner_id: _Id = None,
    sort: _Sort = None,
    limit: _Limit = None,
    cursor: _Text = None,
) -> ReceiptQuery:
    """The listing filters of ``/api/receipts``, ``/export`` and ``/api/stats`` as a validated ReceiptQuery.

    ``owner_id`` narrows to one owner and needs ``receipts:read:any`` (others only ever see their own).
    ``merchant`` is one name; ``merchant_id`` a directory entry, resolved to its owner and spellings.
    """
    raw: dict[str, Any] = {
        "q": q,
        "date_from": date_from,
        "date_to": date_to,
        "min_total": min_total,
        "max_total": max_total,
        "status": status,
        "category": category,
        "tag": tag,
        "merchant": (merchant,) if merchant else None,
        "owner_id": owner_id,
        "sort": sort,
        "limit": limit,
        "cursor": cursor,
    }
    given = {k: v for k, v in raw.items() if v is not None and v != ""}
    if "owner_id" in given:
        if not principal.can(RECEIPTS_READ_ANY):
            raise PermissionDenied("filtering by owner_id needs the permission 'receipts:read:any'")
        if not is_id(given["owner_id"]):
            raise ValidationFailed("owner_id must be a user id", errors=[{"field": "owner_id", "message": "not an id"}])
    if merchant_id:
        if "merchant" in given:
            raise ValidationFailed(
                "give merchant or merchant_id, not both", errors=[{"field": "merchant_id", "message": "with merchant"}]
            )
        if not is_id(merchant_id):
            raise ValidationFailed(
                "merchant_id must be a merchant id", errors=[{"field": "merchant_id", "message": "not an id"}]
            )
    try:
        query = ReceiptQuery.model_validate(given)
    except ValidationError as exc:
        raise from_pydantic(exc, "invalid receipt filter") from None
    if merchant_id:
        query = await container_of(state).merchant_service().receipt_query(principal, query, merchant_id)
    if query.min_total is not None and not query.min_total.is_finite():
        raise ValidationFailed("min_total must be a number", errors=[{"field": "min_total", "message": "not finite"}])
    if query.max_total is not None and not query.max_total.is_finite():
        raise ValidationFailed("max_total must be a number", errors=[{"field": "max_total", "message": "not finite"}])
    return query


def receipt_id(value: str) -> str:
    """The path id if it could be a receipt id; anything else is simply not found."""
    if not is_id(value):
        raise NotFound("no such receipt")
    return value


def receipt_location(settings: Settings, rid: str) -> str:
    """Where a receipt lives (absolute behind a gateway when ``public_url`` is set)."""
    path = f"/api/receipts/{rid}"
    return settings.public_url.rstrip("/") + path if settings.public_url else path


_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


def parse_if_match(header: str | None) -> tuple[bool, int | None]:
    """``(present, version)`` from an ``If-Match`` header; ``*`` is present without a version.

    Raises VersionConflict (412) for a value that cannot be one of our ETags: it cannot match.
    """
    if header is None:
        return False, None
    if header.strip() == "*":
        return True, None
    match = _ETAG.match(header)
    if match is None:
        raise VersionConflict("If-Match does not match the receipt's current version")
    return True, int(match.group(1))


def etag(version: int) -> str:
    """The strong ETag of a receipt version."""
    return f'"{version}"'


_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "application/pdf": ".pdf"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str | None, rid: str, media_type: str) -> str:
    """A download name safe in any header and file system: ASCII stem of the uploaded name plus the extension of
    the sniffed type (never the client's own extension)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = _UNSAFE.sub("_", stem).strip("._-")[:100]
    return (stem or f"receipt-{rid}") + _EXTENSIONS.get(media_type, ".bin")


def content_disposition(filename: str) -> str:
    """An ``attachment`` Content-Disposition for an already safe ASCII name."""
    return f'attachment; filename="{filename}"'
