"""The merchant name matcher (receiptcore.domain.name_matching) in both directions: what must match the right
entry, and what must not match at all."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiptcore.domain.merchants import MerchantEntry, match_merchant
from receiptcore.domain.name_matching import MATCH_THRESHOLD, name_score, normalised

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def entry(name: str, *variants: str, owner: str = "o1") -> MerchantEntry:
    return MerchantEntry(
        id=f"m-{normalised(name) or name}",
        owner_id=owner,
        name=name,
        variants=list(variants),
        created_at=T0,
        updated_at=T0,
    )


# words from two disjoint alphabets: a name of one shares no letter with a name of the other
FIRST_HALF = st.text(alphabet="abcdefgjkm", min_size=4, max_size=10)
SECOND_HALF = st.text(alphabet="npqrtuvwxy", min_size=4, max_size=10)


def name_of(word_list: list[str]) -> str:
    return " ".join(w.capitalize() for w in word_list)


@pytest.mark.parametrize(
    ("printed", "known"),
    [
        ("Nettooy", "Netto"),  # the OCR variant: trailing marks read as letters
        ("Restaurant", "The Wild Restaurant"),  # the partial name
        ("NETTO", "Netto"),
        ("L1DL", "Lidl"),  # OCR glyph confusion
        ("WildRestaurant", "The Wild Restaurant"),  # words run together
        ("Restaur", "Restaurant"),  # a print cut short
        ("Café Nero", "CAFE NERO LTD"),  # accents, case and legal form
    ],
)
def test_noisy_and_partial_prints_match_their_merchant(printed: str, known: str) -> None:
    match = match_merchant(printed, [entry(known), entry("Shell"), entry("Pharmacie du Centre")])
    assert match is not None
    assert match.entry.name == known
    assert MATCH_THRESHOLD <= match.score <= 1


@pytest.mark.parametrize(
    ("printed", "known"),
    [
        ("Restaurant Roma", "Restaurant"),  # an extra word names another shop
        ("Lids", "Lidl"),  # one wrong letter in four is too much to tell apart
        ("Tesco", "Costco"),
        ("Aldi", "Lidl"),
        ("Spar", "Sparkasse"),
        ("Sparkasse", "Spar"),
        ("Starbucks", "Subway"),
        ("The", "The Wild Restaurant"),  # only a noise word
        ("Bar", "Bar Roma"),  # three letters are too little evidence
    ],
)
def test_unrelated_or_too_short_names_do_not_match(printed: str, known: str) -> None:
    assert match_merchant(printed, [entry(known)]) is None


def test_a_partial_name_shared_by_two_merchants_matches_neither() -> None:
    entries = [entry("The Wild Restaurant"), entry("Restaurant Roma")]
    assert match_merchant("Restaurant", entries) is None
    match = match_merchant("Wild Restaurant", entries)
    assert match is not None
    assert match.entry.name == "The Wild Restaurant"


def test_a_known_variant_matches_exactly() -> None:
    match = match_merchant("nettooy", [entry("Netto", "Nettooy"), entry("Netton Bakery")])
    assert match is not None
    assert (match.entry.name, match.score, match.spelling) == ("Netto", 1.0, "Nettooy")


@given(st.lists(FIRST_HALF, min_size=1, max_size=4), st.sampled_from(["upper", "lower", "title"]))
def test_a_name_matches_itself_whatever_its_case(word_list: list[str], case: str) -> None:
    name = name_of(word_list)
    printed = getattr(name, case)()
    assert name_score(printed, name) == 1.0


@given(st.lists(FIRST_HALF, min_size=2, max_size=4, unique=True), st.data())
def test_any_part_of_a_name_matches_it_rather_than_an_unrelated_one(word_list: list[str], data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(word_list) - 1))
    end = data.draw(st.integers(start + 1, len(word_list)))
    part = name_of(word_list[start:end])
    other = name_of(data.draw(st.lists(SECOND_HALF, min_size=1, max_size=3)))
    match = match_merchant(part, [entry(other), entry(name_of(word_list))])
    assert match is not None
    assert match.entry.name == name_of(word_list)


@given(FIRST_HALF.filter(lambda w: len(w) >= 5), st.text(alphabet="oyi.,'", min_size=1, max_size=2), st.data())
def test_ocr_noise_at_the_end_of_a_name_still_matches(word: str, tail: str, data: st.DataObject) -> None:
    other = name_of(data.draw(st.lists(SECOND_HALF, min_size=1, max_size=2)))
    match = match_merchant(word.upper() + tail, [entry(other), entry(word.capitalize())])
    assert match is not None
    assert match.entry.name == word.capitalize()


@given(st.lists(FIRST_HALF, min_size=1, max_size=3), st.lists(SECOND_HALF, min_size=1, max_size=3))
def test_names_without_a_letter_in_common_never_match(a: list[str], b: list[str]) -> None:
    assert name_score(name_of(a), name_of(b)) < MATCH_THRESHOLD
    assert name_score(name_of(b), name_of(a)) < MATCH_THRESHOLD
    assert match_merchant(name_of(a), [entry(name_of(b))]) is None


@given(st.lists(FIRST_HALF, min_size=1, max_size=3, unique=True), SECOND_HALF)
def test_a_known_name_with_a_distinct_extra_word_is_another_shop(word_list: list[str], extra: str) -> None:
    known = name_of(word_list)
    assert match_merchant(f"{known} {extra.capitalize()}", [entry(known)]) is None
