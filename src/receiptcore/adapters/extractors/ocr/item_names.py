"""Item names from a row's OCR boxes: the columns printed apart from the name dropped (quantity, item code, flag,
weight, whole or misread price, currency), a leading quantity read off, a barcode read into the name's box
dropped, and the digits OCR reads for letters inside words (``AV0CAD0S``, ``Ro11s``) put back.

A number printed apart from the name is a column; a number inside the name's own box is part of it (``Battery
18V x 2``, ``Mineral Water 1 Ltr``).
"""

from __future__ import annotations

import re
from decimal import Decimal

from receiptcore.adapters.extractors.ocr.text import letters
from receiptcore.adapters.extractors.ocr.types import Line

_CODE_BOX = re.compile(r"^#?\d{2,}(?:[-/.]\d+)*$")
# a box printed apart after the name that is a column: quantity, item code, whole or misread price, currency
_COLUMN = re.compile(
    r"^(?:(?:RM|Rp|\$|€|£)?\s?[\d\s]{1,12}|[.,]?\d{1,4}[.,:]\d{1,2}|RM|MYR|USD|EUR|GBP|AUD|SGD|AED|INR|IDR|Rp|\$|€|£"
    # the weight of goods sold by weight ("0.657 KILOS")
    r"|[xX@*]|\d{1,3}[.,]\d{1,3}\s?(?:KG|KGS|KILOS?|G|GR|GRS|LBS?|OZ)"
    # a barcode with the tax flag printed after it ("789138400301C")
    r"|\d{8,}\s?[A-Z])$",
    re.IGNORECASE,
)
# a barcode (EAN/UPC, 8 digits or more) read into the end of the name's box ("NOTE CARDS RED Q3 400100998274"),
# with the tax flag after it too ("B8-20 TOP 789138400301C"); a leading item code of up to 9 digits stays,
# receipts print it as part of the name as often as apart
_TRAILING_BARCODE = re.compile(r"(?<=[A-Za-z0-9.])(?:\s|\s?-\s?)\d{8,}(?:\s?[A-Z])?$")
# a quantity of one read as a letter ("I saffron chicken", "i Yuzu (Hot)", "| PENNE")
_LEAD_ONE = re.compile(r"^\s*[Il|i]\s+(?=[A-Za-z]{2})")
_OPEN_QTY = re.compile(r"\s*\(\s*\d{0,3}\s*[@xX]?\s*$")
_TRAILING_CURRENCY = re.compile(r"\s+(?:RM|MYR|USD|EUR|GBP|AUD|SGD|AED|INR|IDR|Rp|\$|€|£)$", re.IGNORECASE)

# a quantity column before the name: "2 Nasi Lemak", "2x Latte", and "1 1/2 Bottle" or "3 704 SEAFOOD" (a quantity
# before a name that starts with a number or an item code)
_MARKED_QTY = re.compile(r"^\s*[-*>+=]+\s+(?=\d{1,3}\s+[A-Za-z])")
_LEAD_QTY = re.compile(r"^\s*(\d{1,3})(?:\s?[xX*@](?=\s|\d)|\s)\s*(?=\D|\d+(?:/\d+)?\s?[A-Za-z])")
# a barcode (UPC/EAN, 10 digits or more) read into the start of the name's box ("3800054364 FRUIT SNACKS"): the
# labels drop it more often than they keep it, unlike a shorter item code ("647465 AVOCADOS")
_LEAD_BARCODE = re.compile(r"^\s*\d{10,}\s*(?=#?[A-Za-z])")


def row_boxes(line: Line, text: str, cut: int | None = None) -> list[str]:
    """The row's OCR boxes as they read in ``text`` (the row's text after ``clean_numbers``), up to ``cut``.

    Boxes matter for the name: a number printed apart from it is a column (quantity, item code), a number inside
    the name's own box is part of the name (``Battery 18V x 2``, ``Mineral Water 1 Ltr``)."""
    cut = len(text) if cut is None else cut
    if len(text) != len(line.text):  # clean_numbers joined split digits: the offsets moved, keep one box
        return [text[:cut]]
    boxes, start = [], 0
    for word in line.words:
        if start >= cut:
            break
        boxes.append(text[start : min(cut, start + len(word.text))])
        start += len(word.text) + 1
    return boxes


# a zero the recogniser read for the letter O inside a word: between letters ("CHEVR0N", "AV0CAD0S"), opening a
# word before letters ("0RG EGGS", "0cha") or closing one after two letters ("PISTACHI0"); never beside a digit
_LETTER_ZERO = re.compile(r"(?<=[A-Za-z])0(?=[A-Za-z])|(?<![\w.,])0(?=[A-Za-z]{2})|(?<=[A-Za-z]{2})0(?![\w.,%])")
_SCHWA = re.compile(r"(?<=[A-Za-z])[\u018f\u0259]|[\u018f\u0259](?=[A-Za-z])")
_STROKE = re.compile(r"(?<=[A-Za-z0-9])\s*\u4e00$")
# ones read for a lower-case l between letters, one of them lower-case ("Ro11s", "Pock1ington"), or ending a word
# after a lower-case letter ("Chili Oi1", "Dissolve-Al1": mixed-case print has no digit glued to a word's end);
# between capitals a 1 may be I or L, and after one it is as often a number ("COMBO1", "T1")
_LETTER_ONE = re.compile(r"(?<=[a-z])1+(?=[A-Za-z])|(?<=[A-Za-z])1+(?=[a-z])|(?<=[A-Za-z][a-z])1(?![\w.,])")


def letter_digits(text: str) -> str:
    """``text`` with the digits OCR read for letters inside words put back (``AV0CAD0S`` → ``AVOCADOS``,
    ``Ro11s`` → ``Rolls``)."""
    text = _LETTER_ZERO.sub(lambda m: "o" if m.string[m.start() - 1 : m.start()].islower() else "O", text)
    text = _LETTER_ONE.sub(lambda m: "l" * len(m.group(0)), text)
    # the recogniser's alphabet has glyphs it confuses with Latin ones: a schwa for E inside a Latin word
    # ("PREMBAK\u018fD"), a CJK "one" (a horizontal stroke) for a dash after the name
    text = _SCHWA.sub(lambda m: "E" if m.group(0) == "\u018f" else "e", text)
    return _STROKE.sub("", text)


def item_name(boxes: list[str]) -> tuple[str, Decimal | None]:
    """Clean description and a quantity found in it, from the OCR boxes before the amounts."""
    boxes = [b.strip() for b in boxes if b.strip()]
    # quantity, item-code and whole-number price columns, and a currency code, printed apart after the name
    while boxes and (_COLUMN.match(boxes[-1]) or (len(boxes) > 1 and letters(boxes[-1]) == 0)):
        boxes.pop()
    # an item-code column printed apart before the name ("19-728   Battery 18V"), or a one-character flag column
    # (a tax or department mark: "T   FL RUFFLES CHDR")
    while len(boxes) > 1 and (_CODE_BOX.match(boxes[0]) or len(boxes[0]) == 1) and letters(boxes[1]) >= 2:
        boxes.pop(0)
    # the multiplication sign (U+00D7) OCR reads for a printed x ("HAM 4\u00d7100G")
    text = " ".join(boxes).replace("\u00d7", "x")
    quantity = None
    # a modifier's marks before its quantity are the POS's indent, not part of the name ("** 1 RARE")
    marked = _MARKED_QTY.match(text)
    if marked:
        text = text[marked.end() :]
    text = _LEAD_BARCODE.sub("", text)
    lead = _LEAD_QTY.match(text)
    if lead and int(lead.group(1)) <= 100:
        quantity = Decimal(lead.group(1))
        text = text[lead.end() :]
    elif one := _LEAD_ONE.match(text):
        quantity = Decimal(1)
        text = text[one.end() :]
    text = _TRAILING_CURRENCY.sub("", text.rstrip())
    text = _TRAILING_BARCODE.sub("", text)
    # a quantity at a unit price in brackets after the name, cut by its price ("STILL WATER (2 @8.50) 17.00")
    text = _OPEN_QTY.sub("", text)
    # leading "-", "*", ">" or "+" mark modifiers and set components as printed ("--Hot", "> Animal"): kept
    return letter_digits(" ".join(text.split()).rstrip(" :-,@").lstrip(" :.,")), quantity
