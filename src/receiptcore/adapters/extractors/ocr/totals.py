"""The money summary of a receipt: subtotal, taxes, tip, discount, service charge, rounding, payments, and the
total — chosen as the candidate the rest of the receipt agrees with, not merely the biggest number.

Each labelled row gives a value: the last amount on the row, or the amount alone on the next row when label
and value were printed on separate rows. Total candidates are scored by their label and then by arithmetic
agreement: tendered - change, subtotal + taxes + charges - discount + rounding, a rounding row turning one
candidate into another, and the sum of the line items.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from receiptcore.adapters.extractors.ocr.labels import Kind, classify, classify_words, total_strength
from receiptcore.adapters.extractors.ocr.numbers import (
    Amount,
    clean_numbers,
    find_amounts,
    find_whole_amounts,
    misread_as,
)
from receiptcore.adapters.extractors.ocr.text import compact, letters
from receiptcore.adapters.extractors.ocr.types import Line

CENT = Decimal("0.01")
CASH_STEP = Decimal("0.05")
WHOLE_UNITS_CONFIDENCE = 0.45  # the most a total read in whole units gets unless the other rows add up to it
_RATE = re.compile(r"(\d{1,2}(?:[.,]\d{1,2})?)\s?%")
_CURRENCY_WORD = re.compile(r"\b(RM|MYR|USD|EUR|GBP|AUD|SGD|NZD|CAD|CHF|IDR|INR|Rp|Rs)\b", re.IGNORECASE)
_SPACED_RATE = re.compile(r"(?<![\d.,])(\d{1,2})(?:[.,\s](\d{1,3}))?\s?%")
_STRAY_DIGIT = re.compile(r"\d(?![\d.,]*\s?%)")
# a clock time printed beside a label ("15:05 Amt Due") is no misread amount
_CLOCK = re.compile(r"(?<![\d.,])\d{1,2}:\d{2}(?::\d{2})?(?![\d.,])")
# "TOTAL 24-00": faint print turns the decimal point of the row's last amount into a hyphen
_HYPHEN_DECIMAL = re.compile(r"(?<![\d.,:/-])(\d{1,4})\s?-\s?(\d{2})\s*$")
_ONE_DECIMAL = re.compile(r"(?<![\d.,])(\d{1,5})[.,](\d)\s*$")
# India's GST is levied as two equal halves printed on two rows (CGST and SGST, or UTGST): both count
_GST_PART = re.compile(r"(?<![A-Z])(CGST|SGST|UTGST|IGST)(?![A-Z])")
_CARD_LAST4 = re.compile(r"(?:[X*#.•]{2,}|\bending\s?(?:in)?\s?)[\s-]?(\d{4})\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class MoneyRow:
    """A labelled amount: its role, value, the label row and the row the value was read from."""

    kind: Kind
    value: Decimal
    line: Line
    value_line: Line
    amounts_on_row: int


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


def _value_only(line: Line) -> bool:
    """Whether ``line`` is just an amount (and perhaps a currency mark): the value of a label row above it."""
    amounts = find_amounts(line.text)
    if len(amounts) != 1:
        return False
    rest = line.text[: amounts[0].start] + line.text[amounts[0].end :]
    rest = _CURRENCY_WORD.sub("", rest)
    return letters(rest) <= 1


def _row_amounts(text: str, whole: bool = False) -> list[Amount]:
    """The amounts on a labelled row; with none, the row's last number read with a hyphen as decimal point
    ("TOTAL 24-00"), or with ``whole`` the whole-unit amount ending the row ("Total 134,999")."""
    amounts = find_amounts(text)
    if not amounts and _HYPHEN_DECIMAL.search(text):
        amounts = find_amounts(_HYPHEN_DECIMAL.sub(r" \1.\2", text))
    if not amounts and whole:
        amounts = [a for a in find_whole_amounts(text) if not clean_numbers(text)[a.end :].strip()]
    return amounts


def money_rows(lines: list[Line], start: int = 0, whole: bool = False) -> list[MoneyRow]:
    """Every labelled amount row from line ``start`` on, in reading order; ``whole``: amounts without cents too."""
    rows: list[MoneyRow] = []
    for i in range(start, len(lines)):
        line = lines[i]
        kind = classify(line.text)
        if kind == Kind.COUNT and any(a.currency_mark for a in find_amounts(line.text)):
            kind = Kind.TOTAL  # "Total for 3 items $17.90": a count is never printed with a currency mark
        if kind in (Kind.OTHER, Kind.COUNT):
            continue
        amounts = _row_amounts(line.text, whole)
        if not amounts and kind in (Kind.SERVICE, Kind.TAX, Kind.TIP) and _ONE_DECIMAL.search(line.text):
            # "Service Charge 10% 90.0": some tills print charges with one decimal
            amounts = find_amounts(_ONE_DECIMAL.sub(r" \1.\g<2>0", line.text))
        value_line = line
        # "Net Total 25.J": the row's own value is misread; the next row's amount is something else
        garbled = _STRAY_DIGIT.search(_CLOCK.sub(" ", line.text)) is not None
        if not amounts and not garbled and i + 1 < len(lines) and _value_only(lines[i + 1]):
            value_line = lines[i + 1]
            amounts = find_amounts(value_line.text)
        elif (
            not amounts
            and not garbled
            and i > 0
            and _value_only(lines[i - 1])
            and classify(lines[i - 1].text) == Kind.OTHER
        ):
            value_line = lines[i - 1]
            amounts = find_amounts(value_line.text)
        if amounts:
            rows.append(MoneyRow(kind, amounts[-1].value, line, value_line, len(amounts)))
    return rows


def _near(a: Decimal, b: Decimal) -> bool:
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


def _rate_totals_as_taxes(rows: list[MoneyRow], printed: list[Decimal]) -> list[MoneyRow]:
    """``rows`` with a TOTAL row that holds its own printed rate of another amount retagged as a tax: "Total Tax
    7.0% $0.70" with TAX misread, or "Total 6% GST 1.36" beside the 22.64 it is levied on."""
    retagged = []
    for row in rows:
        rates = _rates(row.line.text) if row.kind == Kind.TOTAL else []
        is_tax = any(0 < r <= 30 and _is_rate_of(row.value, r, printed) for r in rates)
        retagged.append(MoneyRow(Kind.TAX, row.value, row.line, row.value_line, row.amounts_on_row) if is_tax else row)
    return retagged


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
        for extra in dict.fromkeys(e for e in _extras(summary) if e):
            vote(summary.subtotal.value + extra, 1.5, summary.subtotal)
        vote(summary.subtotal.value, 0.5, summary.subtotal)  # prices that include tax: weaker, the same number
        # "Subtotal 5.25 / 0.20 / 5.45" with the labels lost: an unlabelled amount that is the subtotal plus
        # another unlabelled amount printed between them
        for k, later in enumerate(summary.unlabelled):
            if any(_near(summary.subtotal.value + part.value, later.value) for part in summary.unlabelled[:k]):
                vote(later.value, 1.5, MoneyRow(Kind.TOTAL, later.value, later.line, later.line, 1))
    return votes


def _score_totals(rows: list[MoneyRow], summary: Summary, items_sum: Decimal | None) -> None:
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
    charges = [e for e in _extras(summary, with_taxes=True)[:2] if e]
    scores: dict[Decimal, float] = {}
    for value in dict.fromkeys([*printed, *votes]):
        # a value no TOTAL row shows needs the rest of the receipt to agree on it
        score = strengths.get(value, -1.0) + votes.get(value, (0.0, None))[0] + 0.3 * (counts.get(value, 1) - 1)
        if summary.rounding and any(_near(other + summary.rounding.value, value) for other in printed):
            score += 1.5
        if any(_near(other + extra, value) for other in printed for extra in charges if other != value):
            score += 1.0  # "Totale 442,00 / Servizio 53,00 / Totale 495,00": the later total adds the charges
        if value % CASH_STEP == 0 and any(0 < abs(other - value) < CASH_STEP for other in printed):
            score += 1.0  # cash rounding: the total on the 0.05 grid next to the exact one is the payable amount
        if items_sum is not None and _near(items_sum, value):
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


def _extras(summary: Summary, with_taxes: bool = True) -> list[Decimal]:
    """What may lie between subtotal and total: taxes (unless printed as included), charges, discount, rounding."""
    included = any("INCL" in compact(t[0].line.text) for t in summary.taxes)
    taxes = Decimal(0) if included or not with_taxes else sum((t[0].value for t in summary.taxes), Decimal(0))
    plus = sum((r.value for r in (summary.tip, summary.service) if r is not None), Decimal(0))
    minus = abs(summary.discount.value) if summary.discount else Decimal(0)
    rounding = summary.rounding.value if summary.rounding else Decimal(0)
    return [taxes + plus - minus + rounding, taxes + plus - minus, plus - minus + rounding]


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


def _collect(rows: list[MoneyRow], summary: Summary) -> None:
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


def _agrees(summary: Summary, items_sum: Decimal | None, strict: bool) -> bool:
    """Whether the chosen total is what other rows add up to: subtotal plus nonzero taxes and charges, tendered
    minus change, or the items plus taxes; unless ``strict``, also a subtotal, payment or item sum equal to it."""
    if summary.total is None or not summary.total_printed:
        return False
    total = summary.total.value
    extras = [e for e in _extras(summary) if e]
    taxes = sum((t[0].value for t in summary.taxes), Decimal(0))
    if summary.subtotal is not None and any(_near(summary.subtotal.value + e, total) for e in extras):
        return True
    if summary.change is not None and any(_near(p.value - summary.change.value, total) for p in summary.tendered):
        return True
    if items_sum is not None and taxes and _near(items_sum + taxes, total):
        return True
    if strict:
        return False
    same = [summary.subtotal.value] if summary.subtotal else []
    same += [p.value for p in summary.tendered] + ([items_sum] if items_sum is not None else [])
    return any(_near(v, total) for v in same)


def _shifted_rows(lines: list[Line], start: int, shift: int) -> list[MoneyRow]:
    """Every labelled row of the summary block (from the labelled rows just above its first subtotal or total
    label on) with its value read from the row ``shift`` away: a photo tilted or bent across the paper puts the
    right-hand value column a row or two above or below its labels."""
    kinds = [(line, classify(line.text)) for line in lines[start:]]
    first = next((i for i, (_, kind) in enumerate(kinds) if kind in (Kind.SUBTOTAL, Kind.TOTAL)), len(kinds))
    while first > 0 and kinds[first - 1][1] not in (Kind.OTHER, Kind.COUNT):
        first -= 1
    first += start
    rows: list[MoneyRow] = []
    for line, kind in kinds:
        j = line.index + shift
        if kind in (Kind.OTHER, Kind.COUNT) or line.index < first or not start <= j < len(lines):
            continue
        amounts = _row_amounts(lines[j].text)
        if amounts:
            rows.append(MoneyRow(kind, amounts[-1].value, line, lines[j], len(amounts)))
    return rows


def parse_summary(lines: list[Line], start: int, items_sum: Decimal | None = None) -> Summary:
    """Read the money rows from line ``start`` on and choose the total.

    When the total chosen agrees with nothing else on the receipt, the labels are paired with the values one row
    up, one down, then two up and two down; the first pairing whose total the other rows add up to wins (a tilted
    or bent photo, the nearer shift first). Failing that,
    amounts in whole units are read too (see ``_whole_total_wins``).
    """
    summary = _summary(lines, start, money_rows(lines, start), items_sum)
    if not _agrees(summary, items_sum, strict=False):
        for shift in (-1, 1, -2, 2):
            shifted = _summary(lines, start, _shifted_rows(lines, start, shift), items_sum)
            if _agrees(shifted, items_sum, strict=True):
                return shifted
        whole = _summary(lines, start, money_rows(lines, start, whole=True), None)
        if whole.total is not None and whole.total_printed and _whole_total_wins(summary.total, whole.total):
            if not _agrees(whole, None, strict=True):
                # reading whole units is a guess about the currency: unconfirmed, the total is doubtful
                whole.total_confidence = min(whole.total_confidence, WHOLE_UNITS_CONFIDENCE)
            return whole
        if summary.total is None or not summary.total_printed:
            _repair_total(lines, start, summary, items_sum)
    return summary


def _repair_total(lines: list[Line], start: int, summary: Summary, items_sum: Decimal | None) -> None:
    """A total row whose amount OCR damaged ("TOTAL 40.1", "Total 59.J0") takes the figure the other rows add up
    to (items + taxes, subtotal + charges, tendered - change, the items) when the damaged text is that figure with
    one character misread, lost or added."""
    taxes = sum((t[0].value for t in summary.taxes), Decimal(0))
    sums = [items_sum + taxes if items_sum is not None and taxes else None, items_sum]
    if summary.subtotal is not None:
        sums += [summary.subtotal.value + e for e in _extras(summary) if e]
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


def _whole_total_wins(cents: MoneyRow | None, whole: MoneyRow) -> bool:
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


def _summary(lines: list[Line], start: int, rows: list[MoneyRow], items_sum: Decimal | None) -> Summary:
    labelled_values = {r.value_line.index for r in rows}
    summary = Summary(first_row=min((r.line.index for r in rows), default=None))
    summary.printed = [a.value for line in lines[start:] for a in find_amounts(line.text)]
    rows = _rate_totals_as_taxes(rows, summary.printed)
    _collect(rows, summary)
    if summary.subtotal is not None:
        after = summary.subtotal.value_line.index
        summary.unlabelled = [
            MoneyRow(Kind.OTHER, find_amounts(line.text)[0].value, line, line, 1)
            for line in lines[after + 1 :]
            if _value_only(line) and classify(line.text) == Kind.OTHER and line.index not in labelled_values
        ]
    _score_totals(rows, summary, items_sum)
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
