"""Merchant name rules of the receipt header, on hand-made OCR rows."""

from receiptcore.adapters.extractors.ocr.glued import unglue
from receiptcore.adapters.extractors.ocr.header import parse_header
from tests.unit.ocr.helpers import rows_to_lines


def test_a_malay_trading_name_beats_a_garbled_logo_line_above_it() -> None:
    rows = [".Juqmu.sisi", "SYARIKAT PERNIAGAAN GIN KEE", "(81109-A)", "NO 290, JALAN AIR PANAS.", "TEL:03-40210276"]
    assert parse_header(rows_to_lines(rows)).name == "SYARIKAT PERNIAGAAN GIN KEE"


def test_a_company_printed_below_the_document_title_is_the_customer_not_the_shop() -> None:
    rows = ["PERNIAGAAN ZHENG HUI", "NO.59 JALAN PERMAS 9/5", "81750 JOHOR BAHRU", "TEL:07-386 7524",
            "SIMPLIFIED TAX INVOICE", "GOGIANT ENGINEERING (M) SDN BHD", "CS00013386 || 10/01/2018"]  # fmt: skip
    assert parse_header(rows_to_lines(rows)).name == "PERNIAGAAN ZHENG HUI"


def test_a_title_at_the_very_top_does_not_hide_the_name_below_it() -> None:
    rows = ["TAX INVOICE", "KEDAI ACME SDN BHD", "NO 1, JALAN MAJU", "01/02/2019"]
    assert parse_header(rows_to_lines(rows)).name == "KEDAI ACME SDN BHD"


def test_a_brand_line_above_a_complete_legal_name_is_not_joined_to_it() -> None:
    rows = ["AL MENDIS-THE MINES", "ZAWIAJAYA FOOD N BEVERAGE SDN BHD", "(1168272-U)", "106-107, LEVEL 1 THE MINES"]
    assert parse_header(rows_to_lines(rows)).name == "ZAWIAJAYA FOOD N BEVERAGE SDN BHD"


def test_a_legal_name_wrapped_over_two_rows_of_the_same_print_is_joined() -> None:
    rows = ["WESTERN EASTERN", "STATIONERY SDN BHD", "CO REGNO: 21003B-K", "42-46, JLN SULTAN AZLAN"]
    assert parse_header(rows_to_lines(rows)).name == "WESTERN EASTERN STATIONERY SDN BHD"


def test_a_name_read_without_spaces_gets_them_back() -> None:
    rows = ["SANYUSTATIONERYSHOP", "NO. 31G&33G, JALAN SETIA INDAH X,U13/X", "40170 SETIA ALAM"]
    assert parse_header(rows_to_lines(rows)).name == "SANYU STATIONERY SHOP"


def test_unglue_splits_only_tokens_that_read_as_shop_words() -> None:
    assert unglue("WESTERNEASTERN STATIONERY") == "WESTERN EASTERN STATIONERY"
    assert unglue("GARDENIABAKERIES (KL)") == "GARDENIA BAKERIES (KL)"
    # a word of the vocabulary, a brand that does not read as such words, short and lower-case tokens stay
    assert unglue("SUPERMARKET") == "SUPERMARKET"
    assert unglue("WOOLWORTHS") == "WOOLWORTHS"
    assert unglue("BOOKSHOP") == "BOOKSHOP"
    assert unglue("Sanyustationeryshop") == "Sanyustationeryshop"
    # two pieces outside the vocabulary: no split
    assert unglue("ZAWIAJAYABEVERAGEKAMPUNG") == "ZAWIAJAYABEVERAGEKAMPUNG"
