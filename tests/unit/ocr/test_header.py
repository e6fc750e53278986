"""Merchant name rules of the receipt header, on hand-made OCR rows."""

import dataclasses

from receiptcore.adapters.extractors.ocr.address import evidence
from receiptcore.adapters.extractors.ocr.glued import unglue
from receiptcore.adapters.extractors.ocr.header import parse_header
from receiptcore.adapters.extractors.ocr.name_rows import (
    clean_text,
    is_column_heading,
    is_decoration,
    is_generic,
    is_store_label,
    is_tagline,
    name_text,
)
from receiptcore.adapters.extractors.ocr.types import Line
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


def _scored(rows: list[str], scores: list[float]) -> list[Line]:
    lines = rows_to_lines(rows)
    lines[0].words = [dataclasses.replace(w, score=s) for w, s in zip(lines[0].words, scores, strict=True)]
    return lines


def test_boxes_the_ocr_was_unsure_of_after_a_well_read_name_are_no_part_of_it() -> None:
    rows = ["Harvard Gardens || yon || 3", "320 Cambridge St.", "Boston, MA 02114"]
    lines = _scored(rows, [0.995, 0.855, 0.509])
    assert clean_text(lines[0]) == "Harvard Gardens"
    assert parse_header(lines).name == "Harvard Gardens"
    # read well, they stay; so do unsure boxes before the name, and after a name the OCR was unsure of itself
    assert clean_text(_scored(rows, [0.995, 0.95, 0.95])[0]) == "Harvard Gardens yon 3"
    assert clean_text(_scored(["AIK I || HUAT HARDWARE"], [0.849, 0.991])[0]) == "AIK I HUAT HARDWARE"
    assert clean_text(_scored(rows, [0.93, 0.855, 0.509])[0]) == "Harvard Gardens yon 3"
    # what is left must still be a name of four letters or more
    assert clean_text(_scored(["ABC || Store"], [0.99, 0.5])[0]) == "ABC Store"


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


def test_a_us_city_line_without_its_zip_is_address_not_the_name() -> None:
    rows = ["Casselberry FSU (# 03270)", "Fern Park, FL", "321-444-6536", "3/7/2018 12:07:17 PM"]
    assert parse_header(rows_to_lines(rows)).name == "Casselberry FSU (# 03270)"
    assert evidence("HUNTINGTON BEACH CA") == 2
    assert evidence("Nashville, TN") == 2
    # a one-word name with a state code that is also an English word or a brand is no city line
    assert evidence("SUPREME NY") == 0
    assert evidence("Shop Pay, OK now") == 0


def test_a_store_number_in_brackets_is_no_postcode() -> None:
    assert evidence("Charlotte Pike FSU (#02886)") < 2  # a street word, but no postcode: still a name
    assert evidence("43000 KAJANG") >= 2


def test_a_greeting_line_names_the_shop_as_printed() -> None:
    rows = ["BIENVENUE A DISNEYLAND PARIS", "Vendeur: 47492LYNDA", "Date: 25/10/2017 14:29"]
    assert parse_header(rows_to_lines(rows)).name == "BIENVENUE A DISNEYLAND PARIS"
    # a greeting alone is no name: the row below is
    assert parse_header(rows_to_lines(["WELCOME", "Shell Canada", "Date: 25/10/2017"])).name == "Shell Canada"
    assert parse_header(rows_to_lines(["WELCOME TO", "KRYSTAL", "Date: 25/10/2017"])).name == "KRYSTAL"


def test_a_store_number_after_the_name_does_not_hide_it() -> None:
    rows = ["SPEEDWAY 0006661", "La Porte IN 46350", "TRAN#:2387827", "5/19/2017 6:29 PM"]
    assert parse_header(rows_to_lines(rows)).name == "SPEEDWAY 0006661"
    # but a store-number label alone is not a name
    rows = ["Store #1458", "Panda Express", "1 Main Street", "5/19/2017 6:29 PM"]
    assert parse_header(rows_to_lines(rows)).name == "Panda Express"


def test_a_border_of_repeated_marks_is_not_a_name() -> None:
    rows = [
        "本本本本本车本本车车车车车*本本本车本*车本本本车本",
        "Sushi Yasuda",
        "204 East 43rd Street",
        "New York NY 10017",
    ]
    assert parse_header(rows_to_lines(rows)).name == "Sushi Yasuda"


def test_a_kind_of_shop_or_a_street_with_a_trading_word_is_not_the_name() -> None:
    rows = ["HOME HOUSE", "20 Portman Square", "London W1H 9HF", "THE RESTAURANT", "SRV 80 TABLE 123/1 TIME 22:55"]
    assert parse_header(rows_to_lines(rows)).name == "HOME HOUSE"
    rows = ["Judsons Bar", "4-6 Market Place", "Pocklington", "York £6.95"]
    assert parse_header(rows_to_lines(rows)).name == "Judsons Bar"


def test_a_kind_of_shop_alone_ends_the_name_on_the_row_above() -> None:
    rows = ["KHMER KITCHEN BARBECUE", "RESTAURANT", "Tel :063 956 353", "Time In: 2/15/2016 3:57 49PM"]
    assert parse_header(rows_to_lines(rows, heights={0: 36, 1: 28})).name == "KHMER KITCHEN BARBECUE RESTAURANT"


def test_a_street_printed_large_is_not_the_name() -> None:
    rows = ["PizzaExpress", "Shop 121, Level 1", "18 Shatin centre street, Shatin", "TEL:(852)2670-1238", "29Jan'15"]
    assert parse_header(rows_to_lines(rows, heights={0: 20, 2: 37})).name == "PizzaExpress"


def test_a_legal_name_under_the_address_is_the_operator_of_the_shop_named_above() -> None:
    rows = ["Ozen Zanmai - The Garden", "LG K02, Lwr Gnd, The Gardens,", "Mid Valley City, Syed Putra,",
            "59200 Kuala Lumpur.", "Super Sushi Sdn Bhd (758027-D)", "GST ID:0004932403", "2017/07/12"]  # fmt: skip
    assert parse_header(rows_to_lines(rows)).name == "Ozen Zanmai - The Garden"
    # the legal name above its address stays the name, whatever is printed above it
    rows = [
        "AL MENDIS-THE MINES",
        "ZAWIAJAYA FOOD N BEVERAGE SDN BHD",
        "106-107, LEVEL 1 THE MINES",
        "43300 SERI KEMBANGAN",
    ]
    assert parse_header(rows_to_lines(rows)).name == "ZAWIAJAYA FOOD N BEVERAGE SDN BHD"


def test_a_slogan_in_lower_case_is_not_the_name_but_a_lower_case_logo_word_is() -> None:
    rows = ["M", "i'm lovin' it", "McDonald's Hazeldonk-West", "Hazeldonk 5006", "4836 LZ BREDA", "Tel:076-5961528"]
    assert parse_header(rows_to_lines(rows)).name == "McDonald's Hazeldonk-West"
    rows = ["meijer", "Sawmill Rd.", "Columbus, OH 43235", "Tel:614-555-0100"]
    assert parse_header(rows_to_lines(rows)).name == "meijer"


def test_a_store_number_ending_the_top_row_is_no_postcode() -> None:
    rows = ["ARCO AMPM 42259", "18972 BEACH BLVD", "HUNTINGTON BEACH CA", "714-593-8516", "Description Qty Amount",
            "EC UNLD CA #05 0.6106 || 1.71"]  # fmt: skip
    assert parse_header(rows_to_lines(rows)).name == "ARCO AMPM 42259"


def test_the_item_table_heading_is_not_a_name() -> None:
    rows = ["18972 BEACH BLVD", "HUNTINGTON BEACH CA", "714-593-8516", "Description Qty Amount", "FUEL || 1.71"]
    assert parse_header(rows_to_lines(rows)).name is None


def test_a_brand_printed_large_above_a_legal_name_is_the_shop() -> None:
    rows = ["Khyen Chyen", "ZNK Foods & Beverages Pvt. Ltd.", "G-19, DLF Cross Point", "Contact :0124-4231919"]
    assert parse_header(rows_to_lines(rows, heights={0: 50, 1: 34})).name == "Khyen Chyen"
    # the same print size, or a Malaysian company form: the legal name stays the name
    assert parse_header(rows_to_lines(rows)).name == "ZNK Foods & Beverages Pvt. Ltd."
    rows = ["GHEE HIANG", "GH DISTRIBUTOR & MARKETING SDN BHD", "95, Beach Road, 10300 Penang."]
    assert parse_header(rows_to_lines(rows, heights={0: 50, 1: 34})).name == "GH DISTRIBUTOR & MARKETING SDN BHD"


def test_rows_that_never_name_the_shop() -> None:
    assert is_generic("CUSTOMER COPY")
    assert name_text("WELCOME") == ""  # a greeting alone leaves nothing that can name the shop
    assert not is_generic("Welcome to Chick-fil-A")
    assert name_text("Welcome to Chick-fil-A") == "Chick-fil-A"
    assert is_store_label("Store")
    assert not is_store_label("Speedway")
    assert is_tagline("i'm lovin' it")
    assert not is_tagline("meijer")
    assert not is_tagline("McDonald's")
    assert is_column_heading("Description Qty Amount")
    assert not is_column_heading("Price Chopper")
    assert is_decoration("**********")
    assert not is_decoration("MISSISSIPPI")


def test_postcodes_in_their_national_shapes_are_address_evidence() -> None:
    assert evidence("Montreal QC H2T 1S1") == 2
    assert evidence("London SW1A 1AA") == 2
    assert evidence("Sydney NSW 2000") == 2
    assert evidence("Hauptstraße 5") == 1
    assert evidence("Calle Mayor 3") == 1
    assert evidence("1 Kings Ct") == 2
    assert evidence("Cheesecake Factory") == 0


def test_the_receipts_own_rows_are_not_the_name() -> None:
    rows = ["2 Guests", "Ticket 1043", "Trans 55", "Bob's Diner", "12 Main Street", "7/14/12 14:39"]
    assert parse_header(rows_to_lines(rows)).name == "Bob's Diner"
    rows = ["Clerk Maria", "Caisse 3", "Cafe de Flore", "172 Boulevard Saint-Germain", "14/07/2017 12:30"]
    assert parse_header(rows_to_lines(rows)).name == "Cafe de Flore"
    # how the order is served and the card slip's words
    rows = ["TAKE OUT", "MERCHANT COPY", "Sale", "Panda Express", "1 Main Street", "7/14/12 14:39"]
    assert parse_header(rows_to_lines(rows)).name == "Panda Express"
