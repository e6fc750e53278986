"""The money summary of a receipt: subtotal, taxes, tip, discount, service charge, rounding, payments, and the
total — chosen as the candidate the rest of the receipt agrees with, not merely the biggest number.

The parts, each in its own module: ``money_rows`` reads the labelled amount rows, ``summary_fields`` sorts them
into a ``Summary``, ``summary_arithmetic`` checks what they add up to, and ``total_choice`` scores the total's
candidates and repairs a damaged one. This module puts them together: ``parse_summary``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from receiptcore.adapters.extractors.ocr.labels import Kind, classify
from receiptcore.adapters.extractors.ocr.money_rows import MoneyRow, money_rows, shifted_rows, value_only
from receiptcore.adapters.extractors.ocr.numbers import find_amounts
from receiptcore.adapters.extractors.ocr.summary_arithmetic import CENT, agrees, rate_totals_as_taxes
from receiptcore.adapters.extractors.ocr.summary_fields import Summary, collect
from receiptcore.adapters.extractors.ocr.total_choice import (
    WHOLE_UNITS_CONFIDENCE,
    largest_printed,
    repair_total,
    score_totals,
    whole_total_wins,
)
from receiptcore.adapters.extractors.ocr.types import Line

__all__ = ["CENT", "WHOLE_UNITS_CONFIDENCE", "MoneyRow", "Summary", "money_rows", "parse_summary"]

_CARD_LAST4 = re.compile(r"(?:[X*#.•]{2,}|\bending\s?(?:in)?\s?)[\s-]?(\d{4})\b", re.IGNORECASE)


def parse_summary(lines: list[Line], start: int, items_sum: Decimal | None = None) -> Summary:
    """Read the money rows from line ``start`` on and choose the total.

    When the total chosen agrees with nothing else on the receipt, the labels are paired with the values one row
    up, one down, then two up and two down; the first pairing whose total the other rows add up to wins (a tilted
    or bent photo, the nearer shift first). Failing that, amounts in whole units are read too (see
    ``total_choice.whole_total_wins``), failing that a total row whose amount OCR damaged is repaired, and with no
    total at all the largest amount printed is taken (``total_choice.largest_printed``).
    """
    summary = _summary(lines, start, money_rows(lines, start), items_sum)
    if not agrees(summary, items_sum, strict=False):
        for shift in (-1, 1, -2, 2):
            shifted = _summary(lines, start, shifted_rows(lines, start, shift), items_sum)
            if agrees(shifted, items_sum, strict=True):
                return shifted
        whole = _summary(lines, start, money_rows(lines, start, whole=True), None)
        if whole.total is not None and whole.total_printed and whole_total_wins(summary.total, whole.total):
            if not agrees(whole, None, strict=True):
                # reading whole units is a guess about the currency: unconfirmed, the total is doubtful
                whole.total_confidence = min(whole.total_confidence, WHOLE_UNITS_CONFIDENCE)
            return whole
        if summary.total is None or not summary.total_printed:
            repair_total(lines, start, summary, items_sum)
        if summary.total is None:
            largest_printed(lines, start, summary)
    return summary


def _summary(lines: list[Line], start: int, rows: list[MoneyRow], items_sum: Decimal | None) -> Summary:
    labelled_values = {r.value_line.index for r in rows}
    summary = Summary(first_row=min((r.line.index for r in rows), default=None))
    summary.printed = [a.value for line in lines[start:] for a in find_amounts(line.text)]
    rows = rate_totals_as_taxes(rows, summary.printed)
    collect(rows, summary)
    if summary.subtotal is not None:
        after = summary.subtotal.value_line.index
        summary.unlabelled = [
            MoneyRow(Kind.OTHER, find_amounts(line.text)[0].value, line, line, 1)
            for line in lines[after + 1 :]
            if value_only(line) and classify(line.text) == Kind.OTHER and line.index not in labelled_values
        ]
    score_totals(rows, summary, items_sum)
    if summary.total is not None:
        # a "tax" bigger than half the total is a misread row of a tax summary table
        summary.taxes = [t for t in summary.taxes if t[0].value < abs(summary.total.value) / 2]
    summary.taxes = summary.taxes[:3]
    for line in lines[start:]:
        m = _CARD_LAST4.search(line.text)
        if m:
            summary.card_last4 = m.group(1)
            break
    return summary
