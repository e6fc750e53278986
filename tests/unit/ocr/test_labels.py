from decimal import Decimal

import pytest

from receiptcore.adapters.extractors.ocr.labels import Kind, classify
from receiptcore.adapters.extractors.ocr.totals import parse_summary
from tests.unit.ocr.helpers import rows_to_lines


def _total(rows: list[str]) -> Decimal | None:
    summary = parse_summary(rows_to_lines(rows), 0)
    return summary.total.value if summary.total else None


@pytest.mark.parametrize(
    "text",
    ["UKUPNO kn 290,00", "SUMA PLN 12,50", "RAZEM 12,50", "Celkem 120,00", "TOPLAM 45,00", "YHTEENSÄ 9,80",
     "Summa 98,00", "Saldo 62,20", "ÖSSZESEN 1200,00", "18 ART. TOT. COMPRA 28,02", "Tot 12.00"],
)  # fmt: skip
def test_total_words_of_more_languages_and_the_tot_abbreviation_name_a_total(text: str) -> None:
    assert classify(text) == Kind.TOTAL


def test_tot_inside_a_word_is_no_total() -> None:
    assert classify("TOTE BAG 3.00") != Kind.TOTAL
    assert classify("POTATO TOTS 3.00") != Kind.TOTAL


def test_a_count_row_stays_a_count() -> None:
    assert classify("TOTAL QTY: 2") == Kind.COUNT
    assert classify("Total Items 3") == Kind.COUNT
    assert classify("ITEMS SOLD 4") == Kind.COUNT


def test_rows_naming_an_item_count_and_money_are_money() -> None:
    assert classify("Tot Item 1 Sub Total 314.00") == Kind.SUBTOTAL
    assert classify("Sold Items Total 13.40") == Kind.TOTAL


def test_a_count_row_with_a_currency_marked_amount_gives_the_total() -> None:
    rows = ["*Coke || 3.50", "Subtotal || $17.90", "Total for 3 items || $17.90", "Cash || $17.90",
            "GST INCLUDED IN TOTAL || $1.62"]  # fmt: skip
    assert _total(rows) == Decimal("17.90")


def test_the_tax_included_in_the_total_is_a_tax() -> None:
    assert classify("GST INCLUDED IN TOTAL $1.62") == Kind.TAX
    assert classify("VAT incl. in total 3.20") == Kind.TAX
    assert classify("Total incl. GST 17.90") == Kind.TOTAL


def test_a_german_balance_row_is_the_total_beside_the_net_amount() -> None:
    rows = ["Tapas Teller || 16.40", "Saldo || 62.20", "MwSt 19 % || 9.93", "Netto 1 || 52.27", "EURO || 62.20"]
    assert _total(rows) == Decimal("62.20")
