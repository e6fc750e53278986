import datetime as dt
from decimal import Decimal

from receiptcore.adapters.extractors.ocr.parser import parse_lines
from receiptcore.domain.receipt import PaymentMethod
from tests.unit.ocr.helpers import rows_to_lines

MALAYSIAN = [
    "LAVENDER CONFECTIONERY & BAKERY S/B",
    "COMPANY NO: 499702-V",
    "LOT G29 & G30, AEON MALL TEBRAU CITY,",
    "NO. 1, JALAN DESA TEBRAU,",
    "81100 JOHOR BAHRU.",
    "TEL: 07-364 3786",
    "GST ID NO: 001872379904",
    "TAX INVOICE",
    "17/06/2018 18:21 || B063895",
    "Qty Descriptions || Amount",
    "1 HONEY SOFT TOAST || 3.30 T",
    "2 XIAO GE GE || 5.40 T",
    "Sub-Total || RM26.47",
    "GST 6% || RM0.00",
    "Rounding Adj || -0.02",
    "TOTAL || 26.45",
    "CASH || 50.00",
    "CHANGE || 23.55",
    "GST Summary || Amount || Tax",
    "Total || 26.45 || 0.00",
]


def test_a_malaysian_receipt_yields_merchant_date_and_the_payable_total() -> None:
    receipt = parse_lines(rows_to_lines(MALAYSIAN))
    assert receipt.merchant.name == "LAVENDER CONFECTIONERY & BAKERY S/B"
    assert receipt.merchant.address is not None
    assert "JALAN DESA TEBRAU" in receipt.merchant.address
    assert "COMPANY NO" not in receipt.merchant.address
    assert receipt.merchant.phone == "07-364 3786"
    assert receipt.merchant.tax_id == "001872379904"
    assert receipt.purchase_date == dt.date(2018, 6, 17)
    assert receipt.purchase_time == dt.time(18, 21)
    assert receipt.currency == "MYR"
    assert receipt.total == Decimal("26.45")
    assert receipt.subtotal == Decimal("26.47")
    assert receipt.rounding == Decimal("-0.02")
    assert receipt.payments[0].method == PaymentMethod.CASH
    assert receipt.payments[0].amount == Decimal("50.00")
    assert [i.description for i in receipt.line_items] == ["HONEY SOFT TOAST", "XIAO GE GE"]
    assert receipt.line_items[1].quantity == Decimal(2)
    assert receipt.provenance["total"].text is not None
    assert "26.45" in receipt.provenance["total"].text
    assert 0 < receipt.provenance["total"].confidence <= 1


def test_total_includes_gst_row_and_a_tax_summary_row_do_not_hide_the_total() -> None:
    rows = ["SHOP SDN BHD", "01/02/2019", "ITEM A || 10.60", "TOTAL INCLUDES GST 6% || 10.60", "GST || 0.60",
            "Total || 10.00 || 0.60"]  # fmt: skip
    receipt = parse_lines(rows_to_lines(rows))
    assert receipt.total == Decimal("10.60")


def test_label_and_value_on_separate_rows() -> None:
    rows = ["CORNER CAFE", "Date: 03/04/2019", "Latte || 4.50", "Muffin || 3.20", "TOTAL", "7.70", "CASH || 10.00"]
    receipt = parse_lines(rows_to_lines(rows))
    assert receipt.total == Decimal("7.70")


def test_total_agreeing_with_cash_and_change_beats_a_bigger_number() -> None:
    rows = ["MINI MART", "12/12/2020", "BREAD || 2.50", "TOTAL SALES || 9.83", "TOTAL ROUNDED || 9.85",
            "CASH || 20.00", "CHANGE || 10.15"]  # fmt: skip
    assert parse_lines(rows_to_lines(rows)).total == Decimal("9.85")


def test_a_refund_has_a_negative_total() -> None:
    rows = ["OUTLET STORE", "REFUND RECEIPT", "05/06/2021", "JACKET || 45.00-", "TOTAL || -45.00"]
    assert parse_lines(rows_to_lines(rows)).total == Decimal("-45.00")


def test_us_receipt_reads_month_first_and_card_last_four() -> None:
    rows = ["JOE'S DINER", "123 MAIN ST, SPRINGFIELD, IL 62701", "03/04/2019 7:15 PM", "BURGER || $8.00",
            "Subtotal || $8.00", "Tax || $0.64", "Total || $8.64", "VISA XXXXXXXXXXXX1234 || $8.64"]  # fmt: skip
    receipt = parse_lines(rows_to_lines(rows))
    assert receipt.currency == "USD"
    assert receipt.purchase_date == dt.date(2019, 3, 4)
    assert receipt.purchase_time == dt.time(19, 15)
    assert receipt.total == Decimal("8.64")
    assert receipt.taxes[0].amount == Decimal("0.64")
    assert receipt.payments[0].method == PaymentMethod.CARD
    assert receipt.payments[0].card_last4 == "1234"


def test_ocr_that_drops_spaces_still_finds_the_labels() -> None:
    rows = ["KEDAI ABC ENTERPRISE", "DATE:2017-01-0209:12", "ITEM1 || 3.00", "SUBTOTAL || 3.00", "GRANDTOTAL || 3.00"]
    receipt = parse_lines(rows_to_lines(rows))
    assert receipt.purchase_date == dt.date(2017, 1, 2)
    assert receipt.total == Decimal("3.00")


def test_no_currency_marker_means_no_currency() -> None:
    receipt = parse_lines(rows_to_lines(["SHOP", "TOTAL || 3.00"]))
    assert receipt.currency is None


def test_a_returns_deadline_or_survey_date_is_not_the_purchase_date() -> None:
    rows = ["SHOP", "RETURN BY 09/25/2017", "08/26/2017 || REG 2", "ITEM || 5.00", "TOTAL || 5.00",
            "SURVEY ENDS 10/31/2017"]  # fmt: skip
    assert parse_lines(rows_to_lines(rows)).purchase_date == dt.date(2017, 8, 26)
