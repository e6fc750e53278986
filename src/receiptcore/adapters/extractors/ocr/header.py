"""The receipt header: merchant name (legal name when printed), address lines, phone and tax id.

The header is the block above the first date, amount or column heading. The merchant name is the line carrying
a company form (``SDN BHD``, ``LTD``, ``GMBH``...) when there is one — legal names wrap, so lines of the same
print size directly above it are joined — otherwise the first line that reads like a name. A legal name printed
under the address names the operator of the shop whose name is above that address, and a trading word alone
(``RESTAURANT``) is no legal name. Rows that never name the shop: greetings alone (``Welcome to X`` names X, kept as
printed), store-number labels (``Store #1458``), borders of repeated marks, lower-case slogans, the item table's
heading, the receipt's own rows (guests, clerk, ticket, how the order is served, the card slip). The address is
the run of lines after the name up to the phone, tax-id or document-title line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from receiptcore.adapters.extractors.ocr.address import address_text, evidence, find_address
from receiptcore.adapters.extractors.ocr.dates import find_dates
from receiptcore.adapters.extractors.ocr.glued import unglue
from receiptcore.adapters.extractors.ocr.name_rows import (
    OWNER_PREFIX,
    STORE_NUMBER,
    clean_text,
    is_column_heading,
    is_decoration,
    is_generic,
    is_store_label,
    is_tagline,
    name_text,
)
from receiptcore.adapters.extractors.ocr.numbers import find_amounts
from receiptcore.adapters.extractors.ocr.text import compact, digits, letters
from receiptcore.adapters.extractors.ocr.types import Line

HEADER_MAX_LINES = 16
NAME_ROWS = 8  # the shop's name is printed within the first rows
LARGER_PRINT = 1.5  # a row this much taller than the first name-like row is the name printed large
_LEGAL = re.compile(
    r"(?:\b|(?<=\d))(SDN\.?\s?BHD|SDN|BHD|[S5]/B|BERHAD|PLT|LTD|LIMITED|LLC|L\.L\.C|INC|GMBH|CORP|CORPORATION|PTY|"
    r"PTE|LLP|PLC|S\.?A\.?R\.?L)\b\.?",
    re.IGNORECASE,
)
_WEAK_LEGAL = re.compile(
    r"\b(ENTERPRISES?|TRADING|CO\.|STATIONERY|HARDWARE|RESTAURANT|RESTORAN|KEDAI|MARKET|SYARIKAT|PERNIAGAAN)\b", re.I
)
_STOP_RE = re.compile(
    r"\b(TEL|TELEPHONE|PHONE|PH|FAX|H/?P|GST|SST|VAT|ABN|TAX|INVOICE|RECEIPT|DATE|CASHIER|E-?MAIL|EMALL|WWW|HTTPS?|"
    r"REG|REGISTRATION|CO\.?\s?NO|COMPANY\s?(?:REG|NO)|BUSINESS|OPENING|TIME|TABLE|SERVER|BILL|ORDER|MEMBER|POS|"
    r"TERMINAL|WELCOME|OWNED|SLIP|DOC|"
    # the receipt's own rows (guests, clerk, ticket, transaction, payment slip), in the languages of the receipts
    r"GUESTS?|CLERK|HOST|CHECK|CHK|TICKET|TRANS|TRANSACTION|TRAN|TRN|OPERATOR|CUSTOMER|ACCOUNT|ACCT|AUTH|APPROVAL|"
    r"APPROVED|CAJERO|CAJA|CAISSE|CAISSIER|KASSIERER|BEDIENER|BEDIENT|MESA|TAVOLO|FACTURA|FATTURA|SCONTRINO|BON|"
    # how the order was served and the card slip's words
    r"SALES?|DINE|TAKEOUT|TAKE\s?OUT|PICKUP|DELIVERY|VOID|MERCHANT|CARDHOLDER|SWIPED|CONTACTLESS)\b",
    re.IGNORECASE,
)
# a field label with a number or nothing after it: "Store: 1", "Tavolo: 7", "GENERAL MANAGER:" ("COTTON:ON" is a name)
_LABEL_VALUE = re.compile(r"^\s*[A-Za-z][A-Za-z .]{1,24}\s?:\s*(?:[A-Za-z]{0,3}\d[\w-]*)?\s*$")
_OWNER_ONLY = re.compile(r"^\s*(OWNED|OWN|OPERATED|MANAGED)\s+BY\s*:?\s*$", re.IGNORECASE)
_HOUSE_NUMBER = re.compile(r"^\s*\d+[A-Z]?(?:\s?[-/&]\s?\d+[A-Z]?)?\s+[A-Za-z]{3,}")
_ADDRESS_START = re.compile(r"^\s*(NO\b|NO\.|LOT\b|JALAN\b|JLN\b|[A-Z]?-?\d+[A-Z]?(?:-[A-Z0-9]+)?\s?,)", re.IGNORECASE)
_REG_NO = re.compile(r"\(?\b(?:CO\.?\s?(?:REG\.?)?\s?NO\.?|COMPANY\s?(?:REG\.?)?\s?NO\.?|ROC|REG\.?\s?NO\.?)?[:.\s]*"
                     r"[A-Z]{0,2}\d{4,12}[-\s]?[A-Z]\b\)?", re.IGNORECASE)  # fmt: skip
_TITLES = ("TAXINVOICE", "INVOICE", "RECEIPT", "CASHSALE", "CASHBILL", "TAXRECEIPT", "FAKTUR", "RECHNUNG", "FACTURE",
           "QUITTUNG", "KASSENBON", "BELEG")  # fmt: skip
_PHONE = re.compile(
    r"(?:TEL|PHONE|PH|T|HP|H/P|MOBILE|CALL)\.?\s?(?:NO)?\.?\s?[:=]?\s*(\+?[\d(][\d\s()\-/.]{5,20}\d)", re.I
)
_TAX_ID = re.compile(
    r"(?:GST|SST|VAT|ABN|TAX|BTW|UST|MWST|TIN|GSTIN)\s?(?:REG(?:ISTRATION)?\.?|ID|NO|NUMBER|\s)*\.?\s?[:=#.]?\s*"
    r"([A-Z]{0,3}\s?\d[\d\s\-]{5,20}\d)",
    re.IGNORECASE,
)


@dataclass(slots=True)
class Header:
    """What the header yields, with the lines each field came from."""

    name: str | None = None
    name_lines: list[Line] = field(default_factory=list)
    address: str | None = None
    address_lines: list[Line] = field(default_factory=list)
    phone: str | None = None
    phone_line: Line | None = None
    tax_id: str | None = None
    tax_id_line: Line | None = None
    end: int = 0


def _header_end(lines: list[Line]) -> int:
    for line in lines[:HEADER_MAX_LINES]:
        if find_dates(line.text) or find_amounts(line.text):
            return line.index
    return min(len(lines), HEADER_MAX_LINES)


def _is_name_like(line: Line) -> bool:
    text = _strip_reg(name_text(line.text))
    # a store number printed after the name ("SPEEDWAY 0006661", "ARCO AMPM 42259") does not make it a number row
    named = STORE_NUMBER.sub("", text)
    if named != text and is_store_label(named):
        return False  # "Store #1458", "Branch 12": which outlet, not its name
    if letters(text) < 3 or letters(named) < 2 * digits(named) or is_generic(line.text) or is_decoration(text):
        return False
    if "@" in text or _ADDRESS_START.match(text) or _LABEL_VALUE.match(line.text) or is_column_heading(text):
        return False
    return not _STOP_RE.search(text)


def _not_address(line: Line) -> bool:
    """Too little address evidence for an address line; a store number after the name ("ARCO AMPM 42259") is no
    postcode at the top of the receipt, where postcodes follow the street."""
    text = STORE_NUMBER.sub("", line.text) if line.index == 0 else line.text
    return evidence(text) < 2


def _strip_reg(text: str) -> str:
    text = _REG_NO.sub(" ", text)
    return " ".join(text.replace("( )", " ").split()).strip(" ,-:")


def _continues(upper: Line, lower_text: str, lower_height: float) -> bool:
    """Whether ``upper`` is the first part of a name that wraps onto ``lower_text``."""
    opened = upper.text.count("(") > upper.text.count(")")
    dangling = upper.text.rstrip().endswith(("&", "-", ",", "("))
    lower = lower_text.lstrip().upper()
    lead = lower.startswith(("&", "(", "SDN", "BHD", "S/B", "5/B", "LTD", "ENTERPRISE", "TRADING", "CO.", "COMPANY"))
    short = letters(_LEGAL.sub("", lower_text)) < 4 or lower_text.count(")") > lower_text.count("(")
    # a legal name wrapped over lines keeps its print size and capitals; a lower line that is a whole name by
    # itself (three words or more before the company form) has a brand or outlet name above it, not its start
    similar = abs(upper.height - lower_height) <= 0.2 * lower_height
    whole = len(_LEGAL.sub(" ", lower_text).split()) >= 3
    same_print = upper.text.isupper() and lower_text.isupper() and similar and not whole
    return opened or dangling or lead or short or same_print


def _legal_name(lines: list[Line], end: int) -> list[Line]:
    for pattern in (_LEGAL, _WEAK_LEGAL):
        for i, line in enumerate(lines[:end]):
            if not pattern.search(line.text) or not _is_name_like(line):
                continue
            if pattern is _WEAK_LEGAL and not _distinctive(line.text):
                # "THE RESTAURANT", "4-6 Market Place": a kind of shop or a street, not this shop's name, unless
                # it ends the name printed on the row above ("KHMER KITCHEN BARBECUE" / "RESTAURANT")
                if i > 0 and _ends_name_above(lines[i - 1], line):
                    return [lines[i - 1], line]
                continue
            if i > 0 and _OWNER_ONLY.match(lines[i - 1].text):
                continue  # "Owned by:" above: the legal owner, not the shop the receipt names
            chosen = [line]
            j = i - 1
            while j >= 0 and len(chosen) < 4 and _is_name_like(lines[j]) and digits(lines[j].text) == 0:
                if not _continues(lines[j], " ".join(c.text for c in chosen), chosen[0].height):
                    break
                chosen.insert(0, lines[j])
                j -= 1
            return chosen
    return []


def _ends_name_above(above: Line, line: Line) -> bool:
    """Whether a row with only a trading word ends the name printed on the row above (plain words, no address)."""
    plain = _is_name_like(above) and digits(above.text) == 0 and evidence(above.text) == 0
    return plain and not _WEAK_LEGAL.search(above.text) and not _HOUSE_NUMBER.match(line.text)


def _distinctive(text: str) -> bool:
    """Whether a row with a trading word (``MARKET``, ``RESTAURANT``) has a name of its own beside it and does not
    start with a house number."""
    rest = _WEAK_LEGAL.sub(" ", text)
    words = [w for w in re.findall(r"[A-Za-z]{2,}", rest) if w.upper() not in ("THE", "AND", "OF")]
    return bool(words) and not _HOUSE_NUMBER.match(text)


def _is_address_noise(line: Line) -> bool:
    """A line between name and address that is not address: a company registration number alone."""
    stripped = _strip_reg(line.text)
    return letters(stripped) + digits(stripped) < 3


def _is_title(line: Line) -> bool:
    """A document-title row ("TAX INVOICE", "SIMPLIFIED TAX INVOICE", "GST ID: ... TAX INVOICE", "RECEIPT")."""
    c = compact(line.text)
    return c.endswith(_TITLES) or c.startswith(_TITLES)


def _name_search_end(lines: list[Line], end: int) -> int:
    """Where to stop looking for the merchant's name: below the document title is the customer's ("bill to")
    block, unless nothing that reads like a name precedes the title."""
    for i, line in enumerate(lines[:end]):
        if _is_title(line):
            return i if any(_is_name_like(other) for other in lines[:i]) else end
    return end


def _display_name(lines: list[Line], end: int) -> list[Line]:
    """The shop's name when no legal name is printed: the first name-like row of the header, or a row printed
    clearly larger below it (the logo text over a smaller tagline or a guest-number banner). A date printed
    above the name does not end the header: then it runs to the first amount."""
    if end < 2:
        end = next((line.index for line in lines[:HEADER_MAX_LINES] if find_amounts(line.text)), HEADER_MAX_LINES)
    candidates = [
        line
        for line in lines[: min(end, NAME_ROWS)]
        if _is_name_like(line) and not find_dates(line.text) and not is_tagline(line.text) and _not_address(line)
    ]
    if not candidates:
        return []
    first = candidates[0]
    # below the address and phone come the receipt's own rows ("Sale", "Table 7"), printed large as well
    block = next(
        (line.index for line in lines[first.index + 1 : end] if evidence(line.text) >= 2 or _PHONE.search(line.text)),
        end,
    )
    # a street printed large ("18 Shatin centre street") is still the address
    tallest = max(
        (
            line
            for line in candidates
            if line.index < block and not evidence(line.text) and not _HOUSE_NUMBER.match(line.text)
        ),
        key=lambda line: line.height,
        default=first,
    )
    return [tallest if tallest.height >= LARGER_PRINT * first.height else first]


def parse_header(lines: list[Line]) -> Header:
    """Read merchant name, address, phone and tax id from the top of the receipt."""
    header = Header(end=_header_end(lines))
    end = max(header.end, 1)
    name_lines = _legal_name(lines, _name_search_end(lines, min(len(lines), end + 2)))
    if name_lines and _brand_above(lines, name_lines):
        name_lines = [lines[name_lines[0].index - 1]]
    elif not name_lines or _below_address(lines, name_lines):
        name_lines = _display_name(lines, end) or name_lines
    if name_lines:
        header.name_lines = name_lines
        header.name = _tidy_name(_strip_reg(" ".join(clean_text(line) for line in name_lines))) or None
    address = find_address(lines, {line.index for line in name_lines})
    if address:
        header.address_lines = address
        header.address = address_text(address) or None
    _phone_and_tax_id(lines[: max(end + 6, 12)], header)
    return header


BRAND_PRINT = 1.3  # a brand above a legal name is printed at least this much taller than it
_LOCAL_FORMS = re.compile(r"\b(SDN|BHD|BERHAD|[S5]/B|PLT)\b", re.IGNORECASE)


def _brand_above(lines: list[Line], name_lines: list[Line]) -> bool:
    """Whether the row directly above a legal name is the shop's brand, printed clearly larger ("Khyen Chyen" over
    "ZNK Foods & Beverages Pvt. Ltd."). Not for Malaysian company forms: those receipts headline the registered
    company (the SROIE labels), whatever logo is printed above it."""
    top = name_lines[0]
    text = " ".join(line.text for line in name_lines)
    if top.index == 0 or _LOCAL_FORMS.search(text) or not _LEGAL.search(text):
        return False
    above = lines[top.index - 1]
    plain = _is_name_like(above) and not is_tagline(above.text) and not evidence(above.text)
    return plain and not _LEGAL.search(above.text) and above.height >= BRAND_PRINT * top.height


def _below_address(lines: list[Line], name_lines: list[Line]) -> bool:
    """Whether a legal name is printed under the shop's address, with a name-like row above that address: then
    the row at the top is the shop, the legal name its operator ("Ozen Zanmai" / address / "Super Sushi Sdn Bhd")."""
    address = find_address(lines, {line.index for line in name_lines})
    if not address or address[-1].index >= name_lines[0].index:
        return False
    return any(_is_name_like(line) and not evidence(line.text) for line in lines[: address[0].index])


def _tidy_name(text: str) -> str:
    """Put back spaces OCR dropped, space brackets the way they are printed, repair ``5/B`` for ``S/B``."""
    text = unglue(OWNER_PREFIX.sub("", text))
    text = re.sub(r"(?<=[A-Za-z])\(", " (", text)
    text = re.sub(r"\)(?=[A-Za-z])", ") ", text)
    text = re.sub(r"\b5/B\b", "S/B", text)
    # the usual misreads of the Malaysian company form on faint print
    text = re.sub(r"\b(?:S[O0]N|5DN|SDH)(\.?\s?)(?=BHD\b)", r"SDN\1", text)
    text = re.sub(r"\b(SDN\.?\s?)(?:BH[O0D]|8HD|BND)\b", r"\1BHD", text)
    return " ".join(text.replace("( )", "").replace("()", "").split())


def _phone_and_tax_id(lines: list[Line], header: Header) -> None:
    for line in lines:
        if header.tax_id is None:
            m = _TAX_ID.search(line.text)
            if m:
                header.tax_id, header.tax_id_line = " ".join(m.group(1).split()), line
        if header.phone is None:
            m = _PHONE.search(line.text)
            if m and 7 <= digits(m.group(1)) <= 15 and not _TAX_ID.search(line.text[: m.start() + 3]):
                header.phone, header.phone_line = " ".join(m.group(1).split()), line
