"""The money fields of a receipt (``Summary``) and how labelled rows are sorted into them: the first subtotal,
tip, discount and service charge, every distinct tax (with its rate and base), the rounding, the payments and the
change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from receiptcore.adapters.extractors.ocr.labels import Kind, classify_words
from receiptcore.adapters.extractors.ocr.money_rows import MoneyRow
from receiptcore.adapters.extractors.ocr.numbers import find_amounts
from receiptcore.adapters.extractors.ocr.text import compact

_RATE = re.compile(r"(\d{1,2}(?:[.,]\d{1,2})?)\s?%")
# India's GST is levied as two equal halves printed on two rows (CGST and SGST, or UTGST): both count
_GST_PART = re.compile(r"(?<![A-Z])(CGST|SGST|UTGST|IGST)(?![A-Z])")


@dataclass(slots=True)
class Summary:
    """The money fields of a receipt and the rows they came from."""

    total: MoneyRow | None = None
    total_confidence: float = 0.0
    total_printed: bool = False  # the total is printed on a total row (not only derived from other rows)
    subtotal: MoneyRow | None = None
    taxes: list[tuple[MoneyRow, Decimal | None, Decimal | None]] = field(default_factory=list)
    tip: MoneyRow | None = None
    discount: MoneyRow | None = None
    service: MoneyRow | None = None
    rounding: MoneyRow | None = None
    tendered: list[MoneyRow] = field(default_factory=list)
    change: MoneyRow | None = None
    card_last4: str | None = None
    first_row: int | None = None
    # value-only rows without a label below the subtotal (a label OCR lost, or printed in a logo font)
    unlabelled: list[MoneyRow] = field(default_factory=list)
    # every amount printed from the summary's start on, for the arithmetic checks
    printed: list[Decimal] = field(default_factory=list)


def _tax_line(row: MoneyRow) -> tuple[MoneyRow, Decimal | None, Decimal | None]:
    rate_match = _RATE.search(row.line.text)
    rate = Decimal(rate_match.group(1).replace(",", ".")) if rate_match else None
    amounts = find_amounts(row.value_line.text)
    base = amounts[-2].value if len(amounts) >= 2 and amounts[-2].value > row.value else None
    if rate is not None and not Decimal(0) <= rate <= 100:
        rate = None
    return row, rate, base


def _tax_key(row: MoneyRow) -> tuple[Decimal, str | None]:
    """What makes two tax rows the same tax: their value, and which half of India's GST they name."""
    part = _GST_PART.search(row.line.text.upper())
    return row.value, part.group(1) if part else None


_FIRST_OF_KIND = {Kind.SUBTOTAL: "subtotal", Kind.TIP: "tip", Kind.DISCOUNT: "discount", Kind.SERVICE: "service"}


def collect(rows: list[MoneyRow], summary: Summary) -> None:
    """Sort labelled rows into the summary (first of each single-valued kind; every tax and payment)."""
    # a tax printed twice (its row and a tax summary) counts once; India's halves are two taxes of one value
    seen_tax: set[tuple[Decimal, str | None]] = set()
    for row in rows:
        attribute = _FIRST_OF_KIND.get(row.kind)
        if attribute is not None:
            if getattr(summary, attribute) is None:
                setattr(summary, attribute, row)
        elif row.kind == Kind.TAX and _tax_key(row) not in seen_tax and row.value >= 0:
            if "INVOICE" in compact(row.line.text) and row.value_line is row.line:
                continue
            seen_tax.add(_tax_key(row))
            summary.taxes.append(_tax_line(row))
        elif row.kind == Kind.ROUNDING and summary.rounding is None and abs(row.value) < 1:
            summary.rounding = row
        elif row.kind == Kind.TENDERED and row.value > 0 and classify_words(row.line.text) == Kind.TENDERED:
            # a payment word inside an item's name is no payment: "CASHM.BATH.TISS 2.99" is cashmere tissue
            summary.tendered.append(row)
        elif row.kind == Kind.CHANGE and summary.change is None:
            summary.change = row if row.value >= 0 else MoneyRow(row.kind, -row.value, row.line, row.value_line, 1)
