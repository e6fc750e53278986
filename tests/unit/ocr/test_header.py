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


def test_a_date_printed_above_the_name_does_not_hide_it() -> None:
    rows = ["4/10/2015 1:22PM || Sales Receipt #97146", "Store: 1", "Kelly Beauty Supply", "264 Adams St",
            "Dorchester, MA 02122", "617-282-0284", "OPI || 8 || $35.10"]  # fmt: skip
    assert parse_header(rows_to_lines(rows)).name == "Kelly Beauty Supply"


def test_the_name_printed_large_below_a_small_banner_is_the_name() -> None:
    rows = ["EAA AIRVENTURE", "OSHKOSH", "DATE || 07/15/2015", "CHEESE BURGER || $4.50"]
    assert parse_header(rows_to_lines(rows, heights={0: 36, 1: 76})).name == "OSHKOSH"


def test_rows_printed_large_below_the_address_are_not_the_name() -> None:
    rows = ["SAMDAE KOREAN BBQ", "6112 W FLAMINGO RD", "LAS VEGAS NV 89103", "702-399-0202", "Sale",
            "Receipt #20161223-10019", "OPEN PRICE || 10.00"]  # fmt: skip
    assert parse_header(rows_to_lines(rows, heights={0: 14, 4: 27})).name == "SAMDAE KOREAN BBQ"


def test_field_labels_and_banners_are_not_names() -> None:
    rows = ["YOUR GUEST NUMBER IS", "53", "GENERAL MANAGER:", "IN-N-OUT BURGER IRVING", "C-B || 2.60"]
    assert parse_header(rows_to_lines(rows)).name == "IN-N-OUT BURGER IRVING"
    # a name with a colon in it is still a name
    assert parse_header(rows_to_lines(["COTTON:ON", "12 MAIN ST", "SHIRT || 10.00"])).name == "COTTON:ON"
