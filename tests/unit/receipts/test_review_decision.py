"""The review decision: each warning kind on hand-made receipts, and agreeing figures never sent to a person."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiptcore.domain.consistency import (
    CONSISTENCY_CODES,
    CURRENCY_ASSUMED,
    LOW_CONFIDENCE,
    POSSIBLE_DUPLICATE,
    check_consistency,
    total_corroborated,
)
from receiptcore.domain.receipt import (
    ExtractedReceipt,
    FieldSource,
    LineItem,
    Merchant,
    Payment,
    PaymentMethod,
    ReceiptData,
    ReceiptWarning,
    TaxLine,
)
from receiptcore.domain.review import (
    HEADLINE_FIELDS,
    LOW_CONFIDENCE_THRESHOLD,
    assume_currency,
    blocking,
    confident_total,
    low_confidence_warnings,
    needs_review,
    review_warnings,
)

D = Decimal


def receipt(**overrides: object) -> ExtractedReceipt:
    """2 x 3.10 + 2.10 = 8.30, GST 6 % = 0.50, total 8.80 paid by card, every headline field read confidently."""
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
        "payments": [Payment(method=PaymentMethod.CARD, amount=D("8.80"))],
        "provenance": {path: FieldSource(confidence=0.95) for path in HEADLINE_FIELDS},
    }
    base.update(overrides)
    return ExtractedReceipt.model_validate(base)


def decide(output: ExtractedReceipt) -> tuple[list[str], bool]:
    warnings = review_warnings(output)
    return [w.code for w in warnings], needs_review(warnings, output.data(), output.provenance)


UNSURE_TOTAL = {path: FieldSource(confidence=0.95 if path != "total" else 0.6) for path in HEADLINE_FIELDS}
MISREAD_ITEMS = [LineItem(description="SAWI", amount=D("2.70")), LineItem(description="TAUHU", amount=D("6.20"))]


def test_agreeing_receipt_is_accepted() -> None:
    assert decide(receipt()) == ([], False)


def test_line_items_off_with_total_confirmed_by_subtotal_and_tax_is_informational() -> None:
    # an item misread (2.10 read as 2.70): the items no longer add up, but subtotal + tax = total still holds
    codes, sent = decide(receipt(line_items=MISREAD_ITEMS, provenance={}))
    assert codes == ["line_items_mismatch"]
    assert not sent


def test_line_items_off_with_total_confirmed_by_payment_is_informational() -> None:
    codes, sent = decide(receipt(line_items=MISREAD_ITEMS, subtotal=None, taxes=[], provenance={}))
    assert codes == ["line_items_mismatch"]
    assert not sent


def test_line_items_off_with_nothing_confirming_the_total_blocks() -> None:
    # no confidence stated for the total (an extractor without provenance) and no figure confirming it
    codes, sent = decide(receipt(line_items=MISREAD_ITEMS, subtotal=None, taxes=[], payments=[], provenance={}))
    assert codes == ["line_items_mismatch"]
    assert sent


def test_line_items_off_under_a_confidently_read_total_is_informational() -> None:
    # the items are not a headline field; a calibrated total confidence already weighs their sum as one cue
    output = receipt(line_items=MISREAD_ITEMS, subtotal=None, taxes=[], payments=[])
    assert output.provenance["total"].confidence >= LOW_CONFIDENCE_THRESHOLD
    assert decide(output) == (["line_items_mismatch"], False)
    # the same receipt with the total read unsurely: both the sum and the confidence say so
    codes, sent = decide(output.model_copy(update={"provenance": UNSURE_TOTAL}))
    assert codes == ["line_items_mismatch", "low_confidence"]
    assert sent


def test_a_subtotal_chain_that_is_off_does_not_block_when_the_payment_pays_the_total() -> None:
    # subtotal misread (8.30 → 8.90): subtotal + tax no longer gives the total, but the card paid exactly 8.80
    codes, sent = decide(receipt(subtotal=D("8.90"), line_items=[], provenance=UNSURE_TOTAL))
    assert codes == ["total_mismatch", "low_confidence"]
    assert sent  # the unsure total itself still asks for a person
    codes, sent = decide(receipt(subtotal=D("8.90"), line_items=[], provenance={}))
    assert codes == ["total_mismatch"]
    assert not sent
    # without the payment, and with no confidence stated for the total, nothing vouches for it
    codes, sent = decide(receipt(subtotal=D("8.90"), line_items=[], payments=[], provenance={}))
    assert codes == ["total_mismatch"]
    assert sent


@pytest.mark.parametrize(
    "overrides",
    [
        {"subtotal": D("8.90"), "line_items": [], "payments": []},  # total_mismatch: the subtotal misread
        {"taxes": [TaxLine(label="GST", rate=D(6), base=D("8.30"), amount=D("0.90"))], "payments": []},  # tax_mismatch
    ],
)
def test_arithmetic_off_around_a_confidently_read_total_is_informational(overrides: dict[str, object]) -> None:
    # the subtotal and the tax lines are no headline fields: a total read with confidence (its label, a repeat,
    # the payment...) is as often right with them off as with them agreeing (measured, docs/extractors.md)
    output = receipt(**overrides)
    assert output.provenance["total"].confidence >= LOW_CONFIDENCE_THRESHOLD
    codes, sent = decide(output)
    assert codes
    assert set(codes) <= {"total_mismatch", "tax_mismatch"}
    assert not sent
    # the same figures under a total read unsurely: to a person
    codes, sent = decide(output.model_copy(update={"provenance": UNSURE_TOTAL}))
    assert "low_confidence" in codes
    assert sent
    # and with no confidence stated at all (an extractor without provenance), the arithmetic alone blocks
    assert decide(output.model_copy(update={"provenance": {}}))[1]


def test_a_confidence_excuses_only_the_total_it_was_read_for() -> None:
    # the confidence speaks of the amount its source text shows; a total changed since (a person's correction, a
    # total derived from cash minus change) does not inherit it
    read = {**UNSURE_TOTAL, "total": FieldSource(confidence=0.97, text="TOTAL RM 8.80")}
    assert not decide(receipt(subtotal=D("8.90"), line_items=[], payments=[], provenance=read))[1]
    assert decide(receipt(subtotal=D("8.90"), line_items=[], payments=[], total=D("9.30"), provenance=read))[1]
    # separators and a currency mark do not matter, nor do whole units or a zero total
    assert confident_total({"total": FieldSource(confidence=0.97, text="Summe EUR 1.108,00")}, D("1108.00"))
    assert confident_total({"total": FieldSource(confidence=0.97, text="Total 134,999")}, D("134999"))
    assert confident_total({"total": FieldSource(confidence=0.97, text="TOTAL .82")}, D("0.82"))
    assert confident_total({"total": FieldSource(confidence=0.97, text="TOTAL 0.00")}, D("0.00"))
    assert not confident_total({"total": FieldSource(confidence=0.97, text="CASH 20.00")}, D("6.00"))


def test_a_tax_rate_that_is_off_does_not_block_when_subtotal_and_tax_give_the_total() -> None:
    # 6 % of 8.30 is 0.50, the line shows 0.90, yet 8.30 + 0.90 = 9.20 is the printed total: the rate was misread
    tax = [TaxLine(label="GST", rate=D(6), base=D("8.30"), amount=D("0.90"))]
    codes, sent = decide(receipt(taxes=tax, total=D("9.20"), payments=[]))
    assert codes == ["tax_mismatch"]
    assert not sent


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"total": D("8.90"), "payments": []}, "total_mismatch"),
        ({"total": None, "payments": []}, "missing_total"),
        ({"purchase_date": None}, "missing_date"),
        ({"merchant": Merchant(name="")}, "missing_merchant"),
        ({"currency": None}, "currency_unknown"),
        ({"taxes": [TaxLine(label="GST", rate=D(6), base=D("8.30"), amount=D("0.90"))], "subtotal": None,
          "payments": []}, "tax_mismatch"),
    ],
)  # fmt: skip
def test_doubtful_headline_figures_block(overrides: dict[str, object], code: str) -> None:
    codes, sent = decide(receipt(**overrides, provenance={}))
    assert code in codes
    assert sent


@pytest.mark.parametrize("code", ["item_arithmetic", "payment_mismatch", "currency_assumed"])
def test_informational_codes_never_block(code: str) -> None:
    output = receipt()
    assert not needs_review([ReceiptWarning(code=code)], output.data())


def test_a_possible_duplicate_blocks() -> None:
    # the worker adds it when the owner already has a receipt with the same merchant, date, total and currency
    duplicate = ReceiptWarning(code="possible_duplicate", fields=["merchant.name", "purchase_date", "total"])
    assert needs_review([duplicate], receipt().data(), receipt().provenance)


def test_an_unknown_code_from_an_extractor_blocks() -> None:
    output = receipt(warnings=[ReceiptWarning(code="blurry_photo", detail="the extractor says so")])
    assert decide(output) == (["blurry_photo"], True)


@pytest.mark.parametrize("path", HEADLINE_FIELDS)
def test_a_headline_field_below_the_confidence_threshold_blocks(path: str) -> None:
    provenance = {p: FieldSource(confidence=0.95) for p in HEADLINE_FIELDS}
    provenance[path] = FieldSource(confidence=LOW_CONFIDENCE_THRESHOLD - 0.01)
    codes, sent = decide(receipt(provenance=provenance))
    assert codes == ["low_confidence"]
    assert sent
    assert low_confidence_warnings(provenance)[0].fields == [path]


def test_a_merchant_matched_to_the_directory_is_not_judged_by_the_reading_threshold() -> None:
    # the directory's match score (at least its own MATCH_THRESHOLD, 0.8) replaces the reading confidence
    provenance = {p: FieldSource(confidence=0.95) for p in HEADLINE_FIELDS}
    provenance["merchant.name"] = FieldSource(confidence=0.81, method="merchant_directory", text="Nettooy")
    assert decide(receipt(provenance=provenance)) == ([], False)
    # the same score on a name taken as read is a doubtful reading
    provenance["merchant.name"] = FieldSource(confidence=0.81, text="Nettooy")
    assert decide(receipt(provenance=provenance)) == (["low_confidence"], True)


# every warning kind the product makes, and whether it sends a receipt whose total nothing vouches for (no confidence
# stated, no subtotal chain, no payment) / one whose total the subtotal, tax and card payment all confirm
DECISION = {
    "item_arithmetic": (False, False),
    "payment_mismatch": (False, False),
    "currency_assumed": (False, False),
    "line_items_mismatch": (True, False),
    "total_mismatch": (True, False),
    "tax_mismatch": (True, False),
    "missing_total": (True, True),
    "missing_date": (True, True),
    "missing_merchant": (True, True),
    "currency_unknown": (True, True),
    "low_confidence": (True, True),
    "possible_duplicate": (True, True),
}


@pytest.mark.parametrize(("code", "decided"), DECISION.items())
def test_every_warning_kind_has_a_decided_effect(code: str, decided: tuple[bool, bool]) -> None:
    # a new code must be decided here (and in the docs' table) before it ships
    assert set(DECISION) == CONSISTENCY_CODES | {LOW_CONFIDENCE, POSSIBLE_DUPLICATE, CURRENCY_ASSUMED}
    bare = receipt(subtotal=None, taxes=[], payments=[], provenance={}).data()
    confirmed = receipt(provenance={}).data()
    assert total_corroborated(confirmed)  # 8.30 + 0.50 = 8.80, paid 8.80 by card
    assert not total_corroborated(bare)
    warning = [ReceiptWarning(code=code)]
    assert (needs_review(warning, bare), needs_review(warning, confirmed)) == decided


def test_the_same_warning_twice_is_reported_once() -> None:
    repeated = ReceiptWarning(code="missing_date", detail="extractor", fields=["purchase_date"])
    codes, _ = decide(receipt(purchase_date=None, warnings=[repeated]))
    assert codes.count("missing_date") == 1


cents = st.integers(min_value=1, max_value=500_000).map(lambda c: D(c).scaleb(-2))


@st.composite
def agreeing_receipts(draw: st.DrawFn) -> ExtractedReceipt:
    lines = [
        LineItem(description=f"item {i}", quantity=D(q), unit_price=price, amount=q * price)
        for i, (q, price) in enumerate(
            draw(st.lists(st.tuples(st.integers(min_value=1, max_value=9), cents), min_size=1, max_size=25))
        )
    ]
    subtotal = sum((line.amount for line in lines if line.amount is not None), D(0))
    rate = D(draw(st.sampled_from([0, 5, 6, 7, 8, 10, 19, 20, 21])))
    tax = (subtotal * rate / 100).quantize(D("0.01"))
    tip = draw(st.one_of(st.none(), cents))
    total = subtotal + tax + (tip or 0)
    return receipt(
        merchant=Merchant(name=draw(st.text(alphabet="ABCDEFGHIJ KLMNOP", min_size=2, max_size=30)).strip() or "AB"),
        purchase_date=draw(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31))),
        currency=draw(st.sampled_from(["MYR", "EUR", "USD", "GBP"])),
        line_items=lines,
        subtotal=subtotal if draw(st.booleans()) else None,
        taxes=[TaxLine(label="TAX", rate=rate, base=subtotal, amount=tax)] if rate else [],
        tip=tip,
        total=total,
        payments=[Payment(method=PaymentMethod.CARD, amount=total)] if draw(st.booleans()) else [],
        provenance={
            path: FieldSource(confidence=draw(st.floats(min_value=LOW_CONFIDENCE_THRESHOLD, max_value=1)))
            for path in HEADLINE_FIELDS
        },
    )


@settings(max_examples=300, deadline=None)
@given(agreeing_receipts())
def test_a_receipt_whose_figures_all_agree_is_never_sent_to_review(output: ExtractedReceipt) -> None:
    warnings = review_warnings(output)
    assert blocking(warnings, output.data(), output.provenance) == []
    assert blocking(warnings, output.data()) == []
    assert check_consistency(output.data()) == []


def test_review_decision_reads_only_the_data_it_is_given() -> None:
    # the decision is a pure function of warnings and data: a plain ReceiptData works too
    data = ReceiptData.model_validate(receipt().data().model_dump())
    assert not needs_review([], data)


def test_a_missing_currency_takes_the_default_and_is_not_a_blocker() -> None:
    output = assume_currency(receipt(currency=None), "EUR")
    codes, sent = decide(output)
    assert output.currency == "EUR"
    assert codes == ["currency_assumed"]
    assert not sent
    # a printed currency is never overridden, and without a default nothing is assumed
    assert assume_currency(receipt(), "EUR").currency == "MYR"
    assert decide(assume_currency(receipt(currency=None), None)) == (["currency_unknown"], True)


def test_a_stricter_threshold_sends_what_the_default_accepts() -> None:
    # what receiptcore eval's curve measures: the same decision, the confidence bar set elsewhere
    output = receipt(subtotal=D("8.90"), line_items=[], payments=[],
                     provenance={**UNSURE_TOTAL, "total": FieldSource(confidence=0.9)})  # fmt: skip
    warnings = review_warnings(output)
    assert not needs_review(warnings, output.data(), output.provenance)
    strict = review_warnings(output, 0.95)
    assert [w.code for w in strict] == ["total_mismatch", "low_confidence"]
    # the arithmetic is no longer excused by the total either: its confidence is below the stricter bar
    assert [w.code for w in blocking(strict, output.data(), output.provenance, 0.95)] == [
        "total_mismatch",
        "low_confidence",
    ]
    assert not confident_total(output.provenance, output.total, 0.95)
    assert confident_total(output.provenance, output.total)
