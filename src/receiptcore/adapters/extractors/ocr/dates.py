"""Dates and times in OCR text: numeric (day-first, month-first, year-first) and with month names, glued to
times or ids, ambiguous readings resolved by validity and a locale hint.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_MONTHS = {
    "jan": 1, "january": 1, "januari": 1, "januar": 1, "janv": 1, "janvier": 1, "enero": 1, "ene": 1,
    "feb": 2, "february": 2, "februari": 2, "februar": 2, "febr": 2, "fev": 2, "fevrier": 2, "février": 2,
    "febrero": 2, "mar": 3, "march": 3, "mac": 3, "mac.": 3, "mär": 3, "märz": 3, "marz": 3, "maerz": 3,
    "maart": 3, "mrt": 3, "mars": 3, "marzo": 3, "apr": 4, "april": 4, "avr": 4, "avril": 4, "abril": 4,
    "abr": 4, "may": 5, "mei": 5, "mai": 5, "mayo": 5, "jun": 6, "june": 6, "juni": 6, "juin": 6, "junio": 6,
    "jul": 7, "july": 7, "juli": 7, "julai": 7, "juil": 7, "juillet": 7, "julio": 7, "aug": 8, "august": 8,
    "ogos": 8, "aout": 8, "août": 8, "agosto": 8, "sep": 9, "sept": 9, "september": 9, "septembre": 9,
    "septiembre": 9, "oct": 10, "october": 10, "okt": 10, "oktober": 10, "octobre": 10, "octubre": 10,
    "nov": 11, "november": 11, "novembre": 11, "noviembre": 11, "dec": 12, "december": 12, "dis": 12,
    "disember": 12, "dez": 12, "dezember": 12, "déc": 12, "décembre": 12, "decembre": 12, "dic": 12,
    "diciembre": 12,
}  # fmt: skip
# a month is a whole word: "DISCOUNT 29.99", "Macaroon 1.09" and "Chow Mein 1 33" hold no month name
_MONTH_RE = "(?:" + "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True)) + ")(?![^\\W\\d_])"
# a date may follow a clock time whose space OCR lost ("13:4512/05/17")
_AFTER = r"(?:(?<!\d)|(?<=\d:\d\d))"
_YMD = re.compile(_AFTER + r"((?:19|20)\d{2})\s?([-/.])\s?(\d{1,2})\s?\2\s?(\d{1,2})")
_DMY = re.compile(_AFTER + r"(\d{1,2})(\s?)([-/.])(\s?)(\d{1,2})(\s?)\3(\s?)(\d{2,4})")
# a slash misread as l, I, | or a backslash, or two different separators: only before a four-digit year
_DMY_LOOSE = re.compile(r"(?<![\d/.,-])(\d{1,2})\s?[-/.,lI|\\]\s?(\d{1,2})\s?[-/.,lI|\\]\s?((?:19|20)\d{2})(?!\d)")
# Chinese, Japanese and Korean receipts: 2017年5月12日, 2017년 5월 12일
_CJK = re.compile(r"(?<!\d)((?:19|20)\d{2})\s?[年년]\s?(\d{1,2})\s?[月월]\s?(\d{1,2})\s?[日일]?")
# "2016/05/04 16:26" with both slashes read as 1 or 7 and the space lost: only zero-padded, glued to a time
_YMD_SLASHES_AS_DIGITS = re.compile(r"(?<!\d)((?:19|20)\d{2})([17])([01]\d)\2([0-3]\d)(?=\s?[0-2]?\d:[0-5]\d)")
# a four-digit year glued to what follows: a time ("27Mar201712:30") or a stray mark read as a digit ("20171")
_GLUED_YEAR = r"(?:19|20)\d{2}(?=\d)"
# a month name starts a word, or follows a weekday whose space OCR lost ("ThuJun15,2017", "SATURDAYMAR 4")
_NOT_IN_WORD = r"(?:(?<![A-Za-z])|(?<=mon|tue|wed|thu|fri|sat|sun|day|urs|ues|MON|TUE|WED|THU|FRI|SAT|SUN|DAY|URS|UES))"
# two digits before a colon are the hour of a clock time, not a year ("Jun 15 12:47:59 2011")
_SHORT_YEAR = r"\d{2}(?!\d)(?!\s?:\s?\d)"
_D_MON_Y = re.compile(
    rf"(?<![\d])(\d{{1,2}})(?:st|nd|rd|th)?\s?[-/ .]?\s?(?:(?:de|of)\s)?({_MONTH_RE})\.?\s?[-/ .,']?\s?(?:de\s)?'?"
    rf"(\d{{4}}(?!\d)|{_GLUED_YEAR}|(?<=[a-z])[12]\d{{2}}(?!\d)|{_SHORT_YEAR})",
    re.IGNORECASE,
)
_MON_D_Y = re.compile(
    rf"{_NOT_IN_WORD}({_MONTH_RE})\.?\s?[-/ .]?\s?(\d{{1,2}})(?:st|nd|rd|th)?"
    rf"(?:\s?[-/,.']\s?'?|\s'?|(?<=[a-z.]\d\d))(\d{{4}}(?!\d)|{_GLUED_YEAR}|{_SHORT_YEAR})",
    re.IGNORECASE,
)
# the C library's date format: the clock time between the day and the year ("Wed Jun 15 12:47:59 2011")
_MON_D_TIME_Y = re.compile(
    rf"{_NOT_IN_WORD}({_MONTH_RE})\.?\s?(\d{{1,2}})\s[0-2]?\d:[0-5]\d(?::[0-5]\d)?\s((?:19|20)\d{{2}})(?!\d)",
    re.IGNORECASE,
)
# year first with a month name ("2017 DEC 30", "2017-Dec-30")
_Y_MON_D = re.compile(
    rf"(?<!\d)((?:19|20)\d{{2}})\s?[-/ .]?\s?({_MONTH_RE})\.?\s?[-/ .]?\s?(\d{{1,2}})(?!\d)", re.IGNORECASE
)
_TIME = re.compile(
    r"(?<!\d)([01]?\d|2[0-3])\s?:\s?([0-5]\d)(?:\s?:\s?([0-5]\d))?(?:\s?([AaPp])\.?\s?[Mm]\.?)?(?![\d])"
    r"|(?<!\d)(0?\d|1[0-2])[.:]([0-5]\d)\s?([AaPp])\.?\s?[Mm]\b"
)
_MONTH_FIXES = {"ju1": "Jul", "jui": "Jul", "har": "Mar", "0ct": "Oct", "dee": "Dec", "n0v": "Nov", "au9": "Aug",
                "5ep": "Sep", "apt": "Apr", "0ec": "Dec", "fe8": "Feb", "nou": "Nov", "n0u": "Nov",
                "au6": "Aug", "0kt": "Okt"}  # fmt: skip
_MONTH_FIX = re.compile(
    r"(?<![A-Za-z])(?:"
    + "|".join(_MONTH_FIXES)
    + r")(?=\s?['.,/-]?\s?\d)|(?<=\d)(?:"
    + "|".join(_MONTH_FIXES)
    + r")(?![a-z])",
    re.IGNORECASE,
)
# faint print and low resolution turn a date's hyphen into a tilde or a dash-like mark ("05~05-17")
_DASH_LIKE = re.compile(r"(?<=\d)[~\u2013\u2014\u2212](?=\d)")
# a numeric date with letters OCR put for digits ("O8/26/2O17", "0l/05/18"); the separators must agree
_DIGITISH = re.compile(r"(?<![A-Za-z0-9])[0-9OoIl|]{1,4}([-/.])[0-9OoIl|]{1,2}\1[0-9OoIl|]{2,4}(?![A-Za-z0-9])")
# OCR reads the apostrophe of "Mar06'16" as a curly quote, a backtick, an accent or a prime
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u2032": "'", '"': "'"})
# full-width forms (East Asian receipts print the date in U+FF10-U+FF19 digits, with U+FF0F, U+FF0D, U+FF0E,
# U+FF1A for / - . :): one character for one, so every span stays where it was
_FULL_WIDTH = str.maketrans(
    {chr(0xFF10 + d): str(d) for d in range(10)} | {"\uff0f": "/", "\uff0d": "-", "\uff0e": ".", "\uff1a": ":"}
)
_LETTER_DIGITS = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1"})
EARLIEST_YEAR = 1980
LATEST_YEAR = 2045


@dataclass(frozen=True, slots=True)
class DateMatch:
    """A date read from a text: the preferred reading, every valid reading, and the character span."""

    value: dt.date
    readings: tuple[dt.date, ...]
    start: int
    end: int
    text: str


def _year(text: str) -> int | None:
    if len(text) == 3:
        # "20Mar217": the apostrophe of '17 read as a digit; "201" is a cut-off 4-digit year, unreadable
        if text[:2] in ("19", "20"):
            return None
        text = text[1:]
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year if EARLIEST_YEAR <= year <= LATEST_YEAR else None


def _date(year: int | None, month: int, day: int) -> dt.date | None:
    if year is None:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _split_year(text: str) -> str:
    """A year glued to what follows ("201813:48" → "2018", "1813" → "18"); "201" is a cut-off year, kept whole."""
    if len(text) >= 3 and text[:2] in ("19", "20"):
        return text[:4]
    return text[:2]


def _fix_months(text: str) -> str:
    """Repair OCR misreads of month names next to digits (``Ju119'14``, ``20Har'17``, ``0ct``); same length."""

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        return _MONTH_FIXES.get(word.lower(), word)

    return _MONTH_FIX.sub(fix, text)


def _fix_digits(text: str) -> str:
    """Repair letters read for digits inside a numeric date with at least four real digits; same length."""

    def fix(match: re.Match[str]) -> str:
        token = match.group(0)
        return token.translate(_LETTER_DIGITS) if sum(c.isdigit() for c in token) >= 4 else token

    return _DIGITISH.sub(fix, text)


def find_dates(text: str, month_first: bool = False) -> list[DateMatch]:
    """Every date in ``text``. Ambiguous numeric dates prefer day-first unless ``month_first``."""
    text = _fix_digits(_DASH_LIKE.sub("-", _fix_months(text.translate(_QUOTES).translate(_FULL_WIDTH))))
    found: list[DateMatch] = []
    taken: list[tuple[int, int]] = []

    def add(readings: list[dt.date | None], match: re.Match[str], end: int | None = None) -> None:
        valid = tuple(dict.fromkeys(r for r in readings if r is not None))
        start, stop = match.start(), end if end is not None else match.end()
        if valid and not any(s < stop and start < e for s, e in taken):
            taken.append((start, stop))
            found.append(DateMatch(valid[0], valid, start, stop, text[start:stop]))

    for m in _YMD.finditer(text):
        year, month = int(m.group(1)), int(m.group(3))
        day_text = m.group(4)
        day = _date(year, month, int(day_text))
        end = m.end()
        if day is None and len(day_text) == 2:
            day, end = _date(year, month, int(day_text[0])), m.end() - 1
        add([day], m, end)
    for m in _DMY.finditer(text):
        if m.group(3) == "." and (m.group(2), m.group(4)) != (m.group(6), m.group(7)):
            continue  # "53273 1. 16.00": a dotted date spaces its two dots alike, an amount after a number does not
        first, second = int(m.group(1)), int(m.group(5))
        year_text = _split_year(m.group(8))
        printed_year = _year(year_text)
        end = m.start(8) + len(year_text)
        day_first, month_first_reading = _date(printed_year, second, first), _date(printed_year, first, second)
        order = [month_first_reading, day_first] if month_first else [day_first, month_first_reading]
        add(order, m, end)
    for m in _DMY_LOOSE.finditer(text):
        first, second, loose_year = int(m.group(1)), int(m.group(2)), _year(m.group(3))
        day_first, month_first_reading = _date(loose_year, second, first), _date(loose_year, first, second)
        add([month_first_reading, day_first] if month_first else [day_first, month_first_reading], m)
    for m in _D_MON_Y.finditer(text):
        add([_date(_year(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))], m)
    for m in _MON_D_TIME_Y.finditer(text):
        add([_date(int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2)))], m)
    for m in _Y_MON_D.finditer(text):
        add([_date(int(m.group(1)), _MONTHS[m.group(2).lower()], int(m.group(3)))], m)
    for m in _MON_D_Y.finditer(text):
        add([_date(_year(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2)))], m)
    for m in _CJK.finditer(text):
        add([_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))], m)
    for m in _YMD_SLASHES_AS_DIGITS.finditer(text):
        add([_date(int(m.group(1)), int(m.group(3)), int(m.group(4)))], m)
    found.sort(key=lambda d: d.start)
    return found


def find_time(text: str) -> tuple[dt.time, int, int] | None:
    """The first clock time in ``text`` (24-hour, or 12-hour with AM/PM), with its span; None when absent."""
    for m in _TIME.finditer(text):
        if m.group(1) is not None:
            hour, minute, second, half = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), m.group(4)
        else:
            hour, minute, second, half = int(m.group(5)), int(m.group(6)), 0, m.group(7)
        if half is not None and hour <= 12:
            hour = hour % 12 + (12 if half.lower() == "p" else 0)
        return dt.time(hour, minute, second), m.start(), m.end()
    return None
