from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiptcore.adapters.extractors.ocr.numbers import clean_numbers, find_amounts, find_whole_amounts, parse_amount

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999.99"), places=2)


def _grouped(value: Decimal, thousands: str, decimal: str) -> str:
    whole, frac = f"{value:.2f}".split(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return thousands.join(groups) + decimal + frac


@given(amounts, st.sampled_from([("", "."), (",", "."), (".", ","), ("", ",")]), st.sampled_from(["", "RM", "$", "€ "]))
def test_amount_in_any_common_format_reads_back(value: Decimal, style: tuple[str, str], mark: str) -> None:
    text = f"TOTAL {mark}{_grouped(value, *style)}"
    assert parse_amount(text) == value


@given(amounts)
def test_trailing_or_leading_minus_makes_a_refund(value: Decimal) -> None:
    assert parse_amount(f"REFUND {value:.2f}-") == -value
    assert parse_amount(f"Rounding -RM{value:.2f}") == -value


@pytest.mark.parametrize(
    ("text", "expected"),
    [("RMO.47", "0.47"), ("TOTAL S.00", "5.00"), ("CASH 1B.5O", "18.50"), ("26 . 50", "26.50"), ("CHANGE .10", "0.10")],
)
def test_ocr_confusions_inside_numbers_are_repaired(text: str, expected: str) -> None:
    assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["Date 12.03.18", "Tel 03-2164 1400", "INV12345", "SOLD BY", "1,234,56"])
def test_things_that_are_not_amounts_are_ignored(text: str) -> None:
    assert find_amounts(text) == []


def test_words_are_not_turned_into_numbers() -> None:
    assert clean_numbers("SOLD OUT BOSS") == "SOLD OUT BOSS"


def test_every_amount_on_a_row_is_found_left_to_right() -> None:
    assert [a.value for a in find_amounts("2 x 3.50 7.00")] == [Decimal("3.50"), Decimal("7.00")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Total 134,999", ["134999"]), ("Rp 25.000", ["25000"]), ("¥1,280", ["1280"]), ("GRAND TOTAL : 1108", ["1108"]),
     ("21:30 Total 12.50", []), ("Tel 03-2164", []), ("12/05/2018", []), ("Table 12", ["12"])],
)  # fmt: skip
def test_whole_unit_amounts(text: str, expected: list[str]) -> None:
    assert [a.value for a in find_whole_amounts(text)] == [Decimal(v) for v in expected]
