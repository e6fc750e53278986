"""Money amounts in OCR text: thousands separators, decimal commas, currency marks, signs and the usual OCR
confusions of faint thermal print (``O``→``0``, ``S``→``5``, ``B``→``8``, ``I``/``l``→``1``) inside numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_CONFUSIONS = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "S": "5", "s": "5", "B": "8", "I": "1",
                             "l": "1", "|": "1", "Z": "2", "z": "2", "G": "6"})  # fmt: skip
# a run of digit-like characters that may be a misread amount; it must start after a non-letter or a currency mark
_SUSPECT = re.compile(
    r"(?:(?<![A-Za-z0-9])|(?<=RM)|(?<=\$))[0-9OoDQSsBIl|Zz]{1,7}[.,][0-9OoDQSsBIl|Zz]{2}(?![A-Za-z0-9])"
)
_SPACED = re.compile(r"(?<=\d)\s*([.,])\s+(?=\d{2}(?!\d))|(?<=\d)\s+([.,])(?=\d{2}(?!\d))")
CURRENCY_MARKS = r"RM|MYR|USD|US\$|EUR|GBP|AUD|A\$|NZD|SGD|S\$|CAD|C\$|CHF|IDR|Rp|INR|Rs\.?|\$|€|£|¥|₹"
_AMOUNT = re.compile(
    rf"""(?<![\d.,])
    (?P<sign>[-\u2212\u2013]\s?)?
    (?P<cur>{CURRENCY_MARKS})?\s?
    (?P<sign2>[-\u2212\u2013]\s?)?
    (?P<int>\d{{1,3}}(?:(?P<sep>[,.'])\d{{3}})(?:(?P=sep)\d{{3}})*|\d+|(?<=[\s:M$])|^)
    (?P<dec>[.,]\d{{2}})
    (?P<trail>-)?
    (?![.,]?\d)""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Amount:
    """A money amount found in a text: value, where it was (character span) and whether a currency mark was on it."""

    value: Decimal
    start: int
    end: int
    text: str
    currency_mark: str | None = None


def clean_numbers(text: str) -> str:
    """Repair OCR confusions inside things shaped like amounts, and join digits split around the decimal point."""
    text = _SPACED.sub(lambda m: m.group(1) or m.group(2), text)

    def fix(match: re.Match[str]) -> str:
        run = match.group(0)
        if run[0] in "SB" and run[1:2].isdigit():
            # "$" and "฿" are misread as S and B: "S5.00" is $5.00, not 55.00
            return run[1:].translate(_CONFUSIONS)
        fixed = run.translate(_CONFUSIONS)
        # only a run with at least one real digit is a number; "SO.OO" alone could be a word
        return fixed if any(c.isdigit() for c in run) else run

    return _SUSPECT.sub(fix, text)


def _value(int_part: str, sep: str | None, dec: str) -> Decimal | None:
    digits = int_part.replace(sep, "") if sep else int_part
    if sep is not None and sep == dec[0]:
        return None  # "1,234,56" is not a number
    try:
        return Decimal(f"{digits or '0'}.{dec[1:]}")
    except InvalidOperation:
        return None


def find_amounts(text: str) -> list[Amount]:
    """Every amount with two decimals in ``text`` (after ``clean_numbers``), left to right.

    Trailing minus (``1.50-``) and a minus before or after the currency mark make the amount negative.
    """
    cleaned = clean_numbers(text)
    found: list[Amount] = []
    for match in _AMOUNT.finditer(cleaned):
        value = _value(match.group("int"), match.group("sep"), match.group("dec"))
        if value is None:
            continue
        if match.group("sign") or match.group("sign2") or match.group("trail"):
            value = -value
        found.append(Amount(value, match.start(), match.end(), match.group(0).strip(), match.group("cur")))
    return found


# a number glued to a letter ("59.J0", "A480804") is a misread or a code, never a whole amount
_WHOLE = re.compile(
    rf"""(?<![\d.,:/A-Za-z-])
    (?P<cur>{CURRENCY_MARKS}|IDR|JPY|KRW|VND|¥|₩|₫)?\s?
    (?P<int>\d{{1,3}}(?P<sep>[,.'])\d{{3}}(?:(?P=sep)\d{{3}})*|\d{{1,6}})
    (?![\d.,:/-])""",
    re.VERBOSE,
)


def find_whole_amounts(text: str) -> list[Amount]:
    """Every amount printed without cents in ``text``, left to right: ``134,999`` and ``Rp 25.000`` (a separator
    before three digits groups thousands), ``¥1280``. For receipts in a currency without minor units (rupiah, yen,
    won) or rounded to whole units; a plain number is as likely a count or a code, so callers decide."""
    cleaned = clean_numbers(text)
    found: list[Amount] = []
    for match in _WHOLE.finditer(cleaned):
        digits = match.group("int").replace(match.group("sep") or "_", "")
        found.append(Amount(Decimal(digits), match.start(), match.end(), match.group(0).strip(), match.group("cur")))
    return found


def parse_amount(text: str) -> Decimal | None:
    """The last amount in ``text`` (receipts print the value right of its label), or None."""
    amounts = find_amounts(text)
    return amounts[-1].value if amounts else None


_INTEGER = re.compile(r"(?<![\d.,])\d{1,4}(?![\d.,])")


def parse_quantity(text: str) -> Decimal | None:
    """A small whole quantity (``2``, ``2x``, ``x2``, ``2 @``) in ``text``, or None."""
    match = re.search(r"(?<![\d.,])(\d{1,3})\s?[xX@*]|[xX]\s?(\d{1,3})(?![\d.,])", text)
    if match:
        return Decimal(match.group(1) or match.group(2))
    return None


def misread_as(printed: str, value: Decimal) -> bool:
    """Whether ``printed`` (an amount OCR damaged: ``59.J0``, ``40.1``) is ``value`` with one character misread,
    lost or added; the decimal point must be there and at least three of its characters must be digits."""
    token = re.sub(r"^[^\d]+", "", printed.strip())
    target = f"{value:.2f}"
    if ("." not in token and "," not in token) or sum(c.isdigit() for c in token) < 3 or token == target:
        return False
    token = token.replace(",", ".")
    if len(token) == len(target):
        return sum(a != b for a, b in zip(token, target, strict=True)) == 1
    short, long = sorted((token, target), key=len)
    return len(long) - len(short) == 1 and any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
