"""The bundled category map and the order of category sources (receiptcore.domain.categories)."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from receiptcore.domain.categories import CONFIDENCE, category_map, known_categories, suggest_category
from receiptcore.domain.receipt import LineItem, ReceiptType


def items(*descriptions: str) -> list[LineItem]:
    return [LineItem(description=d) for d in descriptions]


@pytest.mark.parametrize(
    ("merchant", "category"),
    [
        ("Pharmacie du Centre", "pharmacy"),
        ("STADT-APOTHEKE", "pharmacy"),
        ("Trattoria da Luigi", "restaurants"),
        ("The Coffee House", "restaurants"),
        ("Supermercado La Plaza", "groceries"),
        ("Bio Markt", "groceries"),
        ("Shell Tankstelle", "fuel"),
        ("Hotel Adlon", "lodging"),
        ("City Taxi", "transport"),
    ],
)
def test_a_kind_of_shop_in_the_name_gives_its_category(merchant: str, category: str) -> None:
    suggestion = suggest_category(learned=None, merchant_name=merchant, receipt_type=None, items=[])
    assert suggestion is not None
    assert (suggestion.category, suggestion.source) == (category, "map:merchant")
    assert suggestion.confidence == CONFIDENCE["map:merchant"]


@pytest.mark.parametrize("merchant", ["Netto", "Kiosk Ahmed", "ACME 42", "Barbara Schmidt", "Marketing GmbH", ""])
def test_a_name_that_names_no_kind_of_shop_gives_nothing(merchant: str) -> None:
    assert suggest_category(learned=None, merchant_name=merchant, receipt_type=None, items=[]) is None


def test_what_the_owner_chose_comes_first() -> None:
    suggestion = suggest_category(
        learned="business", merchant_name="Pharmacie du Centre", receipt_type=ReceiptType.PHARMACY, items=[]
    )
    assert suggestion is not None
    assert (suggestion.category, suggestion.source, suggestion.confidence) == ("business", "learned", 0.95)


def test_receipt_type_comes_before_items_and_after_the_name() -> None:
    fuel_items = items("Diesel 40 L", "Unleaded 95")
    by_type = suggest_category(
        learned=None, merchant_name="Q8 4471", receipt_type=ReceiptType.LODGING, items=fuel_items
    )
    assert by_type is not None
    assert (by_type.category, by_type.source) == ("lodging", "map:receipt_type")
    by_items = suggest_category(learned=None, merchant_name="Q8 4471", receipt_type=None, items=fuel_items)
    assert by_items is not None
    assert (by_items.category, by_items.source) == ("fuel", "map:items")


def test_one_typical_item_is_not_enough() -> None:
    assert (
        suggest_category(learned=None, merchant_name="Q8", receipt_type=None, items=items("Milk 1 L", "Cable")) is None
    )
    mostly = suggest_category(
        learned=None, merchant_name="Q8", receipt_type=None, items=items("Milk 1 L", "Bread", "Bananas", "Diesel")
    )
    assert mostly is not None
    assert mostly.category == "groceries"


def test_whole_words_only_so_a_word_inside_another_does_not_count() -> None:
    # "bar" is a restaurant word, "barbara" and "crowbar" are not bars
    for name in ("Barbara's", "Crowbar Tools"):
        assert suggest_category(learned=None, merchant_name=name, receipt_type=None, items=[]) is None


def test_the_map_file_is_well_formed_and_every_receipt_type_but_other_has_a_category() -> None:
    text = resources.files("receiptcore.domain").joinpath("categories.toml").read_text(encoding="utf-8")
    table = tomllib.loads(text)
    allowed = {"merchant_words", "item_words", "receipt_types"}
    for name, rule in table.items():
        assert set(rule) <= allowed, name
        assert rule.get("merchant_words"), name
    mapped = {t for rule in category_map() for t in rule.receipt_types}
    assert mapped == {t.value for t in ReceiptType} - {"other"}
    assert len(known_categories()) == len(set(known_categories()))
