"""Line items: the rows between the header and the money summary that pair a description with an amount.

A description printed on its own row is joined with the amounts on the row below (common on long thin
receipts). Quantities come from ``2 x 3.50`` / ``2 @ 3.50`` patterns or a small leading number; when a row has
two amounts they are read as unit price and line amount.
"""

from __future__ import annotations

import re
from decimal import Decimal

from receiptcore.adapters.extractors.ocr.dates import find_dates
from receiptcore.adapters.extractors.ocr.labels import Kind, classify
from receiptcore.adapters.extractors.ocr.numbers import clean_numbers, find_amounts
from receiptcore.adapters.extractors.ocr.text import compact, letters
from receiptcore.adapters.extractors.ocr.types import Line
from receiptcore.domain.receipt import LineItem

MAX_ITEMS = 200
_HEADINGS = ("QTY", "DESCRIPTION", "DESC", "ITEM", "PRICE", "AMOUNT", "AMT", "UNIT", "PRODUCT", "TOTAL")
_NOT_ITEM = re.compile(
    r"\b(TEL|FAX|GST\s?(?:ID|REG|NO)|INVOICE|CASHIER|DATE|TIME|TABLE|RECEIPT|SERVER|MEMBER|POINTS|BALANCE|CHANGE|"
    r"CASH|TERMINAL|AUTH|APPROVED|CARD|VISA|MASTERCARD|AMEX|TENDERED?|ACCOUNT|TRANS)\b",
    re.IGNORECASE,
)
_TRAILING_NUMBERS = re.compile(r"(?:\s+\d{1,4})+$")
_TRAILING_CURRENCY = re.compile(r"\s+(?:RM|MYR|USD|EUR|GBP|AUD|SGD|AED|INR|IDR|Rp|\$|€|£)$", re.IGNORECASE)
_HEADING_START = re.compile(r"^\s*(DESCRIPTION|DESC|ITEM|QTY|PRODUCT|ARTICLE)\b", re.IGNORECASE)
_LEAD_QTY = re.compile(r"^\s*(\d{1,3})(?:\s?[xX*@](?=\s|\d)|\s)\s*(?=\D)")
_QTY_AT = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.,]\d{1,3})?)\s?(?:[xX*@]|PCS?|UNITS?|EA)\s?(?:RM|\$|€|£)?\s?(?=\d)")


def _is_heading(line: Line) -> bool:
    words = [compact(w) for w in line.text.split()]
    return sum(1 for w in words if w in _HEADINGS) >= 2


def _description(text: str) -> tuple[str, Decimal | None]:
    """Clean description and a quantity found in it."""
    quantity = None
    lead = _LEAD_QTY.match(text)
    if lead and int(lead.group(1)) <= 100:
        quantity = Decimal(lead.group(1))
        text = text[lead.end() :]
    # quantity and whole-number price columns, and a currency code, printed between the name and the amount
    text = _TRAILING_NUMBERS.sub("", _TRAILING_CURRENCY.sub("", text.rstrip()))
    return " ".join(text.split()).strip(" :-.,"), quantity


def items_start(lines: list[Line], header_end: int) -> int:
    """Where items begin: after the column heading row when there is one, else after the header."""
    for line in lines[header_end : header_end + 25]:
        if _is_heading(line):
            return line.index + 1
    return header_end


def parse_items(lines: list[Line], start: int, stop: int) -> list[tuple[LineItem, list[Line]]]:
    """Line items read from rows ``start`` (inclusive) to ``stop`` (exclusive), with their source rows."""
    items: list[tuple[LineItem, list[Line]]] = []
    pending: list[Line] = []
    for line in lines[start:stop]:
        text = clean_numbers(line.text)
        amounts = find_amounts(text)
        if classify(text) != Kind.OTHER or _NOT_ITEM.search(text) or find_dates(text) or _HEADING_START.match(text):
            pending = []
            continue
        if not amounts:
            if letters(text) >= 2 and not _is_heading(line):
                pending = [*pending[-1:], line]
            continue
        before = text[: amounts[0].start]
        description, quantity = _description(before)
        sources = [line]
        if letters(description) < 2 and pending:
            description, quantity = _description(" ".join(p.text for p in pending[-1:]) + " " + before)
            sources = [*pending[-1:], line]
        pending = []
        if letters(description) < 2:
            continue
        at = _QTY_AT.search(text)
        if at:
            quantity = Decimal(at.group(1).replace(",", "."))
            description = _description(text[: at.start()])[0] or description
        amount = amounts[-1].value
        unit_price = amounts[-2].value if len(amounts) >= 2 else None
        if quantity is not None and unit_price is None and quantity > 1:
            unit_price = (amount / quantity).quantize(Decimal("0.01")) if quantity else None
        if quantity is not None and quantity <= 0:
            quantity = None
        item = LineItem(description=description[:500], quantity=quantity, unit_price=unit_price, amount=amount)
        items.append((item, sources))
        if len(items) >= MAX_ITEMS:
            break
    return items
