"""Query and result shapes for listing, exporting and summarising receipts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from receiptcore.domain.receipt import ReceiptStatus

T = TypeVar("T")
# the category bucket of receipts without a category in a spending summary
MISSING_CATEGORY = "uncategorized"


class SortKey(StrEnum):
    """Sort orders of a receipt listing; ``-`` prefix means descending."""

    CREATED_DESC = "-created_at"
    CREATED_ASC = "created_at"
    DATE_DESC = "-purchase_date"
    DATE_ASC = "purchase_date"
    TOTAL_DESC = "-total"
    TOTAL_ASC = "total"


# a merchant filter names the canonical name and the known spellings of one directory entry at most
MAX_MERCHANT_NAMES = 201
MerchantFilterName = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]


class ReceiptQuery(BaseModel):
    """Filters of a receipt listing. ``q`` searches merchant name/address, item descriptions and raw text;
    ``merchant`` keeps the receipts whose merchant name is one of these names exactly, case-insensitively (the
    canonical name and known spellings of a directory entry: ``MerchantService.receipt_query``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    q: Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)] | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    min_total: Decimal | None = None
    max_total: Decimal | None = None
    status: ReceiptStatus | None = None
    category: Annotated[str, StringConstraints(max_length=64)] | None = None
    tag: Annotated[str, StringConstraints(max_length=64)] | None = None
    merchant: Annotated[tuple[MerchantFilterName, ...], Field(min_length=1, max_length=MAX_MERCHANT_NAMES)] | None = (
        None
    )
    owner_id: str | None = None
    sort: SortKey = SortKey.CREATED_DESC
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = None


class Page(BaseModel, Generic[T]):
    """One page of results; ``next_cursor`` is opaque and None on the last page."""

    items: list[T]
    next_cursor: str | None = None


class SpendingBucket(BaseModel):
    """Spending in one bucket (a month ``2024-05``, a category or a merchant) and one currency.

    A merchant bucket is one owner's merchant (two people's "Netto" are two merchants, as in the directory):
    ``owner_id`` says whose, ``merchant_id`` the directory entry once grouped by canonical merchant (None for a
    name the directory does not know). Both are None in month and category buckets.
    """

    key: str
    currency: str | None
    total: Decimal
    count: int
    owner_id: str | None = None
    merchant_id: str | None = None


class MerchantReceipts(BaseModel):
    """How many receipts one owner has of one merchant, with a total or without (spend buckets count only those
    with a total); ``merchant_id`` as in ``SpendingBucket``."""

    key: str
    owner_id: str
    count: int
    merchant_id: str | None = None


class SpendingSummary(BaseModel):
    """Spending by month, by category and by merchant (per owner) over the receipts a query selects, and the
    number of receipts per owner and merchant."""

    by_month: list[SpendingBucket] = Field(default_factory=list)
    by_category: list[SpendingBucket] = Field(default_factory=list)
    by_merchant: list[SpendingBucket] = Field(default_factory=list)
    merchant_receipts: list[MerchantReceipts] = Field(default_factory=list)
    receipt_count: int = 0
