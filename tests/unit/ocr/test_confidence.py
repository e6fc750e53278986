"""The calibrated headline confidence of the rule parser: confirming cues raise it, doubts and flaws lower it."""

from __future__ import annotations

import pytest

from receiptcore.adapters.extractors.ocr.confidence import FLAWED, LEVELS, POOR_PRINT, Evidence, level
from receiptcore.adapters.extractors.ocr.parser import parse_lines
from receiptcore.domain.review import LOW_CONFIDENCE_THRESHOLD
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


def test_a_second_different_date_is_a_doubt() -> None:
    rows = ["FAMILY MART SDN BHD", "12/03/2018", "RETURNS UNTIL 12/04/2018", "TOTAL || 10.60"]
    # one cue (a single reading: 12 can be a month, so not even that) against the other date
    assert confidences(rows)["purchase_date"] < confidences(CONFIRMED)["purchase_date"]


def test_a_street_line_taken_for_the_name_is_doubtful() -> None:
    rows = ["50-01 NORTHERN BOULEVARD", *CONFIRMED[1:]]
    assert confidences(rows)["merchant.name"] < LOW_CONFIDENCE_THRESHOLD


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
