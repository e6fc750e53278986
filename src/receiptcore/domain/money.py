"""Money: ``Decimal`` amounts and ISO-4217 currency codes. Never float."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Active ISO-4217 codes (2024 list) plus a few widely printed historic ones are not accepted on purpose.
ISO_4217: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
    CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL
    HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
    MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON
    RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH
    UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()
)

# Minor units that differ from 2 decimals (ISO-4217 exponent).
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}

_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def is_currency(code: str) -> bool:
    """Whether ``code`` is an active ISO-4217 alphabetic code (upper-case)."""
    return code in ISO_4217


def minor_units(currency: str | None) -> int:
    """Number of decimals of ``currency`` (2 when unknown)."""
    return _MINOR_UNITS.get(currency or "", 2)


def quantum(currency: str | None) -> Decimal:
    """The smallest unit of ``currency`` as a Decimal, e.g. ``Decimal('0.01')``."""
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str | None) -> Decimal:
    """Round half-up to the currency's minor unit."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def parse_decimal(text: str) -> Decimal | None:
    """Parse a plain decimal string (``-12.50``); returns None when it is not one. No locale guessing here."""
    text = text.strip()
    if not _NUMBER.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None
