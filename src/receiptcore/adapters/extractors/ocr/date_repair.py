"""OCR damage inside a date, repaired before the date patterns read it: letters read for digits in a numeric date
(``O8/26/2O17``, ``1S/05/2017``), digits or look-alike letters read for the letters of a month name (``0ct``,
``Ju119'14``, ``20Har217``, ``N0V``, ``Dcc``), dash-like marks for a hyphen, curly quotes for an apostrophe,
full-width digits for ASCII ones.

Every repair replaces one character with one, so a span found in the repaired text is the same span in the
printed one. A repair only makes a date readable that the receipt shows: a month word is repaired when its
characters are, one for one, look-alikes of exactly one month name's, and it stands next to a number; a numeric
date when at least four of its characters are real digits; the date patterns then still demand a valid date.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["normalise", "repair", "repair_digits", "repair_months"]

# characters an OCR engine confuses, each class written as one canonical character; a month word is a month
# name when their canonical spellings agree ("Har" and "Mar" are both "MAR", "0ec" and "Dec" both "OCC")
_LOOKALIKES = {
    "O": "O", "0": "O", "D": "O", "Q": "O",
    "I": "I", "L": "I", "1": "I", "|": "I", "!": "I",
    "S": "S", "5": "S", "B": "B", "8": "B", "G": "G", "6": "G", "9": "G",
    "Z": "Z", "2": "Z", "M": "M", "H": "M", "U": "U", "V": "U", "C": "C", "E": "C",
}  # fmt: skip
# a run of letters and digits: a month word may sit inside one, between a day and a year ("270ec'16")
_RUN = re.compile(r"[A-Za-z0-9|!]+")
_DIGIT_BEFORE = re.compile(r"\d\s?[-/.]?\s?$")
_DIGIT_AFTER = re.compile(r"^\s?['.,/-]?\s?\d")
# misreads the look-alike classes do not cover (a t for an r) or two look-alikes in one word
_MONTH_FIXES = {"apt": "apr", "n0u": "nov"}
# faint print and low resolution turn a date's hyphen into a tilde or a dash-like mark ("05~05-17")
_DASH_LIKE = re.compile(r"(?<=\d)[~\u2013\u2014\u2212](?=\d)")
# a numeric date with letters OCR put for digits ("O8/26/2O17", "0l/05/18", "1S/05/2017"); separators agree
_DIGITISH = re.compile(
    r"(?<![A-Za-z0-9])[0-9OoIl|SBZ]{1,4}([-/.])[0-9OoIl|SBZ]{1,2}\1[0-9OoIl|SBZ]{2,4}(?![A-Za-z0-9])"
)
_LETTER_DIGITS = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1", "S": "5", "B": "8", "Z": "2"})
# OCR reads the apostrophe of "Mar06'16" as a curly quote, a backtick, an accent or a prime
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u2032": "'", '"': "'"})
# full-width forms (East Asian receipts print the date in U+FF10-U+FF19 digits, with U+FF0F, U+FF0D, U+FF0E,
# U+FF1A for / - . :)
_FULL_WIDTH = str.maketrans(
    {chr(0xFF10 + d): str(d) for d in range(10)} | {"\uff0f": "/", "\uff0d": "-", "\uff0e": ".", "\uff1a": ":"}
)


def _canonical(word: str) -> str:
    return "".join(_LOOKALIKES.get(c, c) for c in word.upper())


# the month words a misspelling is repaired to: the English abbreviations (and German Okt); "Ma11" (a mall) is
# one look-alike from German "Mai", so the other languages' short forms are only read as printed
_TARGETS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", "okt")
_CANONICAL_MONTHS = {_canonical(word): word for word in _TARGETS}
# month names long enough that one wrong letter leaves them unmistakable ("Decemher", "Januarv")
_LONG_NAMES = ("january", "february", "august", "september", "october", "november", "december")


def _long_name(run: str) -> str | None:
    """The long month name ``run`` (letters only) spells with one letter wrong, if any."""
    lower = run.lower()
    for name in _LONG_NAMES:
        if len(name) == len(lower) and sum(a != b for a, b in zip(name, lower, strict=True)) == 1:
            return name
    return None


def _month_in(run: str, months: Mapping[str, int]) -> tuple[int, int, str] | None:
    """Where in ``run`` (letters and digits) a three-character month word misspelt by one look-alike holds all
    its letters, and the month word: ``("270ec", ...)`` → ``(2, 5, "dec")``."""
    letters = [i for i, c in enumerate(run) if c.isalpha()]
    if len(letters) < 2 or letters[-1] - letters[0] > 2:
        return None
    first, last = letters[0], letters[-1] + 1
    if run[first:last].lower() in months:
        return None  # spelt right: nothing to repair
    for start in range(max(0, last - 3), min(first, len(run) - 3) + 1):
        core = run[start : start + 3].lower()
        if core in _MONTH_FIXES:
            return start, start + 3, _MONTH_FIXES[core]
        word = _CANONICAL_MONTHS.get(_canonical(core))
        # one character misread, not two: "20CZ" (20 oz) is no "2Dez"
        if word is not None and sum(a != b for a, b in zip(core, word, strict=True)) <= 1:
            return start, start + 3, word
    return None


def repair_months(text: str, months: Mapping[str, int]) -> str:
    """Month words OCR spelt with look-alike characters, beside a number, respelt as the month word."""
    out = list(text)
    for run in _RUN.finditer(text):
        name = _long_name(run.group(0)) if run.group(0).isalpha() else None
        found = (0, len(name), name) if name is not None else _month_in(run.group(0), months)
        if found is None:
            continue
        start, end = run.start() + found[0], run.start() + found[1]
        beside_number = start > run.start() or end < run.end()
        if not beside_number:
            beside_number = bool(_DIGIT_BEFORE.search(text[:start]) or _DIGIT_AFTER.match(text[end:]))
        if beside_number:
            out[start:end] = found[2].title()
    return "".join(out)


def repair_digits(text: str) -> str:
    """Letters read for digits inside a numeric date with at least four real digits."""

    def fix(match: re.Match[str]) -> str:
        token = match.group(0)
        return token.translate(_LETTER_DIGITS) if sum(c.isdigit() for c in token) >= 4 else token

    return _DIGITISH.sub(fix, text)


def normalise(text: str) -> str:
    """``text`` with the marks that print differently but mean the same (curly quotes, full-width digits, dashes
    between digits) written as ASCII, one character for one: no reading of a date changes by it."""
    return _DASH_LIKE.sub("-", text.translate(_QUOTES).translate(_FULL_WIDTH))


def repair(text: str, months: Mapping[str, int]) -> str:
    """``text`` (normalised) with look-alike characters inside month words and numeric dates repaired, one
    character for one."""
    return repair_digits(repair_months(text, months))
