"""The arithmetic of a receipt's money summary: what lies between subtotal and total, whether the chosen total is
what the other rows add up to, and a "total" row that is really a tax (its printed rate of another amount).
"""

from __future__ import annotations

import re
from decimal import Decimal

from receiptcore.adapters.extractors.ocr.labels import Kind
from receiptcore.adapters.extractors.ocr.money_rows import MoneyRow
from receiptcore.adapters.extractors.ocr.summary_fields import Summary
from receiptcore.adapters.extractors.ocr.text import compact

CENT = Decimal("0.01")
_SPACED_RATE = re.compile(r"(?<![\d.,])(\d{1,2})(?:[.,\s](\d{1,3}))?\s?%")


def near(a: Decimal, b: Decimal) -> bool:
    """Whether ``a`` and ``b`` are equal within a cent of rounding."""
    return abs(a - b) <= CENT


def _is_rate_of(value: Decimal, rate: Decimal, printed: list[Decimal]) -> bool:
    """Whether ``value`` is ``rate`` % of a printed net amount, or the tax part of a printed gross one."""
    for amount in printed:
        if amount <= value:
            continue
        if abs(amount * rate / 100 - value) <= CENT or abs(amount * rate / (100 + rate) - value) <= CENT:
            return True
    return False


def _rates(text: str) -> list[Decimal]:
    """The percentages printed in ``text``; "7 0%" (the point lost) reads as 7.0 % and as 0 %."""
    found = []
    for m in _SPACED_RATE.finditer(text):
        whole, fraction = m.group(1), m.group(2)
        found.append(Decimal(f"{whole}.{fraction}" if fraction else whole))
        if fraction and m.group(0)[len(whole)] == " ":
            found.append(Decimal(fraction))
    return found


def rate_totals_as_taxes(rows: list[MoneyRow], printed: list[Decimal]) -> list[MoneyRow]:
    """``rows`` with a TOTAL row that holds its own printed rate of another amount retagged as a tax: "Total Tax
    7.0% $0.70" with TAX misread, or "Total 6% GST 1.36" beside the 22.64 it is levied on."""
    retagged = []
    for row in rows:
        rates = _rates(row.line.text) if row.kind == Kind.TOTAL else []
        is_tax = any(0 < r <= 30 and _is_rate_of(row.value, r, printed) for r in rates)
        retagged.append(MoneyRow(Kind.TAX, row.value, row.line, row.value_line, row.amounts_on_row) if is_tax else row)
    return retagged


def _discount_after_subtotal(summary: Summary) -> Decimal:
    """The discount still to take off the subtotal: none when the discount row is printed above the subtotal,
    which then already has it taken off ("VIP Discount (8.00)" / "SUB TOTAL 54.00" / "TAX 4.73" / 58.73)."""
    if summary.discount is None:
        return Decimal(0)
    if summary.subtotal is not None and summary.discount.line.index < summary.subtotal.line.index:
        return Decimal(0)
    return abs(summary.discount.value)


def extras(summary: Summary, with_taxes: bool = True) -> list[Decimal]:
    """What may lie between subtotal and total: taxes (unless printed as included), charges, a discount printed
    below the subtotal, rounding."""
    included = any("INCL" in compact(t[0].line.text) for t in summary.taxes)
    taxes = Decimal(0) if included or not with_taxes else sum((t[0].value for t in summary.taxes), Decimal(0))
    plus = sum((r.value for r in (summary.tip, summary.service) if r is not None), Decimal(0))
    minus = _discount_after_subtotal(summary)
    rounding = summary.rounding.value if summary.rounding else Decimal(0)
    return [taxes + plus - minus + rounding, taxes + plus - minus, plus - minus + rounding]


def agrees(summary: Summary, items_sum: Decimal | None, strict: bool) -> bool:
    """Whether the chosen total is what other rows add up to: subtotal plus nonzero taxes and charges, tendered
    minus change, or the items plus taxes; unless ``strict``, also a subtotal, payment or item sum equal to it."""
    if summary.total is None or not summary.total_printed:
        return False
    total = summary.total.value
    charges = [e for e in extras(summary) if e]
    taxes = sum((t[0].value for t in summary.taxes), Decimal(0))
    if summary.subtotal is not None and any(near(summary.subtotal.value + e, total) for e in charges):
        return True
    if summary.change is not None and any(near(p.value - summary.change.value, total) for p in summary.tendered):
        return True
    if items_sum is not None and taxes and near(items_sum + taxes, total):
        return True
    if strict:
        return False
    same = [summary.subtotal.value] if summary.subtotal else []
    same += [p.value for p in summary.tendered] + ([items_sum] if items_sum is not None else [])
    return any(near(v, total) for v in same)
