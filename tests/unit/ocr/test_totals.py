from decimal import Decimal

import pytest

from receiptcore.adapters.extractors.ocr.numbers import misread_as
from receiptcore.adapters.extractors.ocr.total_choice import LARGEST_CONFIDENCE
from receiptcore.adapters.extractors.ocr.totals import WHOLE_UNITS_CONFIDENCE, money_rows, parse_summary
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


def test_a_total_row_holding_its_printed_rate_of_another_amount_is_a_tax_not_the_total() -> None:
    # "Total Tax 7.0%" with TAX misread: 0.70 is 7 % of the 10.00 subtotal, and 10.70 is paid by card
    rows = ["Subtotal || $10.00", "Total Iax 7.0% (#) || $0.70", "EFT Payment Visa || $10.70"]
    assert _total(rows) == Decimal("10.70")
    # the same with the point of the rate lost and the subtotal unreadable: 0.70 is the tax part of 10.70
    rows = ["S11a1 || $10.C0", "Total Iax 7 0% (#) || $0.70", "EFT Payment Visa || $10.70"]
    assert _total(rows) == Decimal("10.70")


def test_a_total_row_with_a_rate_that_fits_no_other_amount_stays_the_total() -> None:
    rows = ["Subtotal || 100.00", "MwSt 19% || 19.00", "Total incl. 19% MwSt || 119.00"]
    assert _total(rows) == Decimal("119.00")


def test_unlabelled_amounts_below_the_subtotal_that_add_up_give_the_total() -> None:
    # the tax and total labels were printed too faint to read; 5.25 + 0.20 = 5.45
    rows = ["DOLLAR BURGER || 1.00", "Subtotal || 5.25", "0.20", "5.45", "Guests 1"]
    assert _total(rows) == Decimal("5.45")


def test_unlabelled_amounts_that_do_not_add_up_are_not_a_total() -> None:
    rows = ["Subtotal || 5.25", "0.20", "7.45"]
    assert _total(rows) == Decimal("5.25")


def test_labels_paired_with_values_one_row_up_when_a_tilted_photo_shifted_the_value_column() -> None:
    # the value column sits a row above its labels: 79.50 + 6.76 = 86.26 only pairs up shifted
    rows = ["Rusty || 4.50", "Sunomono || 79.50", "Subtotal || 6.76", "SALES TAX || 86.26", "Total", "THANK YOU"]
    summary = parse_summary(rows_to_lines(rows), 0)
    assert summary.total is not None
    assert summary.total.value == Decimal("86.26")
    assert summary.subtotal is not None
    assert summary.subtotal.value == Decimal("79.50")
    assert [t[0].value for t in summary.taxes] == [Decimal("6.76")]


def test_labels_paired_with_values_one_row_down_agree_with_the_cash_paid() -> None:
    rows = ["Subtotal", "Tax || 10.00", "TOTAL || 0.80", "CASH || 10.80", "CHANGE || 20.00", "ORDER 12 || 9.20"]
    assert _total(rows) == Decimal("10.80")


def test_a_receipt_whose_rows_agree_is_never_re_paired() -> None:
    rows = ["Item || 10.00", "Subtotal || 10.00", "Tax || 0.80", "TOTAL || 10.80", "CASH || 20.00",
            "CHANGE || 9.20", "Points || 10.80"]  # fmt: skip
    summary = parse_summary(rows_to_lines(rows), 0)
    assert summary.total is not None
    assert summary.total.value == Decimal("10.80")
    assert summary.total.value_line is summary.total.line


def test_a_receipt_in_a_currency_without_cents_has_its_whole_unit_total() -> None:
    rows = ["1 Fruits salad || 23,967", "SubTotal || 111,569", "Service Chg || 11,157", "Tax || 12,273",
            "21:30 Total || 134,999"]  # fmt: skip
    summary = parse_summary(rows_to_lines(rows), 0)
    assert summary.total is not None
    assert summary.total.value == Decimal("134999")
    assert summary.subtotal is not None
    assert summary.subtotal.value == Decimal("111569")


def test_whole_numbers_are_not_totals_when_the_receipt_prints_cents() -> None:
    rows = ["ITEM || 12.50", "TOTAL POINTS || 125", "TOTAL || 12.50"]
    assert _total(rows) == Decimal("12.50")


def test_a_later_grand_total_rounded_to_whole_units_beats_the_net_total_in_cents() -> None:
    rows = ["Sub Total || 1774.00", "Food Dis 50% || 887.00", "Net Total || 887.00", "S.C.@10% || 177.00",
            "G.S.T. 05% || 44.35", "Grand Total : || 1108"]  # fmt: skip
    assert _total(rows) == Decimal("1108")


def test_a_weakly_labelled_whole_number_after_the_total_is_not_the_total() -> None:
    rows = ["Net Total || 887.00", "G.S.T. 05% || 44.35", "Total Points || 1108"]
    assert _total(rows) == Decimal("887.00")


def test_a_whole_unit_total_nothing_confirms_is_doubtful_and_one_that_adds_up_is_not() -> None:
    alone = parse_summary(rows_to_lines(["Fruits salad || 23,967", "Total || 134,999"]), 0)
    assert alone.total is not None
    assert alone.total.value == Decimal("134999")
    assert alone.total_confidence <= WHOLE_UNITS_CONFIDENCE
    rows = ["SubTotal || 111,569", "Service Chg || 11,157", "Tax || 12,273", "Total || 134,999"]
    confirmed = parse_summary(rows_to_lines(rows), 0)
    assert confirmed.total_confidence > WHOLE_UNITS_CONFIDENCE


def test_labels_paired_with_values_two_rows_down_when_the_items_and_tax_add_up() -> None:
    # a bent photo: the value column sits two rows below its labels; items 5.65 + tax 0.51 = 6.16
    rows = ["TAX1", "TOTAL || $0.00", "CASH || $0.51", "$6.16", "CLERK 1 ORDER#0010 || $6.16"]
    summary = parse_summary(rows_to_lines(rows), 0, items_sum=Decimal("5.65"))
    assert summary.total is not None
    assert summary.total.value == Decimal("6.16")
    assert [t[0].value for t in summary.taxes] == [Decimal("0.51")]


def test_a_receipt_whose_total_rows_all_print_zero_has_a_zero_total() -> None:
    rows = ["GIFT CARD REDEMPTION", "SUBTOTAL || 0.00", "TAX || 0.00", "TOTAL || 0.00"]
    summary = parse_summary(rows_to_lines(rows), 0)
    assert summary.total is not None
    assert summary.total.value == Decimal("0.00")


def test_a_zero_total_row_does_not_hide_a_real_total() -> None:
    rows = ["TOTAL DISCOUNT || 0.00", "TOTAL || 0.00", "SUBTOTAL || 12.00", "TAX || 0.96", "CASH || 20.00",
            "CHANGE || 7.04"]  # fmt: skip
    assert _total(rows) == Decimal("12.96")


def test_a_payment_word_inside_an_item_name_is_no_payment() -> None:
    # "CASHM." is cashmere tissue, not cash: only Cash 5.00 - change 2.76 says what was paid
    rows = ["CASHM.BATH.TISS || 2.99", "CASHM.BATH.TISS. || 2.99", "H-HST 13% || .26", "TAX || .26 || BAL || 2.24",
            "Cash || 5.00", "CHANGE || 2.76"]  # fmt: skip
    summary = parse_summary(rows_to_lines(rows), 0)
    assert [row.value for row in summary.tendered] == [Decimal("5.00")]
    assert _total(rows) == Decimal("2.24")


def test_a_clock_time_beside_a_label_does_not_hide_its_value_on_the_next_row() -> None:
    # the time is no misread amount: "Amt Due" takes the amount printed alone below it
    rows = ["Food || 28.95", "15:05 Amt Due", "€28.95", "1.64 || Food BTW 6% || 28.95", "NET TTL || 27.31"]
    values = {row.kind.value: row.value for row in money_rows(rows_to_lines(rows)) if "Due" in row.line.text}
    assert values == {"total": Decimal("28.95")}
    assert _total(rows) == Decimal("28.95")


def test_a_total_whose_amount_ocr_damaged_takes_the_figure_the_items_add_up_to() -> None:
    # "59.J0": one character misread; the items add up to 59.00
    lines = rows_to_lines(["Black Tea || 13.00", "Fruit Salad || 24.00", "Yogurt || 22.00", "Total || QAR || 59.J0"])
    summary = parse_summary(lines, 0, Decimal("59.00"))
    assert summary.total is not None
    assert summary.total.value == Decimal("59.00")
    assert summary.total_confidence <= WHOLE_UNITS_CONFIDENCE


def test_a_damaged_total_that_is_no_near_reading_of_the_sum_is_not_repaired() -> None:
    # 68.J1 is no one-character misreading of 37.00: the total is only the largest amount printed, unconfirmed
    lines = rows_to_lines(["Black Tea || 13.00", "Fruit Salad || 24.00", "Total || QAR || 68.J1"])
    summary = parse_summary(lines, 0, Decimal("37.00"))
    assert summary.total is not None
    assert summary.total.value == Decimal("24.00")
    assert not summary.total_printed
    assert summary.total_confidence <= LARGEST_CONFIDENCE


@pytest.mark.parametrize(
    ("printed", "value", "expected"),
    [("59.J0", "59.00", True), ("40.1", "40.41", True), ("$40.411", "40.41", True), ("40.41", "40.41", False),
     ("4O.J1", "40.41", False), ("4041", "40.41", False), ("12.34", "40.41", False), (".5", "0.50", False)],
)  # fmt: skip
def test_misread_as_allows_one_character_misread_lost_or_added(printed: str, value: str, expected: bool) -> None:
    assert misread_as(printed, Decimal(value)) is expected


def test_a_charge_printed_with_one_decimal_is_read_and_adds_up_to_the_total() -> None:
    rows = ["300.00 X || 3 || 900.00", "SUB TOTAL || 900.00", "Service Charge 10% || 90.0", "SUB TOTAL || 990.00",
            "CASH || 990.00", "BALANCE || 0.00"]  # fmt: skip
    summary = parse_summary(rows_to_lines(rows), 0, Decimal("900.00"))
    assert summary.service is not None
    assert summary.service.value == Decimal("90.00")
    assert summary.total is not None
    assert summary.total.value == Decimal("990.00")


def test_a_total_printed_with_one_decimal_is_not_guessed() -> None:
    summary = parse_summary(rows_to_lines(["Food || 38.00", "Tax || 2.41", "TOTAL || 40.1"]), 0)
    assert summary.total is not None
    assert summary.total.value == Decimal("38.00")  # the largest amount read, not 40.10 or 40.01
    assert not summary.total_printed


def test_a_receipt_without_any_total_label_has_its_largest_amount_below_the_header_as_total() -> None:
    # "Za platiti" (Croatian: to pay) is no keyword; nothing else on the receipt sums or pays
    rows = ["KAVANA || 99.99", "Kava || 3.50", "Kolac || 4.20", "Za platiti || 7.70", "Hvala"]
    summary = parse_summary(rows_to_lines(rows), 1)
    assert summary.total is not None
    assert summary.total.value == Decimal("7.70")
    assert summary.total.line.text == "Za platiti 7.70"
    assert not summary.total_printed
    assert summary.total_confidence <= LARGEST_CONFIDENCE


def test_a_receipt_without_amounts_has_no_total() -> None:
    assert _total(["KAVANA", "Kava", "Hvala 12"]) is None


def test_the_largest_amount_is_no_fallback_when_a_total_row_is_read() -> None:
    assert _total(["Kava || 3.50", "Total || 4.20", "Points balance || 120.00"]) == Decimal("4.20")


def test_india_s_two_equal_gst_halves_are_both_taxes() -> None:
    # CGST and SGST print the same amount; the total is the subtotal plus both
    rows = ["BUTTER MASALA || 99.04", "Sub Total: || 99.04", "SGST @2.5%: || 2.48", "CGST @2.5%: || 2.48",
            "Total: || 104.00", "Cash || 110.00", "Change || 6.00"]  # fmt: skip
    summary = parse_summary(rows_to_lines(rows), 0)
    assert [t[0].value for t in summary.taxes] == [Decimal("2.48"), Decimal("2.48")]
    assert summary.total is not None
    assert summary.total.value == Decimal("104.00")


def test_a_tax_printed_again_in_a_tax_summary_counts_once() -> None:
    rows = ["Subtotal || 10.00", "GST 6% || 0.60", "Total || 10.60", "GST SUMMARY  GST 6% || 0.60"]
    summary = parse_summary(rows_to_lines(rows), 0)
    assert [t[0].value for t in summary.taxes] == [Decimal("0.60")]


def test_a_discount_printed_above_the_subtotal_is_not_taken_off_again() -> None:
    # the subtotal 54.00 already has the 8.00 off: subtotal + tax is the total the card paid
    rows = ["CLAM CHOWDER || 12.00", "HALF HALF || 50.00", "VIP Discount || (8.00)", "SUB TOTAL: || 54.00",
            "TAX || 4.73", "VISA || 58.73"]  # fmt: skip
    summary = parse_summary(rows_to_lines(rows), 0)
    assert summary.total is not None
    assert summary.total.value == Decimal("58.73")


def test_a_discount_printed_below_the_subtotal_is_taken_off_it() -> None:
    rows = ["SUBTOTAL || 62.00", "VIP Discount || 8.00-", "TAX || 4.73", "VISA || 58.73"]
    assert _total(rows) == Decimal("58.73")
