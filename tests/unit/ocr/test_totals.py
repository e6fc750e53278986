from decimal import Decimal

from receiptcore.adapters.extractors.ocr.totals import money_rows, parse_summary
from tests.unit.ocr.helpers import rows_to_lines


def _total(rows: list[str]) -> Decimal | None:
    summary = parse_summary(rows_to_lines(rows), 0)
    return summary.total.value if summary.total else None


def test_a_hyphen_printed_for_the_decimal_point_of_a_labelled_amount_is_read_as_one() -> None:
    rows = ["SUB-TOTAL (GST) || 24.00", "TOTAL || 24-00", "CASH || 50-00", "CHANGE || 26.00",
            "*GST 0 6% INCLUDED IN TOTAL", "TAX TOTAL: || 1.36"]  # fmt: skip
    values = {row.kind.value: row.value for row in money_rows(rows_to_lines(rows))}
    assert values["total"] == Decimal("24.00")
    assert values["tendered"] == Decimal("50.00")
    assert _total(rows) == Decimal("24.00")


def test_hyphenated_numbers_that_are_not_amounts_stay_unread() -> None:
    rows = ["CASH TEL 03-2164 1400", "TOTAL DATE 15-09-17", "CHANGE || -00"]
    assert [row.value for row in money_rows(rows_to_lines(rows))] == []
