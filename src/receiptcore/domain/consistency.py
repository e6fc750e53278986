"""The arithmetic consistency check: do items, subtotal, taxes, tip, discount and total agree?

Every mismatch becomes a named ``ReceiptWarning`` (codes below); ``receiptcore.domain.review`` decides which of them
send the receipt to a person. Tolerances: sums of printed amounts must agree exactly (half a minor unit); products and
percentages (quantity x unit price, rate x base) may be off by one minor unit of rounding; and cash rounding (to 5 or
10 minor units, i.e. 0.05/0.10) is accepted on the total, which many countries print without a rounding line.
Pure: no I/O, Decimal only.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from receiptcore.domain.money import quantum
from receiptcore.domain.receipt_values import ReceiptData, ReceiptWarning

LINE_ITEMS_MISMATCH = "line_items_mismatch"
TOTAL_MISMATCH = "total_mismatch"
TAX_MISMATCH = "tax_mismatch"
ITEM_ARITHMETIC = "item_arithmetic"
MISSING_TOTAL = "missing_total"
MISSING_DATE = "missing_date"
MISSING_MERCHANT = "missing_merchant"
PAYMENT_MISMATCH = "payment_mismatch"
CURRENCY_UNKNOWN = "currency_unknown"
CURRENCY_ASSUMED = "currency_assumed"
LOW_CONFIDENCE = "low_confidence"
POSSIBLE_DUPLICATE = "possible_duplicate"

# The codes check_consistency produces: recomputed from scratch whenever the data changes.
CONSISTENCY_CODES: frozenset[str] = frozenset(
    {
        LINE_ITEMS_MISMATCH,
        TOTAL_MISMATCH,
        TAX_MISMATCH,
        ITEM_ARITHMETIC,
        MISSING_TOTAL,
        MISSING_DATE,
        MISSING_MERCHANT,
        PAYMENT_MISMATCH,
        CURRENCY_UNKNOWN,
    }
)

_CASH_STEPS = (5, 10)  # in minor units: 0.05 and 0.10 for two-decimal currencies


def check_consistency(data: ReceiptData) -> list[ReceiptWarning]:
    """Cross-check the receipt's figures and report every problem as a named warning.

    Args:
        data: the receipt's fields (extracted or corrected).

    Returns:
        Warnings in a stable order; empty when everything that can be checked agrees.
    """
    tol = quantum(data.currency)
    warnings: list[ReceiptWarning] = []
    if data.total is None:
        warnings.append(_warn(MISSING_TOTAL, "no total was found", ["total"]))
    if data.purchase_date is None:
        warnings.append(_warn(MISSING_DATE, "no purchase date was found", ["purchase_date"]))
    if not (data.merchant.name or "").strip():
        warnings.append(_warn(MISSING_MERCHANT, "no merchant name was found", ["merchant.name"]))
    if data.currency is None:
        warnings.append(_warn(CURRENCY_UNKNOWN, "the currency could not be determined", ["currency"]))
    warnings.extend(_item_arithmetic(data, tol))
    warnings.extend(_tax_lines(data, tol))
    warnings.extend(_items_and_total(data, tol))
    warnings.extend(_payments(data, tol))
    return warnings


def _warn(code: str, detail: str, fields: list[str]) -> ReceiptWarning:
    return ReceiptWarning(code=code, detail=detail, fields=fields)


def _close(a: Decimal, b: Decimal, tol: Decimal) -> bool:
    return abs(a - b) <= tol


def _item_arithmetic(data: ReceiptData, tol: Decimal) -> list[ReceiptWarning]:
    out: list[ReceiptWarning] = []
    for index, item in enumerate(data.line_items):
        if item.quantity is None or item.unit_price is None or item.amount is None:
            continue
        product = item.quantity * item.unit_price
        if not _close(product, item.amount, tol):
            out.append(
                _warn(
                    ITEM_ARITHMETIC,
                    f"line {index + 1}: {item.quantity} x {item.unit_price} = {product.normalize():f}, "
                    f"but the line shows {item.amount}",
                    [f"line_items.{index}"],
                )
            )
    return out[:32]


def _tax_lines(data: ReceiptData, tol: Decimal) -> list[ReceiptWarning]:
    out: list[ReceiptWarning] = []
    for index, tax in enumerate(data.taxes):
        if tax.rate is None or tax.base is None:
            continue
        exclusive = tax.base * tax.rate / 100
        # some receipts print the gross amount as the base ("GST 6% included in 106.00")
        inclusive = tax.base * tax.rate / (100 + tax.rate)
        if not (_close(exclusive, tax.amount, tol) or _close(inclusive, tax.amount, tol)):
            out.append(
                _warn(
                    TAX_MISMATCH,
                    f"tax line {index + 1}: {tax.rate}% of {tax.base} is {_fmt(exclusive, tol)}, "
                    f"but the line shows {tax.amount}",
                    [f"taxes.{index}"],
                )
            )
    return out


def _items_sum(data: ReceiptData) -> Decimal | None:
    """Sum of line amounts, or None when there are no items or one has no amount (nothing reliable to check)."""
    if not data.line_items or any(item.amount is None for item in data.line_items):
        return None
    return sum((item.amount for item in data.line_items if item.amount is not None), Decimal(0))


def _total_candidates(base: Decimal, data: ReceiptData) -> list[Decimal]:
    """The totals the printed figures allow: taxes added on top, or already included in the prices."""
    extras = _d(data.tip) + _d(data.service_charge) - abs(_d(data.discount)) + _d(data.rounding)
    taxes = sum((t.amount for t in data.taxes), Decimal(0))
    return [base + taxes + extras, base + extras]


def _total_agrees(expected: Sequence[Decimal], total: Decimal, tol: Decimal, cash_rounding: bool) -> bool:
    for value in expected:
        # sums of printed (already rounded) amounts must agree exactly, up to representation
        if _close(value, total, tol / 2):
            return True
        if cash_rounding:
            for step in _CASH_STEPS:
                unit = tol * step
                # a total printed on the cash grid, within half a step of the computed amount
                if total % unit == 0 and abs(value - total) <= unit / 2:
                    return True
    return False


def _items_and_total(data: ReceiptData, tol: Decimal) -> list[ReceiptWarning]:
    out: list[ReceiptWarning] = []
    items = _items_sum(data)
    cash_rounding = data.rounding is None
    if items is not None and data.subtotal is not None:
        # the subtotal is printed either before or after a receipt-level discount
        after_discount = items - abs(_d(data.discount))
        if not (_close(items, data.subtotal, tol / 2) or _close(after_discount, data.subtotal, tol / 2)):
            out.append(
                _warn(
                    LINE_ITEMS_MISMATCH,
                    f"line items add up to {_fmt(items, tol)}, but the subtotal is {data.subtotal}",
                    ["line_items", "subtotal"],
                )
            )
    if data.total is None:
        return out
    if data.subtotal is not None:
        candidates = _total_candidates(data.subtotal, data)
        # a subtotal already net of the discount must not have it subtracted twice
        if data.discount:
            candidates += _total_candidates(data.subtotal + abs(data.discount), data)
        if not _total_agrees(candidates, data.total, tol, cash_rounding):
            out.append(
                _warn(
                    TOTAL_MISMATCH,
                    f"subtotal {data.subtotal} with taxes, tip, charges, discount and rounding gives "
                    f"{_fmt(candidates[0], tol)}, but the total is {data.total}",
                    ["subtotal", "taxes", "total"],
                )
            )
    elif items is not None and not _total_agrees(_total_candidates(items, data), data.total, tol, cash_rounding):
        out.append(
            _warn(
                LINE_ITEMS_MISMATCH,
                f"line items add up to {_fmt(items, tol)}, which does not lead to the total {data.total}",
                ["line_items", "total"],
            )
        )
    return out


def total_corroborated(data: ReceiptData) -> bool:
    """Whether the total is confirmed by figures other than the line items: the subtotal with taxes, tip,
    charges, discount and rounding gives it, or a payment line pays exactly it."""
    if data.total is None:
        return False
    tol = quantum(data.currency)
    if data.subtotal is not None:
        candidates = _total_candidates(data.subtotal, data)
        if data.discount:
            candidates += _total_candidates(data.subtotal + abs(data.discount), data)
        if _total_agrees(candidates, data.total, tol, data.rounding is None):
            return True
    return any(p.amount is not None and _close(p.amount, data.total, tol / 2) for p in data.payments)


def _payments(data: ReceiptData, tol: Decimal) -> list[ReceiptWarning]:
    amounts = [p.amount for p in data.payments if p.amount is not None]
    if data.total is None or data.total <= 0 or not amounts:
        return []
    paid = sum(amounts, Decimal(0))
    if paid < data.total - tol:
        return [
            _warn(
                PAYMENT_MISMATCH,
                f"payments add up to {paid}, less than the total {data.total}",
                ["payments", "total"],
            )
        ]
    return []


def _d(value: Decimal | None) -> Decimal:
    return value if value is not None else Decimal(0)


def _fmt(value: Decimal, tol: Decimal) -> str:
    return f"{value.quantize(tol):f}"
