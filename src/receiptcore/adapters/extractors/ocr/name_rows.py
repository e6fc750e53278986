"""Rows at the top of a receipt that never name the shop, and the part of a row that can.

Greetings (``Welcome to``), owner prefixes (``Owned by:``), banners and document titles (``CUSTOMER COPY``), a
store number after a name or a store-number label (``Store #1458``), the item table's heading, borders of repeated
marks and lower-case slogans. General receipt wording in the languages of the receipts seen, nothing store-specific.
Boxes after a well-read name that the OCR was unsure of (a logo or icon beside it) are no part of the name.
"""

from __future__ import annotations

import re

from receiptcore.adapters.extractors.ocr.text import compact, letters
from receiptcore.adapters.extractors.ocr.types import Line

OWNER_PREFIX = re.compile(r"^.*\b(OWNED|OWN|OPERATED)\s+BY\s*:?\s*", re.IGNORECASE)
# "Welcome to Chick-fil-A", "Bienvenue à Disneyland Paris": the words after the greeting are the shop's name
_WELCOME = re.compile(
    r"^\W*(?:WELCOME|BIENVENUE?S?|BIENVENIDOS?|BENVENUTI|WILLKOMMEN|WELKOM|SELAMAT\s?DATANG)\b\W*"
    r"(?:(?:TO|AT|IN|À|A|AU|AUX|AL|EN|BEI|IM|DA|DI|BIJ|KE)\b\W*)?",
    re.IGNORECASE,
)
STORE_NUMBER = re.compile(r"(?<=[A-Za-z])\s*(?:#|NO\.?\s?)?\s*\(?#?\s?\d{2,8}\)?\s*$", re.IGNORECASE)
_NUMBERED_LABELS = (
    "STORE", "STORENO", "STORENUMBER", "SHOP", "SHOPNO", "BRANCH", "OUTLET", "UNIT", "STATION", "LOCATION", "SITE",
    "TILL", "LANE", "REGISTER", "PUMP", "KASSE", "FILIALE", "MAGASIN", "TIENDA",
)  # fmt: skip
_COLUMN_WORDS = frozenset(
    ("QTY", "QUANTITY", "DESCRIPTION", "DESC", "ITEM", "ITEMS", "PRICE", "AMOUNT", "AMT", "PRODUCT", "ARTICLE")
)
_GENERIC = (
    "TAXINVOICE", "INVOICE", "RECEIPT", "WELCOME", "THANKYOU", "ORIGINAL", "COPY", "CASHSALE", "CASHBILL",
    "OFFICIALRECEIPT", "SALESRECEIPT", "DUPLICATE", "REPRINT", "TAXRECEIPT", "CHECK", "ORDER", "TABLE",
    # banners printed above the name, in the languages of the receipts seen
    "YOURGUEST", "YOURORDER", "YOURRECEIPT", "GUESTCHECK", "GUESTNUMBER", "CUSTOMERCOPY", "MERCHANTCOPY",
    "CARDHOLDERCOPY", "STORECOPY", "THANK", "PLEASE", "HAVEANICE", "VISITUS", "WILLKOMMEN", "BIENVENU", "BIENVENID",
    "BENVENUT", "WELKOM", "SELAMATDATANG", "KUNDENBELEG", "KASSENBON",
)  # fmt: skip


def name_text(text: str) -> str:
    """The part of a row that can be a name: without an owner prefix ("Owned by:") or a greeting ("Welcome to")."""
    return _WELCOME.sub("", OWNER_PREFIX.sub("", text))


def is_generic(text: str) -> bool:
    """A banner or document title, not a name (after a greeting, the rest of the row counts)."""
    c = compact(_WELCOME.sub("", text))
    return any(c.startswith(g) or c == g for g in _GENERIC)


def is_tagline(text: str) -> bool:
    """Words without a capital letter ("i'm lovin' it"): a slogan; a name set in lower case is a one-word logo
    ("metro", "meijer")."""
    return len(text.split()) >= 2 and not any(c.isupper() for c in text) and any(c.islower() for c in text)


def is_column_heading(text: str) -> bool:
    """The item table's heading ("Description Qty Amount"): two column words or more."""
    return sum(compact(word) in _COLUMN_WORDS for word in text.split()) >= 2


def is_decoration(text: str) -> bool:
    """A row of a few repeated marks (a border of stars, which OCR may read as CJK characters), not a name."""
    marks = text.replace(" ", "")
    return len(marks) >= 8 and len(set(marks)) * 4 <= len(marks)


def is_store_label(text: str) -> bool:
    """A store-number label without its number ("Store" of "Store #1458", "Branch" of "Branch 12")."""
    return compact(text) in _NUMBERED_LABELS


CLEAN_READ = 0.95  # a name box read at least this well
UNSURE_READ = 0.9  # boxes after it read below this are marks beside the name (a logo, an icon), not more of it


def clean_text(line: Line) -> str:
    """The row's text without the boxes after a well-read name that the OCR was unsure of ("Harvard Gardens"
    followed by a logo read as "yon 3" at 0.86 and 0.51); boxes before the name stay ("AIK I" of "AIK HUAT")."""
    words = line.words
    end = len(words)
    while end > 1 and words[end - 1].score < UNSURE_READ:
        end -= 1
    kept = words[:end]
    if end == len(words) or kept[-1].score < CLEAN_READ or letters(" ".join(w.text for w in kept)) < 4:
        return line.text
    return " ".join(w.text for w in kept)
