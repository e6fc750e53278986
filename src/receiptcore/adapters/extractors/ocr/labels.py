"""What a receipt row is about, from its keywords: total, subtotal, tax, rounding, discount, tip, service charge,
tendered payment or change. Matching runs on the compacted text, so it survives OCR dropping spaces.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum

from receiptcore.adapters.extractors.ocr.text import compact, has_any


class Kind(StrEnum):
    """The role of a money row."""

    TOTAL = "total"
    SUBTOTAL = "subtotal"
    TAX = "tax"
    ROUNDING = "rounding"
    DISCOUNT = "discount"
    TIP = "tip"
    SERVICE = "service"
    TENDERED = "tendered"
    CHANGE = "change"
    COUNT = "count"
    OTHER = "other"


_SUBTOTAL = ("SUBTOTAL", "SUBTTL", "SUBTOT", "SUBJUMLAH", "ZWISCHENSUMME", "SOUSTOTAL", "TOTALEXCL", "TOTALBEFORE",
             "TOTALSALESEXCL", "TOTALEXCLUDING", "TOTALEXGST", "AMOUNTEXCL")  # fmt: skip
_COUNT = ("TOTALQTY", "TOTALQUANTITY", "TOTALITEM", "TOTALNOOF", "NOOFITEM", "ITEMCOUNT", "TOTALPCS", "TOTALUNIT",
          "QTYTOTAL", "TOTALNUMBER", "ITEMSSOLD", "ITEMS")  # fmt: skip
_TOTAL_FINAL = ("TOTALAFTER", "AFTERROUND", "AFTERADJ", "ROUNDEDTOTAL", "TOTALROUNDED", "NETTTOTAL", "NETTOTAL",
                "GRANDTOTAL", "TOTALPAYABLE", "AMOUNTDUE", "BALANCEDUE", "TOTALDUE")  # fmt: skip
_TOTAL_STRONG = ("GRANDTOTAL", "TOTALDUE", "AMOUNTDUE", "AMTDUE", "BALANCEDUE", "TOTALPAYABLE", "NETTTOTAL",
                 "NETTOTAL", "TOTALAMOUNT", "TOTALAMT", "TOTALROUNDED", "ROUNDEDTOTAL", "TOTALINCL", "TOTALRM",
                 "TOTALSALES", "AMOUNTPAYABLE", "TOPAY", "JUMLAH", "TOTALTOPAY", "TOTALINCLUSIVE",
                 "TOTALINCLUDES", "TOTALINCLUDING", "TOTALINC", "TOTALPAID",
                 # German
                 "RECHNUNGSBETRAG", "GESAMTBETRAG", "ENDSUMME", "ZUZAHLEN")  # fmt: skip
_TOTAL = ("TOTAL", "TOTL", "TOTA", "AMOUNT", "SUMME", "TOTAAL", "TOTALE", "BETRAG", "MONTANT", "NETT", "PAYABLE",
          "DUE", "GESAMT",
          # Croatian/Serbian/Bosnian, German/Dutch (SALDO), Polish, Czech, Turkish, Finnish (YHTEENSÄ), Swedish,
          # Hungarian (ÖSSZESEN)
          "UKUPNO", "SALDO", "SUMA", "RAZEM", "CELKEM", "TOPLAM", "YHTEENS", "SUMMA", "OSSZESEN",
          "SSZESEN")  # fmt: skip
_TAX = ("GST", "VAT", "TAX", "SST", "HST", "PST", "MWST", "TVA", "IVA", "CUKAI", "BTW", "UST")
_ROUNDING = ("ROUNDING", "ROUNDADJ", "ROUNDED", "RNDADJ", "ADJROUND", "ROUNDOFF", "PEMBUNDARAN", "ADJUSTMENT")
_DISCOUNT = ("DISCOUNT", "DISC", "SAVING", "PROMO", "VOUCHER", "COUPON", "LESS", "REBATE", "MEMBERPRICE", "OFF")
_TIP = ("TIP", "GRATUITY")
_SERVICE = (
    "SERVICECHARGE",
    "SERVICECHG",
    "SVCCHG",
    "SVC",
    "SERVICECH",
    "SERVCHARGE",
    "SERVICE",
    "SERVCHG",
    "SERVCHRG",
    "SERVCH",
    "SRVCHG",
    "SRVCHRG",
    "SERVIZIO",
    "BEDIENUNG",
    "COPERTO",
)
_TENDERED = ("CASH", "TENDER", "PAID", "PAYMENT", "VISA", "MASTER", "CARD", "AMEX", "DEBIT", "CREDIT", "EFTPOS",
             "EFT", "NETS", "BOOST", "GRABPAY", "TNG", "ALIPAY", "WECHAT", "MAYBANK", "CIMB", "APPLEPAY",
             "GOOGLEPAY", "RECEIVED", "BAYAR", "TUNAI", "DISCOVER", "JCB", "UNIONPAY", "MCARD",
             # German, Spanish, French (ESPÈCES compacts to ESPCES, ESPECES as printed without the accent), Italian
             "GEGEBEN", "BARGELD", "KARTENZAHLUNG", "ECKARTE", "GIROCARD", "EFECTIVO", "ENTREGADO", "ESPECES", "ESPCES",
             "CONTANTI")  # fmt: skip
# keywords match compacted text, which keeps A-Z only: RÜCKGELD is matched as RCKGELD
_CHANGE = ("CHANGE", "CHG", "BAKI", "KEMBALI", "RETURN", "RUECKGELD", "RCKGELD", "WECHSELGELD", "CAMBIO", "RENDU")

_ALL_WORDS = tuple(
    sorted({*_SUBTOTAL, *_COUNT, *_TOTAL_STRONG, *_TOTAL, *_TAX, *_ROUNDING, *_DISCOUNT, *_TIP, *_SERVICE,
            *_TENDERED, *_CHANGE}, key=len, reverse=True)
)  # fmt: skip

# OCR misreads of TOTAL on faint print: lotal, TOTAI, T0TAL, I0TAL
_FUZZY_TOTAL = re.compile(r"(?<![A-Z])[TLI1][O0Q]T[A4][L1I]|TOTA[1I]|T[O0]TAL")
_TAX_AMOUNT = re.compile(
    r"^(TOTAL)?(GST|TAX|VAT|SST)(TOTAL|AMOUNT|AMT|PAYABLE)|^TOTAL(GST|TAX|VAT|SST)(?!INC|INDL|INL)"
    # "GST included in total $1.62": the tax part of the total
    r"|(GST|TAX|VAT|SST|MWST|BTW)(AMOUNT|AMT)?(INCLUDED|INCL|INC)IN(THE)?TOTAL"
)


# "TOT." abbreviates TOTAL ("18 ART. TOT. COMPRA 28,02"), as a word of its own
_ABBREVIATED_TOTAL = re.compile(r"(?<![A-Za-z])TOT(?![A-Za-z])\.?", re.IGNORECASE)


def keywords(text: str) -> str:
    """``compact`` text with OCR misreads and abbreviations of key words repaired, for keyword matching."""
    return _FUZZY_TOTAL.sub("TOTAL", compact(_ABBREVIATED_TOTAL.sub("TOTAL ", text)))


def _whole_words(text: str) -> tuple[str, Callable[[tuple[str, ...]], bool]]:
    """``keywords(text)`` and a matcher that accepts a keyword only where it spans whole words of ``text``: it
    starts where a word starts and ends where one ends (or a plural's ``S``), or where an amount, a currency code
    or another label word follows (``TOTAL:RM12.00``, ``CASHTENDERED``). "COFFEE" then holds no "OFF", "LEFTY"
    no "EFT", "CASHEW NUTS" no "CASH"."""
    pieces = [keywords(word) for word in text.split()]
    c = "".join(pieces)
    bounds = {0}
    for piece in pieces:
        bounds.add(max(bounds) + len(piece))

    def ends_well(end: int) -> bool:
        # a word's end, a plural, an amount, a currency code or another label word glued on ("CASHTENDERED")
        return (
            end in bounds
            or (c[end] == "S" and end + 1 in bounds)
            or c[end].isdigit()
            or c.startswith(_CODES_AFTER_LABEL, end)
            or c.startswith(_ALL_WORDS, end)
        )

    def has(words: tuple[str, ...]) -> bool:
        for word in words:
            start = c.find(word)
            while start >= 0:
                if start in bounds and ends_well(start + len(word)):
                    return True
                start = c.find(word, start + 1)
        return False

    return c, has


_CODES_AFTER_LABEL = ("RM", "MYR", "USD", "EUR", "SGD", "AUD", "GBP", "IDR", "RP", "INR", "CAD", "CHF")


def _rules(c: str, has: Callable[[tuple[str, ...]], bool] | None = None) -> list[tuple[bool, Kind]]:
    """Ordered (condition, kind) pairs: the first true condition names the row's role. ``has`` matches keywords
    (default: anywhere in ``c``)."""
    if has is None:
        has = lambda words: has_any(c, words)  # noqa: E731 - the default matcher, one line
    return [
        # "Tot Item 1 Sub Total 314.00" and "Sold Items Total 13.40" name money, not a count
        (has(_COUNT) and not has(("AMOUNT", "AMT", *_SUBTOTAL, "ITEMTOTAL", "ITEMSTOTAL")), Kind.COUNT),
        (has(_SERVICE) and "TOTAL" not in c, Kind.SERVICE),
        # the taxable base, not a tax
        (has(("TAXABLE", "TAXAMT", "GSTTAAMT")) and "TOTAL" not in c, Kind.OTHER),
        (has(_CHANGE) and not has(("EXCHANGE", "CHANGEABLE")), Kind.CHANGE),
        (has(_SUBTOTAL), Kind.SUBTOTAL),
        (has(_TOTAL_STRONG), Kind.TOTAL),
        (has(_ROUNDING), Kind.ROUNDING),
        # "Total GST" / "GST Total" is the tax amount, "Total incl. GST" is the total
        (_TAX_AMOUNT.search(c) is not None, Kind.TAX),
        (has(("TOTAL", "TOTL")) and has(("DISC", "DISCOUNT", "SAVING")), Kind.DISCOUNT),
        (has(_TOTAL), Kind.TOTAL),
        (has(_TIP) and not has(("TIPTOP", "STRIP")), Kind.TIP),
        (has(_TAX), Kind.TAX),
        (has(_DISCOUNT), Kind.DISCOUNT),
        (has(_TENDERED), Kind.TENDERED),
    ]


def classify(text: str) -> Kind:
    """The role of a row whose text is ``text`` (``Kind.OTHER`` when no keyword says)."""
    c = keywords(text)
    if not c:
        return Kind.OTHER
    return next((kind for matched, kind in _rules(c) if matched), Kind.OTHER)


def classify_words(text: str) -> Kind:
    """Like ``classify``, but a keyword counts only where it spans whole words: for telling item rows
    ("ICED COFFEE", "BEEF TENDERLOIN") from summary and payment rows, where a keyword inside a word misleads."""
    c, has = _whole_words(text)
    if not c:
        return Kind.OTHER
    return next((kind for matched, kind in _rules(c, has) if matched), Kind.OTHER)


def total_strength(text: str) -> float:
    """How sure a TOTAL row is to be the payable total (2 for "grand total", "amount due"; 1 for plain "total")."""
    c = keywords(text)
    if has_any(c, _TOTAL_FINAL):
        return 3.0
    if c.startswith("TOTALSALES"):
        return 1.5  # printed before rounding and service charges on many tills
    if has_any(c, _TOTAL_STRONG):
        return 2.0
    if c.startswith(("TOTAL", "TOTL")):
        return 1.5
    return 1.0
