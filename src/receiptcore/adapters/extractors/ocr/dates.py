"""Dates and times in OCR text: numeric (day-first, month-first, year-first) and with month names, glued to
times or ids, ambiguous readings resolved by validity and a locale hint.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from receiptcore.adapters.extractors.ocr.date_repair import normalise, repair

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
# the same with the day or month first ("8/02/2010 17:43" read "870272010 17:43"); the year has four digits
_DMY_SLASHES_AS_DIGITS = re.compile(
    r"(?<!\d)(?P<first>\d{1,2})(?P<sep>[17])(?P<second>\d{2})(?P=sep)(?P<year>(?:19|20)\d{2})(?=\s?[0-2]?\d:[0-5]\d)"
)
# one separator lost before a four-digit year and a clock time ("12/052017 13:45", "1205/2017 13:45")
_BEFORE_TIME = r"(?=\s?[0-2]?\d\s?:\s?[0-5]\d)"
_DMY_LOST_SEPARATORS = (
    re.compile(r"(?<![\d/.-])(?P<first>\d{1,2})[-/.](?P<second>\d{2})(?P<year>(?:19|20)\d{2})" + _BEFORE_TIME),
    re.compile(r"(?<![\d/.-])(?P<first>\d{1,2})(?P<second>\d{2})[-/.](?P<year>(?:19|20)\d{2})" + _BEFORE_TIME),
)
# a year-first date printed without separators, then a clock time ("20170512 13:45")
_YMD_COMPACT = re.compile(r"(?<!\d)((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=\s[0-2]?\d:[0-5]\d)")
# the second half of a four-digit year split off by a space ("12/05/20 17"), not an hour ("12/05/20 17:45")
_YEAR_REST = re.compile(r"\s(\d{2})(?![\d:.,])")
# a four-digit year glued to what follows: a time ("27Mar201712:30") or a stray mark read as a digit ("20171")
_GLUED_YEAR = r"(?:19|20)\d{2}(?=\d)"
# a month name starts a word, or follows a weekday whose space OCR lost ("ThuJun15,2017", "SATURDAYMAR 4")
_NOT_IN_WORD = r"(?:(?<![A-Za-z])|(?<=mon|tue|wed|thu|fri|sat|sun|day|urs|ues|MON|TUE|WED|THU|FRI|SAT|SUN|DAY|URS|UES))"
# two digits before a colon are the hour of a clock time, not a year ("Jun 15 12:47:59 2011")
_SHORT_YEAR = r"\d{2}(?!\d)(?!\s?:\s?\d)"
# ... unless a clock time follows them glued ("12MAY1713:45": '17, 13:45)
_SHORT_YEAR_GLUED = r"\d{2}(?=[0-2]?\d\s?:\s?[0-5]\d)"
_FOUR_DIGIT_YEAR = r"(?:19|20)\d{2}(?!\d)"
_D_MON_Y = re.compile(
    rf"(?<![\d])(\d{{1,2}})(?:st|nd|rd|th)?\s?[-/ .]?\s?(?:(?:de|of)\s)?({_MONTH_RE})\.?\s?[-/ .,']?\s?(?:de\s)?'?"
    rf"({_FOUR_DIGIT_YEAR}|{_GLUED_YEAR}|(?<=[a-z])[12]\d{{2}}(?!\d)|{_SHORT_YEAR}|{_SHORT_YEAR_GLUED})",
    re.IGNORECASE,
)
_MON_D_Y = re.compile(
    rf"{_NOT_IN_WORD}({_MONTH_RE})\.?\s?[-/ .]?\s?(\d{{1,2}})(?:st|nd|rd|th)?"
    rf"(?:\s?[-/,.']\s?'?|\s'?|(?<=[a-z.]\d\d))({_FOUR_DIGIT_YEAR}|{_GLUED_YEAR}|{_SHORT_YEAR}|{_SHORT_YEAR_GLUED})",
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
EARLIEST_YEAR = 1980
LATEST_YEAR = 2045


@dataclass(frozen=True, slots=True)
class DateMatch:
    """A date read from a text: the preferred reading, every valid reading, the character span, and whether the
    reading repaired OCR damage (look-alike characters, separators read as digits or lost, a year split or glued to
    a time) rather than reading the date as printed."""

    value: dt.date
    readings: tuple[dt.date, ...]
    start: int
    end: int
    text: str
    repaired: bool = False


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


def _glued_short_year(text: str, match: re.Match[str]) -> bool:
    """Whether a month-name date's last group is a two-digit year with a clock time glued to it."""
    return len(match.group(3)) == 2 and text[match.end() : match.end() + 1].isdigit()


@dataclass(slots=True)
class _Reader:
    """The dates of one text as they are found: a later pattern does not read where an earlier one did."""

    printed: str  # the text normalised
    text: str  # the same with OCR damage repaired, one character for one
    month_first: bool
    found: list[DateMatch] = field(default_factory=list)

    def either(self, year: int | None, first: int, second: int) -> list[dt.date | None]:
        """Both readings of an ambiguous numeric date, the receipt's order first."""
        day_first, month_first = _date(year, second, first), _date(year, first, second)
        return [month_first, day_first] if self.month_first else [day_first, month_first]

    def add(
        self, readings: list[dt.date | None], match: re.Match[str], end: int | None = None, *, tolerant: bool = False
    ) -> None:
        """Keep the valid ``readings`` of ``match`` (to ``end``) unless an earlier date overlaps it."""
        valid = tuple(dict.fromkeys(r for r in readings if r is not None))
        start, stop = match.start(), end if end is not None else match.end()
        if valid and not any(d.start < stop and start < d.end for d in self.found):
            repaired = tolerant or self.text[start:stop] != self.printed[start:stop]
            self.found.append(DateMatch(valid[0], valid, start, stop, self.text[start:stop], repaired))


def _read_numeric(r: _Reader) -> None:
    for m in _YMD.finditer(r.text):
        year, month = int(m.group(1)), int(m.group(3))
        day_text = m.group(4)
        day = _date(year, month, int(day_text))
        end = m.end()
        if day is None and len(day_text) == 2:
            day, end = _date(year, month, int(day_text[0])), m.end() - 1
        r.add([day], m, end)
    for m in _DMY.finditer(r.text):
        if m.group(3) == "." and (m.group(2), m.group(4)) != (m.group(6), m.group(7)):
            continue  # "53273 1. 16.00": a dotted date spaces its two dots alike, an amount after a number does not
        year_text = _split_year(m.group(8))
        end = m.start(8) + len(year_text)
        rest = _YEAR_REST.match(r.text, end) if year_text in ("19", "20") else None
        if rest is not None:
            year_text, end = year_text + rest.group(1), rest.end()
        r.add(r.either(_year(year_text), int(m.group(1)), int(m.group(5))), m, end, tolerant=rest is not None)
    for m in _DMY_LOOSE.finditer(r.text):
        r.add(r.either(_year(m.group(3)), int(m.group(1)), int(m.group(2))), m, tolerant=True)


def _read_named(r: _Reader) -> None:
    for m in _D_MON_Y.finditer(r.text):
        glued = _glued_short_year(r.text, m)
        r.add([_date(_year(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))], m, tolerant=glued)
    for m in _MON_D_TIME_Y.finditer(r.text):
        r.add([_date(int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2)))], m)
    for m in _Y_MON_D.finditer(r.text):
        r.add([_date(int(m.group(1)), _MONTHS[m.group(2).lower()], int(m.group(3)))], m)
    for m in _MON_D_Y.finditer(r.text):
        glued = _glued_short_year(r.text, m)
        r.add([_date(_year(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2)))], m, tolerant=glued)
    for m in _CJK.finditer(r.text):
        r.add([_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))], m)


def _read_damaged(r: _Reader) -> None:
    """Numeric dates whose separators OCR read as digits or lost, beside a clock time."""
    for m in _YMD_SLASHES_AS_DIGITS.finditer(r.text):
        r.add([_date(int(m.group(1)), int(m.group(3)), int(m.group(4)))], m, tolerant=True)
    for m in _YMD_COMPACT.finditer(r.text):
        r.add([_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))], m, tolerant=True)
    for pattern in (_DMY_SLASHES_AS_DIGITS, *_DMY_LOST_SEPARATORS):
        for m in pattern.finditer(r.text):
            r.add(r.either(int(m.group("year")), int(m.group("first")), int(m.group("second"))), m, tolerant=True)


def find_dates(text: str, month_first: bool = False) -> list[DateMatch]:
    """Every date in ``text``. Ambiguous numeric dates prefer day-first unless ``month_first``."""
    printed = normalise(text)
    reader = _Reader(printed, repair(printed, _MONTHS), month_first)
    for read in (_read_numeric, _read_named, _read_damaged):
        read(reader)
    return sorted(reader.found, key=lambda d: d.start)


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
