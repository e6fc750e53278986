"""The merchant's address: the block of header lines that carry address evidence.

Evidence is general, not store-specific: street and building words (Malay and English), a leading house number
(``NO. 17``, ``LOT 3``, ``12,``), a five-digit postcode (not a ``#`` store number) or a US ZIP after a state code,
a US city line ending in its state code (``Nashville, TN``), state and country names.
The block starts at the first line with evidence (before or after the name: some receipts print the owner's legal
name under the address) and runs while lines carry evidence, or are plain text before any postcode was seen;
phone, tax-id and document-title lines end it.
"""

from __future__ import annotations

import re

from receiptcore.adapters.extractors.ocr.dates import find_dates
from receiptcore.adapters.extractors.ocr.numbers import find_amounts
from receiptcore.adapters.extractors.ocr.text import digits, letters
from receiptcore.adapters.extractors.ocr.types import Line

SEARCH_LINES = 16
MAX_LINES = 6
_WORDS = re.compile(
    r"\b(JALAN|JLN|LORONG|LRG|TAMAN|TMN|LOT|BATU|KAWASAN|PERINDUSTRIAN|BANDAR|SEKSYEN|SECTION|PLAZA|MALL|"
    r"KOMPLEKS|WISMA|MENARA|BANGUNAN|PUSAT|DESA|KAMPUNG|KG|BUKIT|ROAD|RD|STREET|ST|AVENUE|AVE|BLVD|BOULEVARD|"
    r"LANE|LN|DRIVE|DR|HWY|HIGHWAY|WAY|FLOOR|FLR|LEVEL|SUITE|STE|UNIT|BLOCK|BLK|CENTRE|CENTER|SHOPPING|"
    r"SELANGOR|JOHOR|KUALA|LUMPUR|PENANG|PULAU|PINANG|PERAK|MELAKA|MALACCA|SABAH|SARAWAK|KEDAH|PAHANG|KELANTAN|"
    r"TERENGGANU|NEGERI|SEMBILAN|PUTRAJAYA|MALAYSIA|DARUL|EHSAN|TAKZIM|SINGAPORE|PETALING|JAYA|SHAH|ALAM|KLANG|"
    r"CHERAS|KEPONG|PUCHONG|SUBANG|AMPANG|BAHRU|SETAPAK|STRASSE|STR|RUE|VIA|PLATZ|"
    # street words of the other countries the receipts come from (US/UK/AU, Spanish, Italian, French, German, Dutch)
    r"PKWY|PARKWAY|EXPY|FWY|TPKE|CRES|CRESCENT|TERRACE|PL|SQ|CT|CIR|PIKE|RTE|ROUTE|COURT|CALLE|AVDA|AVENIDA|PASEO|CARRETERA|CTRA|CARRER|RUA|"
    r"STRADA|PIAZZA|CORSO|VIALE|BOULEVARD|BD|CHEMIN|QUAI|ALLEE|GASSE|STRAAT|LAAN|PLEIN)\b"
    # a German or Dutch street is one word ending in its kind ("Hauptstraße 5", "Kalverstraat")
    r"|\b[A-Za-zÀ-ÿ]{3,}(?:STRASSE|STRAßE|STR\.|WEG|GASSE|STRAAT|LAAN|PLEIN)\b",
    re.IGNORECASE,
)
_NUMBER_START = re.compile(
    r"^\s*(NO\b|NO\.|LOT\b|[A-Z]?-?\d+[A-Z]?(?:[-&][A-Z0-9]+)*\s?[,.]|\d+\s+[A-Z])", re.IGNORECASE
)
# a store number ("FSU (#02886)", "#12345") is no postcode
# Canadian (H2T 1S1), British (SW1A 1AA) and Australian (NSW 2000) postcodes are written in their own shapes
_POSTCODE = re.compile(
    r"(?<![\d#-])(?<!#\s)\d{5}(?![\d-])|\b[A-Z]{2}\s?\d{5}(?:-\d{4})?\b|\b[A-Z]\d[A-Z]\s?\d[A-Z]\d\b"
    r"|\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b|\b(?:NSW|VIC|QLD|TAS|ACT)\s?\d{4}\b"
)
# a US city line without its ZIP ("Nashville, TN", "HUNTINGTON BEACH CA"): the state code in capitals ends the
# line, after a comma, or after a city of two words or more when the code is no English word ("SUPREME NY" is a name)
_STATES = (
    "AL|AK|AZ|AR|CA|CT|DE|FL|GA|IA|ID|IL|IN|KS|KY|LA|MA|MD|ME|MI|MN|MO|MS|MT|NC|ND|NE|NH|NJ|NM|NV|NY|OH|OK|OR|PA|RI|"
    "SC|SD|TN|TX|UT|VA|VT|WA|WI|WV|WY|DC|CO|HI"
)
_PLAIN_STATES = "AZ|CA|CT|FL|GA|IL|KY|MD|MN|NC|NJ|NY|NV|SC|TN|TX|VA|WA|WI"
_CITY_STATE = re.compile(
    rf"^\s*(?:[A-Za-z][A-Za-z .'-]+,\s?(?:{_STATES})|[A-Za-z][A-Za-z.'-]+(?:\s[A-Za-z.'-]+)+\s(?:{_PLAIN_STATES}))"
    r"\.?\s*$"
)
_STOP = re.compile(
    r"\b(TEL|TELEPHONE|PHONE|PH|FAX|H/?P|MOBILE|WHATSAPPS?|GST|SST|VAT|ABN|INVOICE|RECEIPT|DATE|CASHIER|E-?MAIL|"
    r"WWW|HTTPS?|CO\.?[\s-]?REG|REG\.?\s?NO|COMPANY\s?(?:REG|NO)|BR\s?NO|OPENING|TABLE|SERVER|ORDER|MEMBER|TERMINAL|OWNED)\b",
    re.IGNORECASE,
)
_PREFIX = re.compile(r"^.*?\b(?:ADDRESS|ADDR|ADD)\s?[:.]\s*", re.IGNORECASE)
_LEADING_REG = re.compile(r"^\s*\(?[A-Z]{0,3}\d{5,}[-\s]?[A-Z]?\)\s*")


def evidence(text: str) -> int:
    """How much ``text`` looks like an address line (0 = not at all)."""
    score = len(_WORDS.findall(text))
    if _NUMBER_START.match(text):
        score += 1
    if _POSTCODE.search(text) or _CITY_STATE.match(text):
        score += 2
    return score


def _usable(line: Line, excluded: set[int]) -> bool:
    text = line.text
    if line.index in excluded or find_amounts(text) or find_dates(text):
        return False
    return letters(text) >= 3 and digits(text) <= letters(text) + 12


def find_address(lines: list[Line], excluded: set[int]) -> list[Line]:
    """The address lines, in order; ``excluded`` holds indexes of lines already used (the name)."""
    region = lines[:SEARCH_LINES]
    for start, line in enumerate(region):
        text = _PREFIX.sub("", line.text)
        if not _usable(line, excluded) or evidence(text) == 0 or (_STOP.search(text) and not _PREFIX.match(line.text)):
            continue
        block = [line]
        postcode = _POSTCODE.search(text) is not None
        for nxt in region[start + 1 :]:
            if len(block) >= MAX_LINES or not _usable(nxt, excluded) or _STOP.search(nxt.text):
                break
            score = evidence(nxt.text)
            if postcode and score == 0:
                break
            if score == 0 and digits(nxt.text) > 0:
                break
            block.append(nxt)
            postcode = postcode or _POSTCODE.search(nxt.text) is not None
        if postcode or len(block) >= 2 or evidence(text) >= 2:
            return block
    return []


def address_text(block: list[Line]) -> str:
    """The address as one string: the lines joined, prefixes and leading registration numbers removed."""
    parts = []
    for line in block:
        text = _LEADING_REG.sub("", _PREFIX.sub("", line.text))
        match = re.search(r"\b(TEL|PHONE|FAX|H/P)\b", text, re.IGNORECASE)
        parts.append((text[: match.start()] if match else text).strip())
    return " ".join(p for p in parts if p).strip()
