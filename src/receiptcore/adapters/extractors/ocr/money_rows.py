"""Labelled amount rows of a receipt's money summary: which row is a total, a tax, a payment..., and which amount
is its value.

The value is the last amount on the label's own row, or the amount alone on the next (or previous) row when
label and value were printed on separate rows. A tilted or bent photo can put the whole value column a row or two
off its labels; ``shifted_rows`` reads the labels with the values that far away.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from receiptcore.adapters.extractors.ocr.labels import Kind, classify
from receiptcore.adapters.extractors.ocr.numbers import Amount, clean_numbers, find_amounts, find_whole_amounts
from receiptcore.adapters.extractors.ocr.text import letters
from receiptcore.adapters.extractors.ocr.types import Line

_CURRENCY_WORD = re.compile(r"\b(RM|MYR|USD|EUR|GBP|AUD|SGD|NZD|CAD|CHF|IDR|INR|Rp|Rs)\b", re.IGNORECASE)
_STRAY_DIGIT = re.compile(r"\d(?![\d.,]*\s?%)")
# a clock time printed beside a label ("15:05 Amt Due") is no misread amount
_CLOCK = re.compile(r"(?<![\d.,])\d{1,2}:\d{2}(?::\d{2})?(?![\d.,])")
# "TOTAL 24-00": faint print turns the decimal point of the row's last amount into a hyphen
_HYPHEN_DECIMAL = re.compile(r"(?<![\d.,:/-])(\d{1,4})\s?-\s?(\d{2})\s*$")
_ONE_DECIMAL = re.compile(r"(?<![\d.,])(\d{1,5})[.,](\d)\s*$")


@dataclass(frozen=True, slots=True)
class MoneyRow:
    """A labelled amount: its role, value, the label row and the row the value was read from."""

    kind: Kind
    value: Decimal
    line: Line
    value_line: Line
    amounts_on_row: int


def value_only(line: Line) -> bool:
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
        if not amounts and not garbled and i + 1 < len(lines) and value_only(lines[i + 1]):
            value_line = lines[i + 1]
            amounts = find_amounts(value_line.text)
        elif (
            not amounts
            and not garbled
            and i > 0
            and value_only(lines[i - 1])
            and classify(lines[i - 1].text) == Kind.OTHER
        ):
            value_line = lines[i - 1]
            amounts = find_amounts(value_line.text)
        if amounts:
            rows.append(MoneyRow(kind, amounts[-1].value, line, value_line, len(amounts)))
    return rows


def shifted_rows(lines: list[Line], start: int, shift: int) -> list[MoneyRow]:
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
