"""Normalisation rules of the evaluation (docs/extractors.md states them for people).

- Text: upper-cased, whitespace collapsed; tokens split on whitespace and commas (a comma separates tokens).
- WildReceipt texts compare with every space removed (its labels have none).
- Totals: currency marks and letters dropped, decimal commas understood, compared as decimals.
- Dates: the printed label is read in every valid way (day-first, month-first, year-first; two-digit years in
  2000-2069 or 1970-1999); a prediction is right when it equals any reading. A label without a year matches on
  month and day.

Deliberately independent of the extractor's own parsers: a bug there must not hide itself in the score.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal, InvalidOperation

_MONTHS = {
    "JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10,
    "NOV": 11, "DEC": 12, "MAC": 3, "MEI": 5, "OGO": 8, "OKT": 10, "DIS": 12, "MAI": 5, "DEZ": 12,
}  # fmt: skip


def norm_text(text: str | None) -> str:
    """Upper-case and collapse whitespace."""
    return " ".join((text or "").upper().split())


def no_space(text: str | None) -> str:
    """Upper-case with every whitespace character removed (WildReceipt comparison)."""
    return "".join((text or "").upper().split())


def tokens(text: str | None) -> list[str]:
    """Bag of tokens: normalised text split on whitespace and commas."""
    return [t for t in re.split(r"[\s,]+", norm_text(text)) if t]


def bag_f1(predicted: list[str], expected: list[str]) -> float:
    """F1 of two multisets (1.0 when both are empty, 0.0 when exactly one is)."""
    if not predicted and not expected:
        return 1.0
    if not predicted or not expected:
        return 0.0
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def parse_total(text: str | None) -> Decimal | None:
    """A printed total as a decimal: ``RM8.35`` → 8.35, ``EUR11,50`` → 11.50, ``1,234.50`` → 1234.50."""
    if text is None:
        return None
    cleaned = re.sub(r"[^\d.,\-]", "", str(text))
    negative = cleaned.startswith("-") or cleaned.endswith("-")
    cleaned = cleaned.strip("-")
    if not cleaned or not any(c.isdigit() for c in cleaned):
        return None
    last_sep = max(cleaned.rfind("."), cleaned.rfind(","))
    if last_sep >= 0 and len(cleaned) - last_sep - 1 in (1, 2):
        whole, frac = cleaned[:last_sep], cleaned[last_sep + 1 :]
    else:
        # "1,234" or "134,999": separators group thousands, there is no fraction
        whole, frac = cleaned, ""
    whole = re.sub(r"[.,]", "", whole)
    try:
        value = Decimal(f"{whole or '0'}.{frac or '0'}")
    except InvalidOperation:
        return None
    return -value if negative else value


def _year(text: str) -> int | None:
    if len(text) == 4:
        return int(text)
    if len(text) == 2:
        value = int(text)
        return 2000 + value if value < 70 else 1900 + value
    return None


def _valid(year: int | None, month: int, day: int) -> dt.date | None:
    if year is None:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def date_readings(text: str | None) -> set[dt.date | tuple[int, int]]:
    """Every valid calendar reading of a printed date; ``(month, day)`` pairs for a label without a year."""
    upper = norm_text(text).replace("'", " ")
    readings: set[dt.date | tuple[int, int]] = set()
    month_name = next((num for name, num in _MONTHS.items() if name in re.sub(r"[^A-Z]", " ", upper)), None)
    numbers = re.findall(r"\d+", upper)
    if month_name is not None and len(numbers) == 1 and len(numbers[0]) in (5, 6):
        numbers = [numbers[0][:-4], numbers[0][-4:]]  # "Aug262017": WildReceipt labels lost their spaces
    if month_name is not None:
        # "30 DEC 17", "Mar06'16", "Jan31,2017", "Jun15"
        if len(numbers) >= 2:
            name_first = re.search(r"[A-Z]", upper[: upper.find(numbers[0])]) is not None
            if len(numbers[0]) == 4 and not name_first:
                year, day = numbers[0], numbers[1]  # "2017 DEC 30"
            else:
                day, year = numbers[0], numbers[1]  # "30 DEC 17", "Mar06'16", "Jan31,2017"
            reading = _valid(_year(year), month_name, int(day)) if len(day) <= 2 else None
            readings |= {reading} if reading else set()
        elif len(numbers) == 1 and len(numbers[0]) <= 2 and _valid(2000, month_name, int(numbers[0])):
            readings.add((month_name, int(numbers[0])))
        return readings
    if len(numbers) == 1 and len(numbers[0]) == 8:
        numbers = [numbers[0][:4], numbers[0][4:6], numbers[0][6:]]
    if len(numbers) < 3:
        return readings
    a, b, c = numbers[:3]
    if len(a) == 4:
        readings |= {d for d in (_valid(int(a), int(b), int(c)),) if d}
    else:
        year = _year(c)
        readings |= {d for d in (_valid(year, int(b), int(a)), _valid(year, int(a), int(b))) if d}
    return readings


def date_matches(predicted: dt.date | None, label: str | None) -> bool:
    """Whether ``predicted`` is a valid reading of the printed ``label``."""
    if predicted is None:
        return False
    readings = date_readings(label)
    return predicted in readings or (predicted.month, predicted.day) in readings
