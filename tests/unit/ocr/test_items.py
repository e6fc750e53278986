"""Line-item rules on hand-made OCR rows: the rows between the header and the totals."""

from decimal import Decimal

from receiptcore.adapters.extractors.ocr.items import items_start, parse_items
from receiptcore.adapters.extractors.ocr.labels import Kind, classify, classify_words
from receiptcore.adapters.extractors.ocr.parser import parse_lines
from tests.unit.ocr.helpers import rows_to_lines


def _items(rows: list[str]) -> list[tuple[str, Decimal | None]]:
    lines = rows_to_lines(rows)
    return [(item.description, item.amount) for item, _ in parse_items(lines, 0, len(lines))]


def test_rows_printed_without_a_price_between_items_are_items_of_amount_zero() -> None:
    rows = ["Lamb Korma || 10.99", "Mild", "Veg Malai Kofta || 8.99", "--Hot", "> Animal", "Raita || 1.50"]
    assert _items(rows) == [
        ("Lamb Korma", Decimal("10.99")),
        ("Mild", Decimal(0)),
        ("Veg Malai Kofta", Decimal("8.99")),
        ("--Hot", Decimal(0)),
        ("> Animal", Decimal(0)),
        ("Raita", Decimal("1.50")),
    ]


def test_text_before_the_first_priced_item_is_not_an_item() -> None:
    assert _items(["Pump 01", "Dine In", "Burger || 5.00"]) == [("Burger", Decimal("5.00"))]


def test_a_name_above_a_discount_row_belongs_to_the_discount() -> None:
    assert _items(["BenSPECIAL || 12.50", "YELP", "Open $ Disc || 2.05-", "Caprese || 10.00"]) == [
        ("BenSPECIAL", Decimal("12.50")),
        ("Caprese", Decimal("10.00")),
    ]


def test_a_detail_row_below_a_name_gives_the_name_its_price() -> None:
    rows = ["EUKANUBA SM BREED ADULT 16LB", "ITEM CODE:PG50014 || $49.99", "Pink Lady Apples",
            "0.530 kg Net @ $3.99/kg || 2.11"]  # fmt: skip
    assert _items(rows) == [("EUKANUBA SM BREED ADULT 16LB", Decimal("49.99")), ("Pink Lady Apples", Decimal("2.11"))]


def test_a_detail_row_without_a_name_above_is_no_item() -> None:
    assert _items(["Bananas || 1.20", "0.530 kg Net @ $3.99/kg || 2.11"]) == [("Bananas", Decimal("1.20"))]


def test_a_quantity_and_x_before_a_name_is_not_a_detail_row() -> None:
    assert _items(["Order #134", "1 X Sal Sashimi", "1 X Chkn Teri Roll || $3.75"]) == [
        ("Chkn Teri Roll", Decimal("3.75"))
    ]


def test_a_leading_quantity_before_a_name_that_starts_with_a_number_is_dropped() -> None:
    # "MAR 30.00" is the name's end and the price, not a date
    lines = rows_to_lines(["1 2kunafa || 4.00", "1 1/2 BRUNELLO MAR || 30.00", "7 804 BOW WOW || 30.00"])
    items = [item for item, _ in parse_items(lines, 0, len(lines))]
    assert [i.description for i in items] == ["2kunafa", "1/2 BRUNELLO MAR", "804 BOW WOW"]
    assert [i.quantity for i in items] == [Decimal(1), Decimal(1), Decimal(7)]


def test_keywords_inside_item_names_do_not_end_the_items() -> None:
    rows = ["CAFE", "01/02/2019", "ICED COFFEE || 3.50", "LEFTY'S MARGARITA MIX || 4.99", "CASHEW NUTS || 2.00",
            "BEEF TENDERLOIN || 30.00", "TOTAL || 40.49", "CASH || 50.00"]  # fmt: skip
    receipt = parse_lines(rows_to_lines(rows))
    assert [i.description for i in receipt.line_items] == [
        "ICED COFFEE",
        "LEFTY'S MARGARITA MIX",
        "CASHEW NUTS",
        "BEEF TENDERLOIN",
    ]
    assert receipt.total == Decimal("40.49")


def test_classify_words_needs_whole_words_where_classify_matches_inside_words() -> None:
    assert classify("ICED COFFEE 3.50") == Kind.DISCOUNT
    assert classify_words("ICED COFFEE 3.50") == Kind.OTHER
    assert classify_words("CUSTARD 2.00") == Kind.OTHER
    for text, kind in (("Sub-Total 10.00", Kind.SUBTOTAL), ("TOTAL:RM12.00", Kind.TOTAL), ("Disc. 1.00", Kind.DISCOUNT),
                       ("CASHTENDERED 50.00", Kind.TENDERED), ("Payments 5.00", Kind.TENDERED),
                       ("Total Discount 2.00", Kind.DISCOUNT), ("Change Due 1.00", Kind.CHANGE)):  # fmt: skip
        assert classify_words(text) == kind, text


def test_numbers_printed_apart_are_columns_numbers_inside_the_name_box_are_the_name() -> None:
    rows = ["19-728 || Battery 18V 3.0Ah x 2 || $32.96", "LANGERS ORANGE 32 OZ || 100053 || 43.99",
            "Mineral Water 1 Ltr || 2 || 3.00", "PAN QUESO PEQ. || 2.00"]  # fmt: skip
    assert [d for d, _ in _items(rows)] == ["Battery 18V 3.0Ah x 2", "LANGERS ORANGE 32 OZ", "Mineral Water 1 Ltr",
                                            "PAN QUESO PEQ."]  # fmt: skip


def test_a_total_amount_row_after_the_items_is_not_their_column_heading() -> None:
    rows = ["SHOP", "01/02/2019", "Burger || 5.00", "Fries || 2.00", "TOTAL AMOUNT || 7.00", "Thanks"]
    lines = rows_to_lines(rows)
    assert items_start(lines, 1) == 1
    # a heading before the items still moves the start past it
    lines = rows_to_lines(["SHOP", "01/02/2019", "Item || Qty || Amount", "Burger || 5.00"])
    assert items_start(lines, 1) == 3


def test_serving_and_price_note_rows_are_not_items() -> None:
    rows = ["C-B || 2.60", "Counter-Eat In || 2.60", "Pink Lady Apples || 2.11", "Price Over || 0.50",
            "Bananas", "3EA @ 0.30 || 0.90", "Regular Price || 1.20"]  # fmt: skip
    assert _items(rows) == [
        ("C-B", Decimal("2.60")),
        ("Pink Lady Apples", Decimal("2.11")),
        ("Bananas", Decimal("0.90")),
    ]


def test_a_payment_word_above_the_totals_is_part_of_an_item() -> None:
    rows = ["Foot Locker", "01/02/2019", "ADIYEEZY BOOST 350 || 200.00", "SUBTOTAL || 200.00", "TOTAL || 217.50",
            "BOOST || 217.50"]  # fmt: skip
    receipt = parse_lines(rows_to_lines(rows))
    assert [i.description for i in receipt.line_items] == ["ADIYEEZY BOOST 350"]
    assert receipt.total == Decimal("217.50")


def test_prices_without_decimals_are_read_from_their_right_aligned_column() -> None:
    rows = ["Particulars || Qty || Amount", "TOMATO BASIL SOUP || 1 || 199", "CRISPY ALOO CUP || 1 || 250",
            "1 Nasi Goreng || 43.801", "Sub Total || 1774.00"]  # fmt: skip
    assert _items(rows[1:4]) == [
        ("TOMATO BASIL SOUP", Decimal(199)),
        ("CRISPY ALOO CUP", Decimal(250)),
        ("Nasi Goreng", Decimal(43801)),
    ]


def test_whole_numbers_are_no_prices_where_the_block_has_amounts_with_decimals() -> None:
    assert _items(["Burger || 5.00", "1 X Ala Roll || $550", "Fries || 2.00"]) == [
        ("Burger", Decimal("5.00")),
        ("Ala Roll", Decimal(0)),
        ("Fries", Decimal("2.00")),
    ]


def test_german_summary_and_payment_words_end_the_items() -> None:
    rows = ["Taqueria Berlin", "05.11.2013 18:30", "Taco Fajita || 2,10", "mit Koriander", "Taco Del Campo || 4,20",
            "Rechnungsbetrag || 8,70", "Bar gegeben || 10,00", "Rückgeld || 1,30",
            "Wir danken für Ihren Besuch"]  # fmt: skip
    receipt = parse_lines(rows_to_lines(rows))
    assert [i.description for i in receipt.line_items] == ["Taco Fajita", "mit Koriander", "Taco Del Campo"]
    assert receipt.total == Decimal("8.70")
    assert classify("Rückgeld 1,30") == Kind.CHANGE


def test_a_price_misread_with_one_decimal_or_a_colon_is_a_column_not_part_of_the_name() -> None:
    assert _items(["ACQUA NAT || 2.00", "1 COCA LIGHT || 5.0", "802 CHIC || 28:00", "CAFFE || 1.50"]) == [
        ("ACQUA NAT", Decimal("2.00")),
        ("COCA LIGHT", Decimal(0)),
        ("802 CHIC", Decimal(0)),
        ("CAFFE", Decimal("1.50")),
    ]


def test_a_tax_code_after_the_price_does_not_make_an_item_a_tax_row() -> None:
    rows = ["EUKANUBA SM BREED ADULT 16LB", "ITEM CODE:PG50014 || $49.99 HST", "Net Sales || $4.99", "HST || $0.65"]
    assert _items(rows) == [("EUKANUBA SM BREED ADULT 16LB", Decimal("49.99"))]


def test_a_one_character_flag_printed_before_the_name_is_a_column() -> None:
    rows = ["T || FL RUFFLES CHDR & S || 1.49", "FL SMARTFOOD CHEDDA || 1.49", "* || GOLD PEAK TEA || 1.79"]
    assert [d for d, _ in _items(rows)] == ["FL RUFFLES CHDR & S", "FL SMARTFOOD CHEDDA", "GOLD PEAK TEA"]


def test_digits_read_for_letters_inside_a_word_are_put_back_never_beside_a_digit() -> None:
    rows = ["55317 CHEVR0N 5W30 || 34.49", "647465 AV0CAD0S 6CT || 5.99", "KS 0RG EGGS || 6.99",
            "PISTACHI0 3# || 14.99", "3 0cha || 3.60", "5.Cilantro Fish Ro11s || 8.00", "G00D2GROW 100Z || 2.99",
            "AQUA 0.5L || 1.00", "A1 Sauce || 1.00", "COMBO1 || 5.00", "Chili Oi1 || 2.00",
            "Soup Nd1 || 3.00", "T1 Combo 1 || 4.00"]  # fmt: skip
    assert [d for d, _ in _items(rows)] == ["55317 CHEVRON 5W30", "647465 AVOCADOS 6CT", "KS ORG EGGS",
                                            "PISTACHIO 3#", "Ocha", "5.Cilantro Fish Rolls", "G00D2GROW 100Z",
                                            "AQUA 0.5L", "A1 Sauce", "COMBO1", "Chili Oil",
                                            "Soup Ndl", "T1 Combo 1"]  # fmt: skip


def test_junk_a_weight_and_a_barcode_after_the_name_are_columns() -> None:
    rows = ["NONYA ROLL || 00°8$ || 8.00", "AGUACATE || 0.185 KILOS || 0.55", "Garlic Naan || .22.00",
            "NOTE CARDS RED Q3 400100998274 || 3.99", "B8-20 TOP 789138400301 C || 6.40",
            "36884 HAM 4\u00d7100G || 2.50", "TUSKER LAGER @ || 4.00", "PLUMAS GALLO 500GRS || 0.78"]  # fmt: skip
    assert _items(rows) == [("NONYA ROLL", Decimal("8.00")), ("AGUACATE", Decimal("0.55")),
                            ("Garlic Naan", Decimal(0)), ("NOTE CARDS RED Q3", Decimal("3.99")),
                            ("B8-20 TOP", Decimal("6.40")), ("36884 HAM 4x100G", Decimal("2.50")),
                            ("TUSKER LAGER", Decimal("4.00")), ("PLUMAS GALLO 500GRS", Decimal("0.78"))]  # fmt: skip


def test_a_barcode_read_into_the_start_of_the_name_is_dropped_an_item_code_stays() -> None:
    rows = ["3800054364 FRUIT SNACKS || 2.50", "4000000101CHECKLANE CANDY || 1.00",
            "0884497634708 WMNS NIKE FLEX 2017 || 59.99", "400158649319 #JORDAN SUPER.FLY || 120.00",
            "647465 AVOCADOS 6CT || 7.99", "123456789 MILK || 1.20"]  # fmt: skip
    assert [d for d, _ in _items(rows)] == ["FRUIT SNACKS", "CHECKLANE CANDY", "WMNS NIKE FLEX 2017",
                                            "#JORDAN SUPER.FLY", "647465 AVOCADOS 6CT", "123456789 MILK"]  # fmt: skip


def test_a_barcode_with_its_tax_flag_after_the_name_is_a_column() -> None:
    rows = ["B8-20 TOP || 789138400301C || 6.40", "BOYS8-20 LNG BT 039304109751C || 9.20", "VITAMIN C || 4.99"]
    assert [d for d, _ in _items(rows)] == ["B8-20 TOP", "BOYS8-20 LNG BT", "VITAMIN C"]


def test_a_modifiers_marks_before_its_quantity_are_an_indent() -> None:
    rows = ["1 PORTERHOUSE || 29.90", "** 1 MEDIUM RARE || 0.00", "--Hot", "** 2 COLD || 0.00"]
    assert [d for d, _ in _items(rows)] == ["PORTERHOUSE", "MEDIUM RARE", "--Hot", "COLD"]


def test_a_quantity_read_as_a_letter_and_a_bracketed_unit_price_are_not_the_name() -> None:
    lines = rows_to_lines(["I saffron chicken korm || \u00a311.75", "i Yuzu (Hot) || $3.90", "I PENNE || 7.95",
                           "L-STILL WATER (2 08.50) || 17.00", "CALAMARI PACIFICO (2 @19.90) || 39.80",
                           "Shoukadou B set (Udon) || 26.80", "I Love NY Mug || 9.99"])  # fmt: skip
    items = [item for item, _ in parse_items(lines, 0, len(lines))]
    assert [(i.description, i.quantity) for i in items] == [
        ("saffron chicken korm", Decimal(1)),
        ("Yuzu (Hot)", Decimal(1)),
        ("PENNE", Decimal(1)),
        ("L-STILL WATER", None),
        ("CALAMARI PACIFICO", Decimal(2)),  # "2 @19.90" read as quantity at a unit price
        ("Shoukadou B set (Udon)", None),
        ("Love NY Mug", Decimal(1)),  # the price of the rule: a name that starts with the word "I"
    ]


def test_a_negative_line_is_a_discount_or_coupon_not_an_item() -> None:
    rows = ["SKITTLES SWEET & SO || 1.66", "1.99 Dsc -0.33", "MC || GENERAL MERCH || 2.00-H",
            "210000083575 CPN/CHEVRON || 9.00-", "STARBURST ORIGINAL || 1.67"]  # fmt: skip
    assert _items(rows) == [("SKITTLES SWEET & SO", Decimal("1.66")), ("STARBURST ORIGINAL", Decimal("1.67"))]
    # a tax code printed before the price is not its sign
    rows = ["CRVENI - OBRAZI", "1,000\u00d7100.00 || G- || 100,00"]
    assert [d for d, _ in _items(rows)] == ["CRVENI - OBRAZI"]


def test_a_last_row_that_adds_up_the_items_above_is_their_subtotal() -> None:
    rows = ["1 COFFEE || 2.29", "1 RBEEF SAND PLT || 9.39", "FRIES", "1 WATER || 0.00", "FOOD || 11.68",
            "State&Local Tax || 1.85"]  # fmt: skip
    assert [d for d, _ in _items(rows)] == ["COFFEE", "RBEEF SAND PLT", "FRIES", "WATER"]
    # two equal prices are two items, not an item and its subtotal
    assert [d for d, _ in _items(["Coke || 2.00", "Coke || 2.00"])] == ["Coke", "Coke"]
    # one subtotal per kind of goods: food 21.95 + liquor 6.50 = the three items above
    rows = ["1 Crab Special || 21.95", "1 PBR || 2.50", "1 Stella || 4.00", "food || 21.95", "liquor || 6.50"]
    assert [d for d, _ in _items(rows)] == ["Crab Special", "PBR", "Stella"]


def test_price_notes_tax_parts_rate_rows_and_summary_words_are_not_items() -> None:
    rows = ["NIKE ROSHE ONE || $74.99 T", "Final Price || $59.99 T", "Package Price: $39.99",
            "***End of Group Promotion***", "1 OPEN PRICE || 11.99", "CHECKLANE CANDY || .50",
            "ItemPrice 32.00YouSave 25.60", "SGST 02.5% || 2.48", "H-HST 13% || .26",
            "MwSt 19 % || 9.93", "NON TAXABLE || 0.00", "MILK 2% || 3.49", "DARK CHOC 70% || 2.99",
            "Net TTL || 34.50", "Saldo || 62.20", "SUBTOTALE || 95,50", "BAL.DUE || 59.80",
            "Cashier1, 12/28/18,03:12 PM"]  # fmt: skip
    assert [d for d, _ in _items(rows)] == ["NIKE ROSHE ONE", "OPEN PRICE", "CHECKLANE CANDY", "MILK 2%",
                                            "DARK CHOC 70%"]  # fmt: skip


def test_separator_rows_read_as_letters_are_not_items() -> None:
    rows = ["SALSA BARBACOA DIA || 0.92", "\u2605XXXXXXX\u706bXXKXXXXXXX", "\u5bb6\u51b0" * 8, "BOWWOW",
            "TOMATE FRITO || 0.65"]  # fmt: skip
    assert [d for d, _ in _items(rows)] == ["SALSA BARBACOA DIA", "BOWWOW", "TOMATE FRITO"]


def test_department_and_course_headings_and_order_metadata_are_not_items() -> None:
    rows = ["DME CRNCHY PNT BUTTR || 2.19", "MEAT", "DME IQF CKN TENDER || 6.99", "PRODUCE", "BUNCH SPINACH || 1.59",
            "Main course", "1 BLUE BURGER || 10.00", "ABN: 83 600 128 739", "Invo1ce # 043-0000120080",
            "Order # 16 wrigpa", "Mild", "*Coke || 3.50"]  # fmt: skip
    assert [d for d, _ in _items(rows)] == ["DME CRNCHY PNT BUTTR", "DME IQF CKN TENDER", "BUNCH SPINACH",
                                            "BLUE BURGER", "Mild", "*Coke"]  # fmt: skip


def test_a_quantity_at_a_price_below_a_name_is_its_detail_row() -> None:
    rows = ["FLGRS FRNCH CAN 10.3 || 3.99", "HRD 94% FF MICRO POP", "1 @ 2 FOR || 4.00 || 2.00", "POLANER || 1.99"]
    assert _items(rows) == [("FLGRS FRNCH CAN 10.3", Decimal("3.99")), ("HRD 94% FF MICRO POP", Decimal("2.00")),
                            ("POLANER", Decimal("1.99"))]  # fmt: skip


def test_a_row_holding_a_numeric_date_is_no_item_even_where_its_digits_read_as_an_amount() -> None:
    # "02/17/14, 02:21" holds "14, 02", which reads as 14.02; "BRUNELLO MAR 30.00" holds an amount, not a date
    rows = ["1 Final Touch || 39.99", "WashCashier1, 02/17/14, 02:21 PM", "1 1/2 BRUNELLO MAR || 30.00"]
    assert [d for d, _ in _items(rows)] == ["Final Touch", "1/2 BRUNELLO MAR"]


def test_names_whose_prices_were_not_read_are_items_when_the_printed_count_says_so() -> None:
    names = ["ALLINSON FLOUR", "KRAFT PHILADELPHIA", "PICKLED EGGS", "CAULDRON TOFU", "SEA SALT"]
    rows = ["TILL: 0011 NO:_01198386", "You were served by: NAEEM", *names, "ANDREX 2 ROLL || 1.25"]
    lines = rows_to_lines([*rows, "Items Sold: 6 TOTAL || 70.32"])
    items = parse_items(lines, 0, len(lines))
    assert [item.description for item, _ in items] == [*names, "ANDREX 2 ROLL"]
    assert [item.amount for item, _ in items] == [Decimal(0)] * 5 + [Decimal("1.25")]
    # without a count, or with one the rows do not make up, text above the first price is no item
    lines = rows_to_lines([*rows, "Items Sold: 20 TOTAL || 70.32"])
    assert [item.description for item, _ in parse_items(lines, 0, len(lines))] == ["ANDREX 2 ROLL"]
    lines = rows_to_lines([*rows, "TOTAL || 70.32"])
    assert [item.description for item, _ in parse_items(lines, 0, len(lines))] == ["ANDREX 2 ROLL"]


def test_whole_unit_prices_start_the_items_before_a_count_row_and_end_them_at_the_subtotal() -> None:
    rows = ["ICHIBAN SUSHI", "TBL 6", "1 Chicken teriyaki Bento || 62,000", "1 Beef Teriyaki Rice || 40,000",
            "Total Item : 2 || Total Qty : 2", "Subtotal || 102,000", "Total || 112,200",
            "Thank You and Please Come Again", "Instagram: ichibansushi_id"]  # fmt: skip
    lines = rows_to_lines(rows)
    start = items_start(lines, 1)
    assert start == 1  # "Total Item / Total Qty" below the priced rows is no column heading
    assert _items(rows[1:]) == [("Chicken teriyaki Bento", Decimal(62000)), ("Beef Teriyaki Rice", Decimal(40000))]


def test_glyphs_the_recogniser_confuses_with_latin_ones_are_put_back() -> None:
    rows = ["4376 PREM BAK\u018fD BEANS || 1.20", "1390 FROZ ST\u018fAM VEG || 2.00",
            "32Z FOUNTAIN DRINK \u4e00 || 0.95", "\u6c34\u9970\u9762 || 8.00"]  # fmt: skip
    assert [d for d, _ in _items(rows)] == ["4376 PREM BAKED BEANS", "1390 FROZ STEAM VEG", "32Z FOUNTAIN DRINK",
                                            "\u6c34\u9970\u9762"]  # fmt: skip


def test_a_was_now_price_note_and_the_abbreviated_gratuity_are_not_items() -> None:
    rows = ["CHECKLANE CANDY", "1 @ 2/1.00", "was || .79 || now || .50 F", "FRUIT SNACKS || 2.00 F",
            "was || 2.49 || now || 2.00 F", "GRAT 18% || 5.40", "POTATO GRATIN || 6.50",
            "WASABI PEAS || 3.00"]  # fmt: skip
    assert [d for d, _ in _items(rows)] == ["CHECKLANE CANDY", "FRUIT SNACKS", "POTATO GRATIN", "WASABI PEAS"]


def test_greetings_and_addresses_to_the_customer_are_no_items() -> None:
    rows = ["Fresh Fruit Salad || 24.00", "Have a Nice Flight !", "Yogurt || 12.00", "www.example.com",
            "Tell us: survey.example.com", "Please come again", "Espresso || 3.00"]  # fmt: skip
    assert _items(rows) == [("Fresh Fruit Salad", Decimal("24.00")), ("Yogurt", Decimal("12.00")),
                            ("Espresso", Decimal("3.00"))]  # fmt: skip


def test_a_name_with_a_word_like_a_greeting_inside_it_stays_an_item() -> None:
    assert _items(["PLEASANT VALLEY WINE || 12.00", "COMET CLEANER || 3.00"]) == [
        ("PLEASANT VALLEY WINE", Decimal("12.00")),
        ("COMET CLEANER", Decimal("3.00")),
    ]
