"""The calibrated headline confidence of the rule parser: confirming cues raise it, doubts and flaws lower it."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiptcore.adapters.extractors.ocr.confidence import (
    FLAWED,
    LEVELS,
    POOR_PRINT,
    UNCERTAIN_NAME,
    Evidence,
    level,
    merchant_evidence,
)
from receiptcore.adapters.extractors.ocr.parser import parse_lines
from receiptcore.domain.review import LOW_CONFIDENCE_THRESHOLD, assume_currency, needs_review, review_warnings
from tests.unit.ocr.helpers import rows_to_lines

CONFIRMED = [
    "FAMILY MART SDN BHD",
    "DATE: 12/03/2018 10:15",
    "BREAD || 4.00",
    "MILK || 6.00",
    "SUBTOTAL || 10.00",
    "GST 6% || 0.60",
    "TOTAL || 10.60",
    "VISA || 10.60",
]


def confidences(rows: list[str]) -> dict[str, float]:
    receipt = parse_lines(rows_to_lines(rows))
    return {path: receipt.provenance[path].confidence for path in LEVELS if path in receipt.provenance}


def test_levels_rise_with_the_cues_and_stay_probabilities() -> None:
    for table in LEVELS.values():
        assert list(table) == sorted(table)
        assert all(0 < value < 1 for value in table)
    assert 0 < FLAWED < LOW_CONFIDENCE_THRESHOLD


def test_a_reading_confirmed_by_every_cue_gets_the_top_level() -> None:
    # total: its "TOTAL" label, subtotal + tax = 10.60, the card paid 10.60; date: labelled, with a time, the only
    # date on the receipt; merchant: a company form on the first row
    found = confidences(CONFIRMED)
    assert found == {path: table[-1] for path, table in LEVELS.items()}
    assert all(value >= LOW_CONFIDENCE_THRESHOLD for value in found.values())


def test_a_total_that_is_only_the_cash_handed_over_is_doubtful() -> None:
    rows = ["FAMILY MART SDN BHD", "DATE: 12/03/2018 10:15", "BREAD || 4.00", "MILK || 6.00", "CASH || 50.00"]
    receipt = parse_lines(rows_to_lines(rows))
    assert receipt.total is not None
    # no TOTAL label, nothing but its own row says so: the payment row cannot confirm itself
    assert receipt.provenance["total"].confidence < LOW_CONFIDENCE_THRESHOLD


def test_a_smaller_labelled_total_under_a_bigger_figure_is_doubtful() -> None:
    # "TOTAL 0.70" read for "10.70" (a lost leading digit): the label alone, and a larger amount in the summary
    rows = ["FAMILY MART SDN BHD", "DATE: 12/03/2018", "BREAD || 4.00", "SUBTOTAL || 10.70", "TOTAL || 0.70"]
    assert confidences(rows)["total"] < LOW_CONFIDENCE_THRESHOLD


def test_a_year_that_runs_on_is_a_flaw() -> None:
    # "20/03/187": three digits where the year is; the parser takes 18, which may be right or not
    rows = [*CONFIRMED[:1], "DATE: 20/03/187", *CONFIRMED[2:]]
    assert confidences(rows)["purchase_date"] == FLAWED
    # a clock time glued to the year is the usual print of some tills, no misread
    rows = [*CONFIRMED[:1], "DATE: 20/03/1813:48", *CONFIRMED[2:]]
    assert confidences(rows)["purchase_date"] == LEVELS["purchase_date"][-1]


def test_a_year_first_date_cut_after_one_digit_of_its_day_is_a_flaw() -> None:
    # "2013/05/2" ending the row: year-first dates print "02", so the day's second digit was cut off
    rows = [*CONFIRMED[:1], "2013/05/2", *CONFIRMED[2:]]
    assert confidences(rows)["purchase_date"] == FLAWED
    # the padded day, or more on the row after it (a time), is a whole date
    assert confidences([*CONFIRMED[:1], "2013/05/02", *CONFIRMED[2:]])["purchase_date"] > FLAWED
    assert confidences([*CONFIRMED[:1], "DATE: 2013/5/2 10:15", *CONFIRMED[2:]])["purchase_date"] > FLAWED


def test_a_second_different_date_is_a_doubt() -> None:
    rows = ["FAMILY MART SDN BHD", "12/03/2018", "RETURNS UNTIL 12/04/2018", "TOTAL || 10.60"]
    # one cue (a single reading: 12 can be a month, so not even that) against the other date
    assert confidences(rows)["purchase_date"] < confidences(CONFIRMED)["purchase_date"]


def test_a_street_line_taken_for_the_name_is_doubtful() -> None:
    rows = ["50-01 NORTHERN BOULEVARD", *CONFIRMED[1:]]
    assert confidences(rows)["merchant.name"] < LOW_CONFIDENCE_THRESHOLD


# a shop name with only its place on top for it: one cue, enough on its own
TOP_ONLY = ["CHEERS STORE", "DATE: 12/03/2018 10:15", "BREAD || 4.00", "TOTAL || 4.00", "CASH || 4.00"]


def _merchant_doubts(rows: list[str], score: float | None = None) -> tuple[str, ...]:
    lines = rows_to_lines(rows)
    if score is not None:
        lines[0].words = [dataclasses.replace(w, score=score) for w in lines[0].words]
    return merchant_evidence(lines, lines[0].text, [lines[0]], 1).doubts


def test_a_name_with_a_word_the_ocr_was_unsure_of_is_doubtful() -> None:
    assert confidences(TOP_ONLY)["merchant.name"] >= LOW_CONFIDENCE_THRESHOLD
    assert "uncertain print" not in _merchant_doubts(TOP_ONLY, score=UNCERTAIN_NAME)
    assert "uncertain print" in _merchant_doubts(TOP_ONLY, score=UNCERTAIN_NAME - 0.01)
    # one word read at 0.9 ("It pay" for a logo) outweighs the name's place on top
    evidence = merchant_evidence(rows_to_lines(TOP_ONLY), "CHEERS STORE", rows_to_lines(TOP_ONLY)[:1], 1)
    doubted = Evidence(evidence.cues, (*evidence.doubts, "uncertain print"))
    assert level("merchant.name", doubted) < LOW_CONFIDENCE_THRESHOLD


def test_a_place_line_or_one_repeated_glyph_is_no_shop_name() -> None:
    # "Fern Park, FL" printed where the name should be: a town and a state, not a shop
    lines = rows_to_lines(["Fern Park, FL", *TOP_ONLY[1:]])
    evidence = merchant_evidence(lines, lines[0].text, lines[:1], 1)
    assert "reads like an address" in evidence.doubts
    assert level("merchant.name", evidence) < LOW_CONFIDENCE_THRESHOLD
    # a logo or pattern read as one character again and again
    assert "stray marks" in _merchant_doubts(["本本本车本本末本本", *TOP_ONLY[1:]])
    # a name with a letter used often is still a name
    assert _merchant_doubts(["La Cabana", *TOP_ONLY[1:]]) == ()


def test_a_returns_notice_taken_for_the_name_is_doubtful() -> None:
    # the store's small print on top of the receipt, and printed again at its foot (which looks like a cue)
    rows = ["Goods Sold Are Not Returnable. TQ", *TOP_ONLY[1:], "Goods Sold Are Not Returnable. TQ"]
    lines = rows_to_lines(rows)
    evidence = merchant_evidence(lines, lines[0].text, lines[:1], 1)
    assert "a notice" in evidence.doubts
    assert "printed again" not in evidence.cues
    assert confidences(rows)["merchant.name"] < LOW_CONFIDENCE_THRESHOLD
    assert "a notice" not in _merchant_doubts(TOP_ONLY)


@pytest.mark.parametrize("field", sorted(LEVELS))
def test_level_clamps_the_cue_count_to_the_table(field: str) -> None:
    table = LEVELS[field]
    assert level(field, Evidence(())) == table[0]
    assert level(field, Evidence(("a",), ("b", "c", "d"))) == table[0]
    assert level(field, Evidence(tuple("abcdefgh"))) == table[-1]
    assert level(field, Evidence(tuple("abcdefgh"), flaws=("cut year",))) == FLAWED


@pytest.mark.parametrize("field", sorted(LEVELS))
def test_poor_print_caps_the_level(field: str) -> None:
    table = LEVELS[field]
    assert level(field, Evidence(tuple("abcdefgh")), print_score=POOR_PRINT - 0.01) == min(table[-1], table[1])
    assert level(field, Evidence(tuple("abcdefgh")), print_score=POOR_PRINT) == table[-1]


ITEM_NAMES = ("BREAD", "FRESH MILK", "EGGS 10S", "JASMINE RICE", "GREEN TEA", "APPLES", "COFFEE BEANS")
SHOPS = ("MAJU JAYA SDN BHD", "KEDAI RUNCIT SRI SDN BHD", "ACME TRADING SDN BHD", "GOLDEN BAKERY SDN BHD")


@st.composite
def agreeing_receipt_rows(draw: st.DrawFn) -> list[str]:
    """A printed receipt whose figures all agree: items add up to the subtotal, subtotal + 6 % tax is the total,
    the card pays the total; the shop prints its company form on top and a labelled date with a time."""
    cents = draw(st.lists(st.integers(min_value=100, max_value=99_999), min_size=1, max_size=6))
    names = draw(st.lists(st.sampled_from(ITEM_NAMES), min_size=len(cents), max_size=len(cents)))
    subtotal = sum(cents)
    tax = (subtotal * 6 + 50) // 100
    total = subtotal + tax
    day = draw(st.dates(min_value=dt.date(2015, 1, 1), max_value=dt.date(2025, 12, 31)))
    money = lambda c: f"{c // 100}.{c % 100:02d}"  # noqa: E731 - a local formatter
    return [
        draw(st.sampled_from(SHOPS)),
        f"DATE: {day:%d/%m/%Y} 10:15",
        *(f"{name} || {money(c)}" for name, c in zip(names, cents, strict=True)),
        f"SUBTOTAL || {money(subtotal)}",
        f"GST 6% || {money(tax)}",
        f"TOTAL || {money(total)}",
        f"VISA || {money(total)}",
    ]


@settings(max_examples=150, deadline=None)
@given(agreeing_receipt_rows())
def test_a_printed_receipt_whose_figures_all_agree_is_never_sent_to_review(rows: list[str]) -> None:
    output = assume_currency(parse_lines(rows_to_lines(rows)), "MYR")
    warnings = review_warnings(output)
    assert not needs_review(warnings, output.data(), output.provenance), [w.code for w in warnings]
