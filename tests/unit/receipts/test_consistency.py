"""The arithmetic consistency check: named warnings, tolerances, and property tests on random receipts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from receiptcore.domain.consistency import check_consistency
from receiptcore.domain.receipt import LineItem, Merchant, Payment, PaymentMethod, ReceiptData, ReceiptWarning, TaxLine
from receiptcore.domain.review import needs_review

D = Decimal


def make_data(**overrides: object) -> ReceiptData:
    """A small receipt whose figures agree: 2 x 3.10 + 2.10 = 8.30, GST 6 % = 0.50, total 8.80."""
    base: dict[str, object] = {
        "merchant": Merchant(name="YAM FRESH"),
        "purchase_date": dt.date(2016, 7, 31),
        "currency": "MYR",
        "line_items": [
            LineItem(description="SAWI", quantity=D(1), unit_price=D("2.10"), amount=D("2.10")),
            LineItem(description="TAUHU", quantity=D(2), unit_price=D("3.10"), amount=D("6.20")),
        ],
        "subtotal": D("8.30"),
        "taxes": [TaxLine(label="GST", rate=D(6), base=D("8.30"), amount=D("0.50"))],
        "total": D("8.80"),
    }
    base.update(overrides)
    return ReceiptData.model_validate(base)


def codes(warnings: list[ReceiptWarning]) -> list[str]:
    return [w.code for w in warnings]


def test_consistent_receipt_has_no_warnings() -> None:
    assert check_consistency(make_data()) == []


def test_total_off_by_a_cent_is_a_total_mismatch() -> None:
    assert codes(check_consistency(make_data(total=D("8.81")))) == ["total_mismatch"]


def test_items_not_adding_up_to_subtotal() -> None:
    data = make_data(subtotal=D("9.30"), taxes=[], total=D("9.30"))
    assert codes(check_consistency(data)) == ["line_items_mismatch"]


def test_items_against_total_when_no_subtotal() -> None:
    assert check_consistency(make_data(subtotal=None)) == []
    assert codes(check_consistency(make_data(subtotal=None, total=D("12.00")))) == ["line_items_mismatch"]


def test_tax_inclusive_prices_are_recognised() -> None:
    # items already include the tax: items == total, tax line only informs
    data = make_data(subtotal=None, total=D("8.30"), taxes=[TaxLine(label="VAT", amount=D("0.47"))])
    assert check_consistency(data) == []


def test_tax_rate_times_base_must_match_amount() -> None:
    data = make_data(taxes=[TaxLine(label="GST", rate=D(6), base=D("8.30"), amount=D("0.90"))], total=D("9.20"))
    assert codes(check_consistency(data)) == ["tax_mismatch"]


def test_tax_printed_on_gross_base_is_accepted() -> None:
    data = make_data(
        subtotal=None, total=D("8.30"), taxes=[TaxLine(label="GST incl.", rate=D(6), base=D("8.30"), amount=D("0.47"))]
    )
    assert check_consistency(data) == []


def test_item_arithmetic_is_informational() -> None:
    items = [
        LineItem(description="SAWI", quantity=D(1), unit_price=D("2.10"), amount=D("2.10")),
        LineItem(description="TAUHU", quantity=D(3), unit_price=D("3.10"), amount=D("6.20")),
    ]
    data = make_data(line_items=items)
    warnings = check_consistency(data)
    assert codes(warnings) == ["item_arithmetic"]
    assert warnings[0].fields == ["line_items.1"]
    assert not needs_review(warnings, data)


def test_missing_fields_are_named_and_force_review() -> None:
    data = ReceiptData()
    warnings = check_consistency(data)
    assert codes(warnings) == ["missing_total", "missing_date", "missing_merchant", "currency_unknown"]
    assert needs_review(warnings, data)


def test_cash_rounding_to_five_cents_is_accepted_without_rounding_line() -> None:
    assert check_consistency(make_data(total=D("8.80"), taxes=[], subtotal=D("8.30"))) != []
    assert check_consistency(make_data(taxes=[], total=D("8.30"))) == []
    # 8.33 → 8.35 on the 0.05 grid
    data = make_data(
        line_items=[LineItem(description="X", amount=D("8.33"))], subtotal=D("8.33"), taxes=[], total=D("8.35")
    )
    assert check_consistency(data) == []
    # but 8.33 → 8.45 is not rounding
    data = data.model_copy(update={"total": D("8.45")})
    assert codes(check_consistency(data)) == ["total_mismatch"]


def test_explicit_rounding_line_is_used() -> None:
    data = make_data(taxes=[], subtotal=D("8.30"), rounding=D("0.05"), total=D("8.35"))
    assert check_consistency(data) == []


def test_discount_tip_and_service_charge() -> None:
    data = make_data(taxes=[], discount=D("1.00"), tip=D("2.00"), service_charge=D("0.83"), total=D("10.13"))
    assert check_consistency(data) == []
    # a discount printed as a negative number means the same
    assert check_consistency(data.model_copy(update={"discount": D("-1.00")})) == []


def test_payment_short_of_total() -> None:
    paid = [Payment(method=PaymentMethod.CASH, amount=D("5.00"))]
    data = make_data(payments=paid)
    warnings = check_consistency(data)
    assert codes(warnings) == ["payment_mismatch"]
    assert not needs_review(warnings, data)
    assert check_consistency(make_data(payments=[Payment(method=PaymentMethod.CASH, amount=D("10.00"))])) == []


def test_zero_decimal_currency_uses_whole_units() -> None:
    items = [LineItem(description="ramen", quantity=D(2), unit_price=D(850), amount=D(1700))]
    data = make_data(currency="JPY", line_items=items, subtotal=D(1700), taxes=[], total=D(1700))
    assert check_consistency(data) == []
    assert codes(check_consistency(data.model_copy(update={"total": D(1720)}))) == ["total_mismatch"]


def test_unknown_codes_force_review() -> None:
    assert needs_review([ReceiptWarning(code="something_odd")], make_data())
    assert not needs_review([], make_data())


cents = st.integers(min_value=1, max_value=500_000).map(lambda c: D(c).scaleb(-2))
items_strategy = st.lists(st.tuples(st.integers(min_value=1, max_value=9), cents), min_size=1, max_size=30)


@st.composite
def consistent_receipts(draw: st.DrawFn) -> ReceiptData:
    lines = [
        LineItem(description=f"item {i}", quantity=D(q), unit_price=price, amount=q * price)
        for i, (q, price) in enumerate(draw(items_strategy))
    ]
    subtotal = sum((line.amount for line in lines if line.amount is not None), D(0))
    rate = D(draw(st.sampled_from([0, 5, 6, 7, 10, 19, 20])))
    tax = (subtotal * rate / 100).quantize(D("0.01"))
    tip = draw(st.one_of(st.none(), cents))
    discount = draw(
        st.one_of(st.none(), st.integers(min_value=0, max_value=int(subtotal * 100)).map(lambda c: D(c).scaleb(-2)))
    )
    total = subtotal + tax + (tip or 0) - (discount or 0)
    with_subtotal = draw(st.booleans())
    return make_data(
        line_items=lines,
        subtotal=subtotal if with_subtotal else None,
        taxes=[TaxLine(label="TAX", rate=rate, base=subtotal, amount=tax)] if rate or draw(st.booleans()) else [],
        tip=tip,
        discount=discount,
        total=total,
        payments=[Payment(method=PaymentMethod.CARD, amount=total)],
    )


@settings(max_examples=300, deadline=None)
@given(consistent_receipts())
def test_consistent_random_receipt_never_warns(data: ReceiptData) -> None:
    assert check_consistency(data) == []


@settings(max_examples=300, deadline=None)
@given(consistent_receipts(), st.integers(min_value=11, max_value=100_000), st.booleans())
def test_perturbed_total_always_warns(data: ReceiptData, delta_cents: int, up: bool) -> None:
    assert data.total is not None
    delta = D(delta_cents).scaleb(-2) * (1 if up else -1)
    taxes = sum((t.amount for t in data.taxes), D(0))
    # moving the total by exactly the tax is the tax-inclusive reading of the same figures: legitimately consistent
    assume(abs(delta + taxes) > D("0.10"))
    # the discount sign is ambiguous on purpose (printed as +1.00 or -1.00), so is a subtotal net of the discount
    if data.discount:
        assume(abs(delta - data.discount) > D("0.10") and abs(delta + data.discount) > D("0.10"))
        assume(abs(delta + taxes - data.discount) > D("0.10"))
    perturbed = data.model_copy(update={"total": data.total + delta, "payments": []})
    warnings = check_consistency(perturbed)
    assert {"total_mismatch", "line_items_mismatch"} & set(codes(warnings))
    assert needs_review(warnings, perturbed)
