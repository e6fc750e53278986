"""The value objects a receipt is made of (DESIGN.md §3): what extractors produce and what people correct.

Money is ``Decimal`` (serialised as decimal strings), currency an ISO-4217 code, times timezone-aware UTC.
``ReceiptData`` holds the fields a document yields and a person may correct; ``ExtractedReceipt`` is an
extractor's output (data + provenance + raw text). The stored aggregate, ``Receipt``, and its transitions live in
``receiptcore.domain.receipt``; the statuses and the allowed transitions in ``receiptcore.domain.lifecycle``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from receiptcore.domain.money import is_currency

Money = Annotated[Decimal, Field(max_digits=18, decimal_places=4, allow_inf_nan=False)]
Rate = Annotated[Decimal, Field(ge=0, le=100, max_digits=9, decimal_places=4, allow_inf_nan=False)]
ShortText = Annotated[str, StringConstraints(max_length=500)]
LongText = Annotated[str, StringConstraints(max_length=5000)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, str_strip_whitespace=True)


class ReceiptType(StrEnum):
    """What kind of purchase the receipt records."""

    GROCERY = "grocery"
    RESTAURANT = "restaurant"
    FUEL = "fuel"
    RETAIL = "retail"
    TRANSPORT = "transport"
    LODGING = "lodging"
    SERVICE = "service"
    PHARMACY = "pharmacy"
    OTHER = "other"


class PaymentMethod(StrEnum):
    """How the receipt was paid."""

    CASH = "cash"
    CARD = "card"
    MOBILE = "mobile"
    VOUCHER = "voucher"
    BANK_TRANSFER = "bank_transfer"
    OTHER = "other"


class Merchant(_Model):
    """Who sold: name as printed, address lines joined with ``, ``, phone and tax id (GST/VAT/ABN...)."""

    name: ShortText | None = None
    address: ShortText | None = None
    phone: Annotated[str, StringConstraints(max_length=64)] | None = None
    tax_id: Annotated[str, StringConstraints(max_length=64)] | None = None


class LineItem(_Model):
    """One purchased line. ``amount`` is the line total as printed (quantity x unit price, after line discounts)."""

    description: ShortText = ""
    quantity: Annotated[Decimal, Field(max_digits=14, decimal_places=4, allow_inf_nan=False)] | None = None
    unit_price: Money | None = None
    amount: Money | None = None
    tax_rate: Rate | None = None
    category: Annotated[str, StringConstraints(max_length=64)] | None = None


class TaxLine(_Model):
    """A tax line: label as printed (``GST 6%``), rate in percent, taxable base, and the tax amount."""

    label: Annotated[str, StringConstraints(max_length=64)] | None = None
    rate: Rate | None = None
    base: Money | None = None
    amount: Money


class Payment(_Model):
    """A payment: method, amount tendered or charged, last four digits of a card."""

    method: PaymentMethod = PaymentMethod.OTHER
    amount: Money | None = None
    card_last4: Annotated[str, StringConstraints(pattern=r"^\d{4}$")] | None = None


class ReceiptWarning(_Model):
    """A named problem found on a receipt (``total_mismatch``, ``low_confidence``, ``possible_duplicate``...)."""

    code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    detail: LongText = ""
    fields: list[Annotated[str, StringConstraints(max_length=64)]] = Field(default_factory=list, max_length=32)


class FieldSource(_Model):
    """Where a field's value came from: confidence 0..1, the text read, page (1-based) and pixel box; ``method``
    says how a value not taken as read was derived (``merchant_directory``, ``category:learned``,
    ``category:map:merchant``, ...; None: as the extractor read it)."""

    confidence: Annotated[float, Field(ge=0, le=1)] = 0.0
    method: Annotated[str, StringConstraints(max_length=64)] | None = None
    text: LongText | None = None
    page: Annotated[int, Field(ge=1)] | None = None
    box: list[int] | None = Field(default=None, min_length=4, max_length=4)


class ReceiptData(_Model):
    """The fields a document yields and a person may correct (names as in DESIGN.md §3)."""

    receipt_type: ReceiptType | None = None
    merchant: Merchant = Field(default_factory=Merchant)
    purchase_date: dt.date | None = None
    purchase_time: dt.time | None = None
    receipt_number: Annotated[str, StringConstraints(max_length=128)] | None = None
    currency: str | None = None
    line_items: list[LineItem] = Field(default_factory=list, max_length=2000)
    subtotal: Money | None = None
    taxes: list[TaxLine] = Field(default_factory=list, max_length=50)
    tip: Money | None = None
    discount: Money | None = None
    service_charge: Money | None = None
    rounding: Money | None = None
    total: Money | None = None
    payments: list[Payment] = Field(default_factory=list, max_length=20)

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if not is_currency(code):
            msg = f"{value!r} is not an ISO-4217 currency code"
            raise ValueError(msg)
        return code

    @field_validator("purchase_time")
    @classmethod
    def _naive_time(cls, value: dt.time | None) -> dt.time | None:
        # a printed time is wall-clock time at the shop; a timezone would be invented
        return value.replace(tzinfo=None) if value is not None else None


class ExtractedReceipt(ReceiptData):
    """An extractor's output: the data plus per-field provenance, the raw text and the extractor's own warnings.

    Provenance keys are dotted field paths: ``total``, ``merchant.name``, ``purchase_date``, ``line_items.0``.
    """

    provenance: dict[str, FieldSource] = Field(default_factory=dict)
    raw_text: Annotated[str, StringConstraints(max_length=200_000)] = ""
    warnings: list[ReceiptWarning] = Field(default_factory=list, max_length=100)
    pages: Annotated[int, Field(ge=0)] = 1

    def data(self) -> ReceiptData:
        """Just the correctable fields, without provenance and raw text."""
        return ReceiptData.model_validate(self.model_dump(include=set(ReceiptData.model_fields)))


class SourceFile(_Model):
    """The original upload: name as sent, sniffed media type, size in bytes, sha256 hex, page count."""

    filename: Annotated[str, StringConstraints(max_length=255)] | None = None
    media_type: str
    size: Annotated[int, Field(ge=0)]
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    pages: Annotated[int, Field(ge=1)] = 1

    def with_pages(self, pages: int) -> SourceFile:
        """This file's record with ``pages`` pages (an extractor may count more pages than sniffing did)."""
        return SourceFile(
            filename=self.filename, media_type=self.media_type, size=self.size, sha256=self.sha256, pages=pages
        )


class ExtractionAttempt(_Model):
    """One run of an extractor on a receipt; every attempt is kept so results can be compared."""

    attempt: Annotated[int, Field(ge=1)]
    extractor: str
    extractor_version: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    duration_ms: Annotated[int, Field(ge=0)] | None = None
    outcome: Annotated[str, StringConstraints(pattern=r"^(ok|failed|deferred)$")] = "ok"
    error: LongText | None = None
    output: ExtractedReceipt | None = None

    def finished(
        self,
        outcome: Literal["ok", "failed", "deferred"],
        *,
        at: dt.datetime,
        duration_ms: int,
        error: str | None = None,
        output: ExtractedReceipt | None = None,
    ) -> ExtractionAttempt:
        """This attempt, ended at ``at`` with ``outcome`` (an error text is cut to 5,000 characters)."""
        return ExtractionAttempt(
            attempt=self.attempt,
            extractor=self.extractor,
            extractor_version=self.extractor_version,
            started_at=self.started_at,
            finished_at=at,
            duration_ms=duration_ms,
            outcome=outcome,
            error=error[:5000] if error else None,
            output=output,
        )


class Correction(_Model):
    """A field a person changed: dotted path, value before (JSON), value after (JSON), who and when."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    field: str
    from_value: Any = Field(default=None, alias="from")
    to_value: Any = Field(default=None, alias="to")
    by: str
    at: dt.datetime
