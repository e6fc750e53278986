"""How sure the rule parser is of each headline field (merchant, date, total): the independent cues on the receipt
that confirm the reading, counted, and the count mapped to the share of such readings that were right.

A total printed on a row labelled "TOTAL" that is also the subtotal plus the taxes and what the card paid is
rarely wrong; a number chosen because nothing else was on offer often is. Each field has a few cues that do not
depend on one another (a label, arithmetic, a payment, the print size, a repeat elsewhere on the receipt); some
readings also carry a doubt (two different dates, a name of two letters). The confidence is
``LEVELS[field][cues - doubts]`` (clamped to the table), lowered for a row the OCR itself read poorly. The levels
are the measured share right per cue count on the main development set (docs/extractors.md, "Review decision");
the review decision (``receiptcore.domain.review``) compares them with its thresholds.

Pure: no OCR, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from receiptcore.adapters.extractors.ocr.address import evidence as address_evidence
from receiptcore.adapters.extractors.ocr.dates import find_dates, find_time
from receiptcore.adapters.extractors.ocr.header import Header
from receiptcore.adapters.extractors.ocr.labels import Kind, classify, total_strength
from receiptcore.adapters.extractors.ocr.numbers import find_amounts
from receiptcore.adapters.extractors.ocr.text import compact, digits, letters
from receiptcore.adapters.extractors.ocr.totals import CENT, Summary
from receiptcore.adapters.extractors.ocr.types import Line

# share right by net cue count (cues - doubts, from 0 up); the last level holds for every higher count
LEVELS: dict[str, tuple[float, ...]] = {
    "total": (0.77, 0.965, 0.99),
    "purchase_date": (0.8, 0.944, 0.977),
    "merchant.name": (0.485, 0.955),
}
# a reading the receipt shows to be damaged (a year cut short) is as likely wrong as right
FLAWED = 0.5
# a row whose weakest word the OCR scored below this is doubtful whatever the cues say
POOR_PRINT = 0.75
# a shop name with a word the OCR scored below this is a doubt: names are short, so one misread word changes them
UNCERTAIN_NAME = 0.9


@dataclass(frozen=True, slots=True)
class Evidence:
    """What speaks for and against one field's reading."""

    cues: tuple[str, ...]
    doubts: tuple[str, ...] = ()  # each outweighs one cue
    flaws: tuple[str, ...] = ()  # the reading itself is damaged: the lowest level whatever the cues


def level(field: str, evidence: Evidence, print_score: float = 1.0) -> float:
    """The confidence of ``field`` given ``evidence`` on rows whose weakest word scored ``print_score``."""
    table = LEVELS[field]
    if evidence.flaws:
        return FLAWED
    net = len(evidence.cues) - len(evidence.doubts)
    value = table[max(0, min(len(table) - 1, net))]
    if print_score < POOR_PRINT:
        value = min(value, table[1])
    return round(value, 3)


def _near(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= CENT


def _extras(summary: Summary) -> set[Decimal]:
    """What may lie between the subtotal and the total: taxes, tip, service, discount, rounding (in any subset
    the receipt plausibly prints)."""
    taxes = sum((t[0].value for t in summary.taxes), Decimal(0))
    plus = sum((r.value for r in (summary.tip, summary.service) if r is not None), Decimal(0))
    minus = abs(summary.discount.value) if summary.discount else Decimal(0)
    rounding = summary.rounding.value if summary.rounding else Decimal(0)
    return {taxes + plus - minus + rounding, taxes + plus - minus, plus - minus + rounding, plus - minus}


def total_evidence(lines: list[Line], summary: Summary, items_sum: Decimal | None) -> Evidence:
    """Cues for the chosen total: its label, the arithmetic of subtotal and charges, the payment, the line items,
    being the largest amount of the summary, and being printed more than once."""
    if summary.total is None:
        return Evidence(())
    total = summary.total.value
    row = summary.total.line
    cues: list[str] = []
    doubts: list[str] = []
    labelled = classify(row.text) == Kind.TOTAL
    if labelled:
        cues.append("label")
    if summary.subtotal is not None:
        extras = _extras(summary)
        if any(e and _near(summary.subtotal.value + e, total) for e in extras):
            cues.append("subtotal + charges")
    own_rows = {id(summary.total.line), id(summary.total.value_line)}
    paid = [r for r in summary.tendered if id(r.line) not in own_rows]
    change = summary.change.value if summary.change is not None else Decimal(0)
    if any(_near(r.value - change, total) for r in paid):
        cues.append("payment")
    if items_sum is not None and items_sum > 0 and _near(items_sum, total):
        cues.append("line items")
    start = summary.first_row if summary.first_row is not None else 0
    # printed again on a row that is neither the total's own nor a payment (those count as "payment")
    payment_rows = own_rows | {id(r.line) for r in summary.tendered} | {id(r.value_line) for r in summary.tendered}
    again = [
        a.value
        for line in lines[start:]
        if id(line) not in payment_rows
        for a in find_amounts(line.text)
        if _near(a.value, total)
    ]
    if again:
        cues.append("repeated")
    if not labelled and "payment" not in cues and "subtotal + charges" not in cues:
        doubts.append("unlabelled")
    skip = (Kind.TENDERED, Kind.CHANGE, Kind.SUBTOTAL) if summary.discount else (Kind.TENDERED, Kind.CHANGE)
    larger = [
        a.value
        for line in lines[start:]
        if classify(line.text) not in skip
        for a in find_amounts(line.text)
        if a.value > total + CENT
    ]
    if larger:
        doubts.append("a larger amount")  # outside payments, the total is the largest figure of the summary

    others = {
        a.value
        for line in lines[start:]
        if classify(line.text) == Kind.TOTAL and total_strength(line.text) >= total_strength(row.text)
        for a in find_amounts(line.text)[-1:]
        if a.value > 0 and not _near(a.value, total)
    }
    if others and len(cues) < 3:
        doubts.append("another total")
    return Evidence(tuple(cues), tuple(doubts))


_GLUED_TIME = re.compile(r"\d{1,2}\s?:\s?\d{2}")  # "20/03/1813:48": a time glued to the year is no misread
_YEAR_FIRST_SHORT_DAY = re.compile(r"(?:19|20)\d{2}\s?[-/.]\s?\d{1,2}\s?[-/.]\s?\d")
_DATE_LABEL = ("DATE", "TARIKH", "DATUM", "FECHA", "DATED")


def date_evidence(lines: list[Line], date_line: Line, month_first: bool) -> Evidence:
    """Cues for the purchase date read from ``date_line`` (its first date): a date label, a clock time beside
    it, a reading with only one valid interpretation, and no other date on the receipt; a different date
    elsewhere is a doubt."""
    cues: list[str] = []
    doubts: list[str] = []
    flaws: list[str] = []
    matches = find_dates(date_line.text, month_first=month_first)
    if not matches:
        return Evidence(())
    chosen = matches[0]
    value = chosen.value
    if any(label in compact(date_line.text) for label in _DATE_LABEL):
        cues.append("label")
    if find_time(date_line.text) is not None:
        cues.append("time")
    if len(chosen.readings) == 1:
        cues.append("one reading")
    after = date_line.text[chosen.end :]
    two_digit_year = len(re.findall(r"\d+", chosen.text)[-1]) == 2
    if two_digit_year and after[:1].isdigit() and not _GLUED_TIME.match(after):
        flaws.append("cut year")  # "20/03/187": the year runs on, two of its digits were taken as the year
    if _YEAR_FIRST_SHORT_DAY.fullmatch(chosen.text.strip()) and not after.strip():
        flaws.append("cut day")  # "2013/05/2" ending the row: year-first dates pad the day, the rest was cut off
    others = {m.value for line in lines for m in find_dates(line.text, month_first=month_first)} - {value}
    if not others:
        cues.append("only date")
    elif any(abs((other - value).days) > 1 for other in others):
        doubts.append("another date")
    return Evidence(tuple(cues), tuple(doubts), tuple(flaws))


_NAME_TOKEN = re.compile(r"[A-Za-z]{4,}")
_COMMON = frozenset(
    {"SDN", "BHD", "BERHAD", "ENTERPRISE", "ENTERPRISES", "TRADING", "RESTAURANT", "RESTORAN", "STORE", "STORES",
     "MARKET", "SUPERMARKET", "SHOP", "CAFE", "COFFEE", "THE", "AND", "COMPANY", "LIMITED", "CORPORATION", "HARDWARE",
     "STATIONERY", "KEDAI", "MART", "FOOD", "BAKERY", "GROCERY", "PHARMACY", "CENTRE", "CENTER", "SERVICES"}
)  # fmt: skip
_NOISE = re.compile(r"[.:;,]{2}|[.:;]\(|[_|<>{}\[\]]|\s[.:;,]\S|^\W")
_NUMBER_FIRST = re.compile(r"^\s*\d")
# the store's small print (its returns policy) read as the name: "Goods Sold Are Not Returnable" sits at the top of
# some receipts as well as the bottom, so it even looks "printed again"
_NOTICE = re.compile(r"RETURNABLE|REFUND|EXCHANGE|GOODS\s?SOLD", re.I)
_LEGAL = re.compile(r"\b(SDN\.?\s?BHD|BHD|BERHAD|S/B|PLT|LTD|LIMITED|LLC|INC|GMBH|CORP|PTY|PTE|LLP|PLC)\b", re.I)


def _one_glyph(name: str) -> bool:
    """Whether one character makes up more than half of ``name``: a pattern or logo OCR read as text."""
    glyphs = [c for c in name if not c.isspace()]
    return len(glyphs) >= 6 and max(glyphs.count(c) for c in set(glyphs)) > len(glyphs) / 2


def merchant_evidence(lines: list[Line], name: str, name_lines: list[Line], header_end: int) -> Evidence:
    """Cues for the merchant name: a company form, the top of the receipt, a print larger than the rest, and a
    distinctive word of it printed again further down (a web address, a thank-you line); a name of a few letters
    or mostly digits, stray marks, one glyph repeated, a word the OCR was unsure of, and a street or place line
    ("Fern Park, FL": a comma) are doubts, and so is a returns notice ("Goods Sold Are Not Returnable"), whose
    repeat at the foot is no cue."""
    cues: list[str] = []
    doubts: list[str] = []
    if _LEGAL.search(name):
        cues.append("company form")
    if name_lines and name_lines[0].index <= 1:
        cues.append("top")
    heights = sorted(line.height for line in lines[: max(header_end, 8)])
    typical = heights[len(heights) // 2] if heights else 0.0
    if name_lines and typical and max(line.height for line in name_lines) >= 1.25 * typical:
        cues.append("large print")
    tokens = {t.upper() for t in _NAME_TOKEN.findall(name)} - _COMMON
    below = compact(" ".join(line.text for line in lines if line.index > max(header_end, name_lines[-1].index + 1)
                             )) if name_lines else ""  # fmt: skip
    if tokens and any(t in below for t in tokens):
        cues.append("printed again")
    if letters(name) < 4 or digits(name) > letters(name) / 2:
        doubts.append("not a name")
    if _NOISE.search(name) or _one_glyph(name):
        doubts.append("stray marks")
    if name_lines and min(line.score for line in name_lines) < UNCERTAIN_NAME:
        doubts.append("uncertain print")
    if _NOTICE.search(name):
        doubts.append("a notice")
        if "printed again" in cues:  # its repeat is the receipt's footer, not the shop's name again
            cues.remove("printed again")
    legal = "company form" in cues
    if not legal and (_NUMBER_FIRST.match(name) or address_evidence(name) >= 2 or "," in name):
        doubts.append("reads like an address")  # a street or place line or a store number, more often than a name
    return Evidence(tuple(cues), tuple(doubts))


def headline_evidence(
    lines: list[Line],
    header: Header,
    *,
    summary: Summary,
    items_sum: Decimal | None,
    date_line: Line | None,
    month_first: bool,
) -> dict[str, tuple[Evidence, float]]:
    """Per headline field the parser read (provenance path): its evidence and the OCR score of the weakest word
    on the rows it was read from."""
    out: dict[str, tuple[Evidence, float]] = {}
    if summary.total is not None:
        rows = {id(r): r for r in (summary.total.line, summary.total.value_line)}.values()
        out["total"] = (total_evidence(lines, summary, items_sum), min(r.score for r in rows))
    if date_line is not None:
        out["purchase_date"] = (date_evidence(lines, date_line, month_first), date_line.score)
    if header.name and header.name_lines:
        evidence = merchant_evidence(lines, header.name, header.name_lines, header.end)
        out["merchant.name"] = (evidence, min(r.score for r in header.name_lines))
    return out
