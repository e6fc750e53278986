"""Line items: the rows between the header and the money summary that pair a description with an amount.

A description printed on its own row is joined with the amounts on the row below (common on long thin
receipts); rows printed without a price between items (modifiers, set components) are items of their own.
Quantities come from ``2 x 3.50`` / ``2 @ 3.50`` patterns or a small leading number; when a row has two amounts
they are read as unit price and line amount. Summary keywords count only as whole words here ("ICED COFFEE" is
an item, not an "OFF" discount).
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

from receiptcore.adapters.extractors.ocr.dates import find_dates
from receiptcore.adapters.extractors.ocr.item_names import item_name, letter_digits, row_boxes
from receiptcore.adapters.extractors.ocr.labels import Kind, classify_words
from receiptcore.adapters.extractors.ocr.numbers import clean_numbers, find_amounts
from receiptcore.adapters.extractors.ocr.text import compact, letters
from receiptcore.adapters.extractors.ocr.types import Line
from receiptcore.domain.receipt import LineItem

MAX_ITEMS = 200
_HEADINGS = ("QTY", "DESCRIPTION", "DESC", "ITEM", "PRICE", "AMOUNT", "AMT", "UNIT", "PRODUCT", "TOTAL")
_NOT_ITEM = re.compile(
    r"\b(TEL|FAX|GST\s?(?:ID|REG|NO)|INVOICE|CASHIER|DATE|TIME|TABLE|RECEIPT|SERVER|MEMBER|POINTS|BALANCE|CHANGE|"
    r"CASH|TERMINAL|AUTH|APPROVED|CARD|VISA|MASTERCARD|AMEX|TENDERED?|ACCOUNT|TRANS|"
    # how the order is served, and notes on a price printed under an item
    r"EAT\s?IN|DINE\s?IN|TAKE\s?(?:OUT|AWAY)|CARRY\s?OUT|DRIVE\s?THRU|PRICE\s?OVER(?:RIDE)?|"
    r"REG(?:ULAR)?\.?\s?PRICE|ORIG(?:INAL)?\.?\s?PRICE|YOU\s?SAVED?|NET\s?SALES|COMPARE\s?AT|WALK\s?IN|"
    # the party and the copy, greetings; totals abbreviated (TTL) or in other languages (Saldo, Netto, Subtotale,
    # Sconto, Contado, Pagado)
    r"GUESTS?|REPRINT|THANK\s?YOU|ABN|ORDER\s?(?:#|NO\b|NUMBER)|TILL|SERVED\s?BY|TTL|SALDO|NETTO|SUBTOTALE|SCONTO|CONTADO|PAGADO|BAL\.?\s?DUE|"
    # a price note under an item ("was .79 now .50"), the tip abbreviated ("GRAT 18%")
    r"WAS\b.*\bNOW|GRAT)(?![A-Za-z])",
    re.IGNORECASE,
)
# what the text before a row's amounts says when the row is a note on a price or a tax, not an item: a price note
# ("Final Price", "Package Price:", "PROMOTION", ".50 SAVED"; "OPEN PRICE" is a till's key for an item), India's
# GST parts (CGST, SGST, IGST), a tax note ("NON TAXABLE"), a label ending in a tax or service rate ("H-HST 13%",
# "MwSt 19 %"; fat and cocoa shares, "MILK 2%" and "DARK 70%", fall outside 4-30 %)
_NOTE = re.compile(
    r"(?<!OPEN\s)PRICE\s*[:.]?\s*$|\bPROMOTION\b|\bSAVED\b|YOU\s?SAVE|\b[CSI]GST\b|\bNON\W?TAXABLE\b|"
    r"(?<![\d.,])(?:[4-9]|[12]\d|30)(?:[.,]\d{1,3})?\s?%\s*$",
    re.IGNORECASE,
)
# what a receipt's foot says to the customer, never an item: greetings, a web or mail address, a survey
_FOOTER = re.compile(
    r"\bHAVE\s?A\s?(?:NICE|GREAT|GOOD)\b|\bCOME\s?AGAIN\b|\bPLEASE\b|\bWELCOME\b|\bVISIT\s?US\b|\bFOLLOW\s?US\b|"
    r"\bWWW\.|\.COM\b|HTTPS?:|\S@\S+\.[A-Z]{2,}|\bSURVEY\b|\bFEEDBACK\b",
    re.IGNORECASE,
)
_WHOLE_PRICE = re.compile(r"^(?:RM|Rp\.?|IDR|INR|Rs\.?|₹|¥|\$)?\s?(\d{1,3}(?:[.,]\d{3})+|\d{1,7})$", re.IGNORECASE)
_HEADING_START = re.compile(r"^\s*(DESCRIPTION|DESC|ITEM|QTY|PRODUCT|ARTICLE)\b", re.IGNORECASE)
# a heading over a block of items, printed without a price: a shop's departments, a menu's courses
_SECTION = re.compile(
    r"^\W*(?:GROCERY|GROCERIES|PRODUCE|MEAT|MEATS|SEAFOOD|DELI|DAIRY|BAKERY|FROZEN(?:\s?FOODS?)?|HOUSEHOLD|"
    r"GENERAL\s?MERCH(?:ANDISE)?|HEALTH\s?(?:&|AND)\s?BEAUTY|MISCELLANEOUS|APPETI[SZ]ERS?|STARTERS?|MAINS?|"
    r"MAIN\s?COURSES?|PASTA\s?MAINS|DESSERTS?|SIDES|ENTREES?|ANTIPASTI|PRIMI|SECONDI|CONTORNI|DOLCI|BEVERAGES?|"
    r"DRINKS|SPIRITS|LIQUOR)\W*$",
    re.IGNORECASE,
)
_NUMERIC_DATE = re.compile(r"(?<![\d.,/-])\d{1,2}([/.-])\d{1,2}\1(?:\d{4}|\d{2})(?![\d/-]|[.,]\d)")
# a printed count of the items sold ("Items Sold: 49", "NO. OF ITEMS 12", "TOTAL NUMBER OF ITEMS SOLD 8")
_ITEM_COUNT = re.compile(
    r"\b(?:ITEMS?\s?SOLD|NO\.?\s?OF\s?ITEMS?|NUMBER\s?OF\s?ITEMS?(?:\s?SOLD)?|ITEM\s?COUNT)\s*[:=]?\s*(\d{1,3})\b",
    re.IGNORECASE,
)
_DETAIL = re.compile(
    r"^\s*(?:[\d.,]+\s?(?:KG|G|GR|LB|LBS|OZ|L|ML|EA|PCS?|CT)\b.*(?:@|/|\bX\b)|@|\d{1,3}\s?@|\(?\s*(?:ITEM\s?CODE|SKU|PLU|UPC|EAN|CODE|"
    r"ART(?:IKEL)?\.?\s?(?:NO|NR))\b)",
    re.IGNORECASE,
)
_QTY_AT = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.,]\d{1,3})?)\s?(?:[xX*@]|PCS?|UNITS?|EA)\s?(?:RM|\$|€|£)?\s?(?=\d)")


def _is_heading(line: Line) -> bool:
    words = [compact(w) for w in line.text.split()]
    return sum(1 for w in words if w in _HEADINGS) >= 2


def items_start(lines: list[Line], header_end: int) -> int:
    """Where items begin: after the column heading row when there is one, else after the header."""
    for line in lines[header_end : header_end + 25]:
        if _is_heading(line) and not find_amounts(line.text):
            return line.index + 1
        if line.index > header_end and (find_amounts(line.text) or _whole_priced(line)):
            break  # the items began without a heading: a later "TOTAL AMOUNT" or "Total Qty" row is none
    return header_end


def _whole_priced(line: Line) -> bool:
    """Whether the row is a name with a price in whole units printed apart at its end ("Chicken Bento   62,000")."""
    value = _whole_price(line.words[-1].text) if len(line.words) >= 2 else None
    return value is not None and value >= 100 and letters(" ".join(w.text for w in line.words[:-1])) >= 3


def _is_detail(before: str) -> bool:
    """Whether the text before a row's amounts is a detail of an item rather than its name: a weight at a unit
    price (``0.530 kg Net @``), a bare quantity (``2 x``), an item code (``ITEM CODE: PG50014``, ``SKU 1234``)."""
    return _DETAIL.match(before) is not None or (letters(before) < 2 and before.strip() != "")


def _negative(text: str) -> bool:
    """Whether the row's last amount is printed negative, its minus on the figure (``-0.33``, ``9.00-``): a tax
    code printed before the amount (``G- 100,00``) is not its sign."""
    found = find_amounts(text)
    return bool(found) and found[-1].value < 0 and re.match(r"^[-\u2212\u2013]\s", found[-1].text) is None


def _is_rule(text: str) -> bool:
    """A separator printed as a row of one or two repeated marks that OCR read as letters (``*****`` read as
    ``家冰家冰冰家``, ``XXXXXXX火XXKXXX``): ten characters or more, three quarters of them the two commonest."""
    chars = [c for c in text if not c.isspace()]
    common = Counter(chars).most_common(2)
    return len(chars) >= 10 and sum(n for _, n in common) >= 0.75 * len(chars)


def _has_date(text: str, printed: str) -> bool:
    """A date outside the row's amounts ("BRUNELLO MAR 30.00" holds an amount, not 30 March), or a numeric date
    with its three parts in the ``printed`` text, which no amount explains ("Cashier1, 02/17/14, 02:21 PM", whose
    "14, 02" reads as 14.02)."""
    spans = [(a.start, a.end) for a in find_amounts(text)]
    return _NUMERIC_DATE.search(printed) is not None or any(
        all(d.end <= start or d.start >= end for start, end in spans) for d in find_dates(text)
    )


def _blocked(line: Line, text: str) -> bool:
    """A row inside the item block that is no item: a summary or payment row, metadata, a date, a heading, a
    greeting or address to the customer."""
    # above the totals, a payment word is an item's ("YEEZY BOOST 350"): payments are printed below them
    # a tax code after the price is the item's tax flag ("ITEM CODE: PG50014  $49.99 HST"): the label is what
    # comes before the amounts
    amounts = find_amounts(text)
    label = text[: amounts[0].start] if amounts else text
    return (
        classify_words(label) not in (Kind.OTHER, Kind.TENDERED, Kind.CHANGE)
        or _NOT_ITEM.search(letter_digits(text)) is not None
        or _NOTE.search(label.strip()) is not None
        or _has_date(text, line.text)
        or _is_rule(text)
        or _FOOTER.search(text) is not None
        or (_HEADING_START.match(text) is not None and _DETAIL.match(text) is None)
        or _is_heading(line)
    )


def _whole_price(text: str) -> Decimal | None:
    match = _WHOLE_PRICE.match(text.strip())
    return Decimal(re.sub(r"[.,]", "", match.group(1))) if match else None


def _whole_prices(lines: list[Line], start: int, stop: int) -> dict[int, Decimal]:
    """Prices of a receipt in a currency printed without decimals (rupiah, rupees, yen): when no row of the item
    block has an amount with decimals, the rows that end in a whole number in one right-aligned column, by row
    index (at least two rows must agree on the column)."""
    block = []
    for line in lines[start:stop]:
        if classify_words(line.text) in (Kind.SUBTOTAL, Kind.TOTAL):
            break
        if find_amounts(clean_numbers(line.text)):
            return {}
        block.append(line)
    priced = {}
    for line in block:
        value = _whole_price(line.words[-1].text) if len(line.words) >= 2 else None
        if value is not None and letters(" ".join(w.text for w in line.words[:-1])) >= 2:
            priced[line.index] = (value, line.words[-1].box[2], line.height)
    if len(priced) < 2:
        return {}
    edges = sorted(edge for _, edge, _ in priced.values())
    column = edges[len(edges) // 2]
    aligned = {i: v for i, (v, edge, height) in priced.items() if abs(edge - column) <= 2 * height}
    return aligned if len(aligned) >= 2 else {}


def _row_values(line: Line, text: str, whole: dict[int, Decimal]) -> tuple[list[Decimal], int]:
    """The row's amounts (or its whole-number price) and where the first one starts in ``text``."""
    found = find_amounts(text)
    if found:
        return [a.value for a in found], found[0].start
    if line.index in whole:
        return [whole[line.index]], len(text) - len(line.words[-1].text)
    return [], 0


def _priced_item(
    line: Line, text: str, description: str, quantity: Decimal | None, values: list[Decimal], *, single: bool
) -> LineItem:
    """The item of a priced row: quantity from ``2 x 3.50``, unit price and line amount from its amounts."""
    at = _QTY_AT.search(text)
    if at:
        quantity = Decimal(at.group(1).replace(",", "."))
        if single:
            description = item_name(row_boxes(line, text, at.start()))[0] or description
    amount = values[-1]
    unit_price = values[-2] if len(values) >= 2 else None
    if quantity is not None and unit_price is None and quantity > 1:
        unit_price = (amount / quantity).quantize(Decimal("0.01"))
    if quantity is not None and quantity <= 0:
        quantity = None
    return LineItem(description=description[:500], quantity=quantity, unit_price=unit_price, amount=amount)


def parse_items(lines: list[Line], start: int, stop: int) -> list[tuple[LineItem, list[Line]]]:
    """Line items read from rows ``start`` (inclusive) to ``stop`` (exclusive), with their source rows.

    A row of text without amounts is held: the next row's amounts are its own when that row carries no name of
    its own (the name printed above its figures) or only a detail (``2 x 3.50``, ``0.5 kg @``, an item code).
    Otherwise, once an item with an amount was read, it is an item printed without a price: a modifier
    (``Mild``, ``--Hot``), a set component, a second line of a long name (receipts print each on its own row).
    Such an item's amount is 0 (nothing is charged for it), so the line sum still checks against the subtotal.
    A text row right above a discount, tax or summary row belongs to that row and is dropped.
    """
    items: list[tuple[LineItem, list[Line]]] = []
    held: Line | None = None
    priced = False
    early: list[Line] = []  # text rows before the first priced row
    whole = _whole_prices(lines, start, stop)

    def release() -> None:
        nonlocal held
        if held is not None and priced:
            description, quantity = item_name(row_boxes(held, clean_numbers(held.text)))
            if letters(description) >= 2 and _SECTION.match(description) is None:
                items.append((LineItem(description=description[:500], quantity=quantity, amount=Decimal(0)), [held]))
        held = None

    for line in lines[start:stop]:
        if len(items) >= MAX_ITEMS:
            break
        text = clean_numbers(line.text)
        # prices in whole units end the items at the first (sub)total row, which the money summary may not have seen
        if whole and classify_words(text) in (Kind.SUBTOTAL, Kind.TOTAL):
            break
        if _blocked(line, text):
            held = None  # a name above a discount or tax row is that row's ("YELP" over "Open $ Disc 2.05-")
            continue
        values, cut = _row_values(line, text, whole)
        if not values:
            if letters(text) >= 2:
                release()
                held = line
                early += [] if priced else [line]
            continue
        if _negative(text):
            held = None  # a negative line is a discount or coupon (``1.99 Dsc -0.33``, ``CPN/CHEVRON 9.00-``)
            continue
        before = text[:cut]
        description, quantity = item_name(row_boxes(line, text, cut))
        sources = [line]
        if held is not None and (letters(description) < 2 or _is_detail(before)):
            description, quantity = item_name(row_boxes(held, clean_numbers(held.text)))
            sources = [held, line]
            early = [row for row in early if row is not held]
            held = None
        else:
            release()
            if letters(description) < 2 or _is_detail(before):
                continue
        item = _priced_item(line, text, description, quantity, values, single=len(sources) == 1)
        items.append((item, sources))
        priced = True
    release()
    return _without_subtotal(_counted(lines, stop, early, items)[:MAX_ITEMS])


def _counted(
    lines: list[Line], stop: int, early: list[Line], items: list[tuple[LineItem, list[Line]]]
) -> list[tuple[LineItem, list[Line]]]:
    """``items`` with the text rows before the first priced one as items when the receipt's printed item count
    says so: a price column the OCR did not read leaves the names without prices ("Items Sold: 49" under 49 names
    and one priced row). Only when the priced rows are at most half the count and the rows make it up (±2)."""
    # the count is printed at the foot of the items, on or near the total row
    foot = lines[max(0, stop - 2) : stop + 8]
    count = next((int(m.group(1)) for line in foot if (m := _ITEM_COUNT.search(line.text))), 0)
    if len(early) < 3 or len(items) > count / 2 or abs(len(early) + len(items) - count) > 2:
        return items
    named = [(item_name(row_boxes(row, clean_numbers(row.text))), row) for row in early]
    return [
        (LineItem(description=name[:500], quantity=quantity, amount=Decimal(0)), [row])
        for (name, quantity), row in named
        if letters(name) >= 2
    ] + items


def _without_subtotal(items: list[tuple[LineItem, list[Line]]]) -> list[tuple[LineItem, list[Line]]]:
    """``items`` without the last priced rows (one or two) that add up to all the priced rows above them (two at
    least): subtotals under labels no keyword names, one ("FOOD 23.86", "Counter-Eat In 6.75") or one per kind of
    goods ("food 21.95", "liquor 6.50"), before the tax rows."""
    priced = [index for index, (item, _) in enumerate(items) if item.amount]
    for tail in (1, 2):
        if len(priced) < tail + 2:
            break
        above = sum((items[index][0].amount or Decimal(0) for index in priced[:-tail]), Decimal(0))
        if sum((items[index][0].amount or Decimal(0) for index in priced[-tail:]), Decimal(0)) == above:
            first = priced[-tail]
            return items[:first] + [entry for entry in items[first:] if not entry[0].amount]
    return items
