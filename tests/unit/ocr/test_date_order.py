import datetime as dt

import pytest

from receiptcore.adapters.extractors.ocr.date_order import american_address, month_first_order, printed_order
from receiptcore.adapters.extractors.ocr.parser import parse_lines
from tests.unit.ocr.helpers import rows_to_lines


def test_an_unambiguous_date_on_the_receipt_shows_its_order() -> None:
    assert printed_order(rows_to_lines(["12/30/2016 FRI", "RETURNS BY 01/05/2017"])) is True
    assert printed_order(rows_to_lines(["30/06/2009 22:01"])) is False
    assert printed_order(rows_to_lines(["03/01/2018", "TEL 03-2164 1400"])) is None


def test_the_printed_order_outweighs_the_currency() -> None:
    lines = rows_to_lines(["15/11/2012 12:30", "TOTAL || $12.00", "RETURN BY 03/12/2012"])
    assert month_first_order(lines, "USD") is False


@pytest.mark.parametrize(
    "row", ["Phoenix, AZ 85044", "SNELLVILLE, GA 30078-1234", "(650) 966-8899", "843-824-6363", "TEL (203)967-2222"]
)
def test_a_us_state_with_its_zip_or_a_north_american_phone_is_an_american_address(row: str) -> None:
    assert american_address(rows_to_lines(["SHOP", row]))


@pytest.mark.parametrize(
    "row", ["81100 JOHOR BAHRU.", "TEL: 07-364 3786", "TEL:6534-7712", "10789 Berlin", "GST ID 000433614848", "IN 1234"]
)
def test_other_addresses_are_not_american(row: str) -> None:
    assert not american_address(rows_to_lines(["SHOP", row]))


def test_an_american_address_reads_ambiguous_dates_month_first_whatever_currency_was_guessed() -> None:
    lines = rows_to_lines(["99 Ranch Market", "Mountain View, CA 94040", "3/1/2018 5:22 PM"])
    assert month_first_order(lines, None) is True
    assert month_first_order(lines, "AUD") is True
    assert month_first_order(rows_to_lines(["TESCO", "3/1/2018 17:22"]), None) is False
    assert month_first_order(rows_to_lines(["JOLLIBEE", "3/1/2018 17:22"]), "PHP") is True


def test_the_parser_reads_an_american_receipts_ambiguous_date_month_first() -> None:
    rows = ["GameStop", "PARAMUS, NJ 07652", "03/01/2018 5:22 PM", "1 CONTROLLER || 59.99", "TOTAL || 59.99"]
    assert parse_lines(rows_to_lines(rows)).purchase_date == dt.date(2018, 3, 1)
    rows[1] = "81100 JOHOR BAHRU."
    assert parse_lines(rows_to_lines(rows)).purchase_date == dt.date(2018, 1, 3)


@pytest.mark.parametrize("label", ["Geldig tot", "Gültig bis", "Valable jusqu'au", "Scadenza", "Offer ends"])
def test_a_valid_until_date_in_several_languages_is_not_the_purchase_date(label: str) -> None:
    rows = ["SHOP", f"{label} 31/12/2017", "12/05/2017", "TOTAL || 9.99"]
    assert parse_lines(rows_to_lines(rows)).purchase_date == dt.date(2017, 5, 12)
