"""Choosing the total among its candidates: the values printed on TOTAL rows, scored by their label and then by
how much of the rest of the receipt agrees (tendered - change, subtotal + taxes + charges - discount + rounding,
a rounding row turning one candidate into another, cash rounding, the sum of the line items); and the repairs
when no candidate holds up (a total row whose amount OCR damaged, a total printed in whole units).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from receiptcore.adapters.extractors.ocr.labels import Kind, classify, total_strength
from receiptcore.adapters.extractors.ocr.money_rows import MoneyRow
from receiptcore.adapters.extractors.ocr.numbers import find_amounts, misread_as
from receiptcore.adapters.extractors.ocr.summary_arithmetic import extras, near
from receiptcore.adapters.extractors.ocr.summary_fields import Summary
from receiptcore.adapters.extractors.ocr.types import Line

CASH_STEP = Decimal("0.05")
WHOLE_UNITS_CONFIDENCE = 0.45  # the most a total read in whole units gets unless the other rows add up to it
LARGEST_CONFIDENCE = 0.2  # a total that is only the largest amount printed: no label, no arithmetic


def _candidates(rows: list[MoneyRow]) -> tuple[dict[Decimal, float], dict[Decimal, MoneyRow], dict[Decimal, int]]:
    """Strength of each value printed on a TOTAL row (its best row), and how often it is printed."""
    candidates = [r for r in rows if r.kind == Kind.TOTAL and r.value != 0]
    # a "rounding" row holding a whole amount is the rounded total ("Rounding RM 42.35")
    candidates += [r for r in rows if r.kind == Kind.ROUNDING and abs(r.value) >= 1]
    heights = sorted(r.line.height for r in rows)
    typical_height = heights[len(heights) // 2] if heights else 0.0
    strengths: dict[Decimal, float] = {}
    best_row: dict[Decimal, MoneyRow] = {}
    counts: dict[Decimal, int] = defaultdict(int)
    for row in candidates:
        strength = total_strength(row.line.text)
        if row.amounts_on_row >= 3:
            strength -= 1.0  # a tax summary table row ("Total 26.50 1.50 28.00")
        if row.value < 0:
            strength -= 0.5
        if row.line.height >= 1.3 * typical_height:
            strength += 0.5  # the payable total is often printed in a larger font
        counts[row.value] += 1
        if strength > strengths.get(row.value, -9.0):
            strengths[row.value], best_row[row.value] = strength, row
    return strengths, best_row, counts


def _votes(summary: Summary) -> dict[Decimal, tuple[float, MoneyRow]]:
    """What the rest of the receipt says the total is: tendered - change, subtotal with charges and taxes."""
    votes: dict[Decimal, tuple[float, MoneyRow]] = {}

    def vote(value: Decimal, weight: float, row: MoneyRow) -> None:
        if value > 0:
            previous = votes.get(value, (0.0, row))
            votes[value] = (previous[0] + weight, previous[1])

    for paid in summary.tendered:
        if summary.change is not None:
            vote(paid.value - summary.change.value, 2.0, paid)
        else:
            vote(paid.value, 0.5, paid)  # cash handed over is often more than the total
    if summary.subtotal is not None:
        for extra in dict.fromkeys(e for e in extras(summary) if e):
            vote(summary.subtotal.value + extra, 1.5, summary.subtotal)
        vote(summary.subtotal.value, 0.5, summary.subtotal)  # prices that include tax: weaker, the same number
        # "Subtotal 5.25 / 0.20 / 5.45" with the labels lost: an unlabelled amount that is the subtotal plus
        # another unlabelled amount printed between them
        for k, later in enumerate(summary.unlabelled):
            if any(near(summary.subtotal.value + part.value, later.value) for part in summary.unlabelled[:k]):
                vote(later.value, 1.5, MoneyRow(Kind.TOTAL, later.value, later.line, later.line, 1))
    return votes


def score_totals(rows: list[MoneyRow], summary: Summary, items_sum: Decimal | None) -> None:
    """Choose the total of ``summary`` from the TOTAL rows among ``rows`` and the arithmetic votes, and set its
    confidence (``Summary.total_confidence``) from the winning score."""
    strengths, best_row, counts = _candidates(rows)
    votes = _votes(summary)
    if not strengths and not votes:
        # every total row prints 0.00 and nothing else is owed or paid: a receipt settled in full (voucher,
        # exchange, comped order) has a zero total, printed, not a missing one
        zero = next((r for r in rows if r.kind == Kind.TOTAL and r.value == 0 and r.amounts_on_row < 3), None)
        if zero is not None:
            summary.total, summary.total_printed, summary.total_confidence = zero, True, 0.35
        return
    printed = list(strengths)
    charges = [e for e in extras(summary, with_taxes=True)[:2] if e]
    scores: dict[Decimal, float] = {}
    for value in dict.fromkeys([*printed, *votes]):
        # a value no TOTAL row shows needs the rest of the receipt to agree on it
        score = strengths.get(value, -1.0) + votes.get(value, (0.0, None))[0] + 0.3 * (counts.get(value, 1) - 1)
        if summary.rounding and any(near(other + summary.rounding.value, value) for other in printed):
            score += 1.5
        if any(near(other + extra, value) for other in printed for extra in charges if other != value):
            score += 1.0  # "Totale 442,00 / Servizio 53,00 / Totale 495,00": the later total adds the charges
        if value % CASH_STEP == 0 and any(0 < abs(other - value) < CASH_STEP for other in printed):
            score += 1.0  # cash rounding: the total on the 0.05 grid next to the exact one is the payable amount
        if items_sum is not None and near(items_sum, value):
            score += 0.5
        if printed and value == max(printed):
            score += 0.3
        scores[value] = score
    value = max(scores, key=lambda v: (scores[v], v))
    summary.total = best_row[value] if value in best_row else votes[value][1]
    summary.total_printed = value in best_row
    if value not in best_row:
        row = summary.total
        summary.total = MoneyRow(Kind.TOTAL, value, row.line, row.value_line, 1)
    summary.total_confidence = min(1.0, max(0.1, 0.35 + 0.15 * scores[value]))


def repair_total(lines: list[Line], start: int, summary: Summary, items_sum: Decimal | None) -> None:
    """A total row whose amount OCR damaged ("TOTAL 40.1", "Total 59.J0") takes the figure the other rows add up
    to (items + taxes, subtotal + charges, tendered - change, the items) when the damaged text is that figure with
    one character misread, lost or added."""
    taxes = sum((t[0].value for t in summary.taxes), Decimal(0))
    sums = [items_sum + taxes if items_sum is not None and taxes else None, items_sum]
    if summary.subtotal is not None:
        sums += [summary.subtotal.value + e for e in extras(summary) if e]
    if summary.change is not None:
        sums += [p.value - summary.change.value for p in summary.tendered]
    for line in lines[start:]:
        if classify(line.text) != Kind.TOTAL or find_amounts(line.text) or not line.words:
            continue
        value = next((v for v in sums if v is not None and v > 0 and misread_as(line.words[-1].text, v)), None)
        if value is not None:
            summary.total = MoneyRow(Kind.TOTAL, value, line, line, 1)
            summary.total_printed, summary.total_confidence = False, WHOLE_UNITS_CONFIDENCE
            return


def whole_total_wins(cents: MoneyRow | None, whole: MoneyRow) -> bool:
    """Whether the total read in whole units replaces the one read with cents: when there was none (a currency
    without minor units, "Total 134,999" rupiah), or when a later row with a payable-total label prints a whole
    amount ("Net Total 887.00 ... Grand Total : 1108", the bill rounded to whole rupees)."""
    if whole.value == 0:
        return False  # "Total 59.J0" has no whole amount 0
    if cents is None:
        return True
    strength = total_strength(whole.line.text)
    return (
        whole.value != cents.value
        and strength >= 2.0
        and strength >= total_strength(cents.line.text)
        and whole.line.index > cents.line.index
        and not find_amounts(whole.value_line.text)
    )


def largest_printed(lines: list[Line], start: int, summary: Summary) -> None:
    """With no total found at all (no TOTAL row, no subtotal, no payment: a label OCR lost or in a language no
    keyword names), the largest amount printed from line ``start`` on is the total: receipts print the total
    below the prices it sums, and nothing else there is bigger. Not printed on a total row, so unconfirmed."""
    found = [(a.value, line) for line in lines[start:] for a in find_amounts(line.text) if a.value > 0]
    if not found:
        return
    value, line = max(found, key=lambda pair: (pair[0], pair[1].index))
    summary.total = MoneyRow(Kind.TOTAL, value, line, line, 1)
    summary.total_printed, summary.total_confidence = False, LARGEST_CONFIDENCE
