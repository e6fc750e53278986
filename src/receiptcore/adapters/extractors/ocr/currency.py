"""The receipt's currency, from codes and symbols printed on it, then from locale hints in the text."""

from __future__ import annotations

import re

from receiptcore.adapters.extractors.ocr.text import compact

_CODES = ("MYR", "USD", "EUR", "GBP", "AUD", "NZD", "SGD", "CAD", "CHF", "JPY", "IDR", "INR", "HKD", "THB", "PHP",
          "CNY", "SEK", "NOK", "DKK", "PLN", "CZK", "ZAR", "AED")  # fmt: skip
_SYMBOLS = (("RM", "MYR"), ("€", "EUR"), ("£", "GBP"), ("S$", "SGD"), ("A$", "AUD"), ("NZ$", "NZD"), ("C$", "CAD"),
            ("HK$", "HKD"), ("US$", "USD"), ("₹", "INR"), ("Rp", "IDR"), ("¥", "JPY"), ("฿", "THB"))  # fmt: skip
_RM_AMOUNT = re.compile(r"\bRM\s?-?\d")
_DOLLAR_HINTS = (
    ("AUD", ("ABN", "AUSTRALIA", "NSW", "VIC", "QLD", "EFTPOS", "TAXINVOICEABN")),
    ("NZD", ("NEWZEALAND", "GSTNO")),
    ("CAD", ("CANADA", "HST", "GSTHST", "ONTARIO", "QUEBEC")),
    ("SGD", ("SINGAPORE",)),
)
_MALAYSIA = ("SDNBHD", "MALAYSIA", "SELANGOR", "KUALALUMPUR", "JOHOR", "PENANG", "GSTID", "GSTREG", "JALAN", "JLN")


def detect_currency(text: str) -> tuple[str | None, float]:
    """The ISO-4217 code the receipt is in and a confidence; ``(None, 0)`` when nothing says."""
    upper = text.upper()
    words = set(re.findall(r"[A-Z]{3}", upper))
    for code in _CODES:
        if code in words and re.search(rf"\b{code}\b", upper):
            return code, 0.9
    if _RM_AMOUNT.search(upper):
        return "MYR", 0.9
    for symbol, code in _SYMBOLS:
        if symbol != "RM" and symbol in text:
            return code, 0.8
    c = compact(text)
    if "$" in text:
        for code, hints in _DOLLAR_HINTS:
            if any(h in c for h in hints):
                return code, 0.6
        return "USD", 0.5
    if sum(h in c for h in _MALAYSIA) >= 2:
        return "MYR", 0.5
    return None, 0.0


def month_first(currency: str | None) -> bool:
    """Whether ambiguous numeric dates should be read month-first (US style)."""
    return currency == "USD"
