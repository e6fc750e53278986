"""Day-first or month-first: how to read an ambiguous numeric date (``03/01/2018``) on one receipt.

The receipt says it first: a numeric date on it that only one order makes valid (``12/30/2016``, ``30/06/2009``)
shows how its printer writes dates. Failing that, US dollars or Philippine pesos read month-first, and so does a
receipt whose address has a US state with its ZIP code (``Phoenix, AZ 85044``) or a North American phone number
(``(203) 967-2222``, ``843-824-6363``), whatever currency was guessed (a third of WildReceipt's receipts print
none). Anything else reads day-first, the order of most of the world.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from receiptcore.adapters.extractors.ocr.currency import month_first
from receiptcore.adapters.extractors.ocr.types import Line

_NUMERIC = re.compile(r"(?<![\d/.-])(\d{1,2})\s?([-/.])\s?(\d{1,2})\s?\2\s?(?:\d{4}|\d{2})(?!\d)")
_MONTH_FIRST = frozenset({"USD", "PHP"})  # the Philippines write dates as the US do
_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split()
)
_STATE_ZIP = re.compile(r"(?<![A-Za-z])([A-Z]{2})\.?,?\s?\d{5}(?:-\d{4})?(?!\d)")
# (203) 967-2222, 843-824-6363: three digits, three, four (Malaysia and Singapore group theirs 2-4-4 and 4-4)
_NANP_PHONE = re.compile(r"(?<![\d-])(?:\(\d{3}\)\s?|\d{3}[-.])\d{3}\s?[-.]\s?\d{4}(?![\d-])")


def printed_order(lines: Sequence[Line]) -> bool | None:
    """Whether the receipt's unambiguous numeric dates are month-first (True), day-first (False), or None when
    it prints none or both kinds equally."""
    votes = 0
    for line in lines:
        for m in _NUMERIC.finditer(line.text):
            first, second = int(m.group(1)), int(m.group(3))
            if 1 <= first <= 12 < second <= 31:
                votes += 1
            elif 1 <= second <= 12 < first <= 31:
                votes -= 1
    return None if votes == 0 else votes > 0


def american_address(lines: Sequence[Line]) -> bool:
    """Whether the receipt prints a US state with its ZIP code or a North American phone number."""
    for line in lines:
        if _NANP_PHONE.search(line.text):
            return True
        if any(m.group(1) in _STATES for m in _STATE_ZIP.finditer(line.text)):
            return True
    return False


def month_first_order(lines: Sequence[Line], currency: str | None) -> bool:
    """Whether ambiguous numeric dates on this receipt read month-first (see the module docstring)."""
    printed = printed_order(lines)
    if printed is not None:
        return printed
    # the address before a currency other than the dollar: those are often guessed from words on the receipt
    return month_first(currency) or currency in _MONTH_FIRST or american_address(lines)
