"""Categories assigned on extraction: the owner's own choice for the merchant first, else the bundled map.

``suggest_category`` gives a category, a confidence and where it came from (the receipt's ``category``
provenance). Sources, strongest first:

- ``learned`` (0.95): the category this owner gave the matched merchant last time (``MerchantEntry.category``).
  Learning is per owner: an entry belongs to one owner, and only their corrections set its category.
- ``map:merchant`` (0.75): a word of the merchant's name names a kind of shop in ``categories.toml``
  ("Pharmacie du Centre" → pharmacy).
- ``map:receipt_type`` (0.6): the extractor's ``receipt_type`` (``fuel`` → fuel).
- ``map:items`` (0.55): two or more line items name goods typical of one category (the one most lines name).

The map is a small data file in this package, read once; it names kinds of shops and goods, never particular
shops (those are learned). Its format is described at the top of the file.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

from receiptcore.domain.name_matching import words
from receiptcore.domain.receipt_values import LineItem, ReceiptType

CategorySource = Literal["learned", "map:merchant", "map:receipt_type", "map:items"]
CONFIDENCE: dict[CategorySource, float] = {
    "learned": 0.95,
    "map:merchant": 0.75,
    "map:receipt_type": 0.6,
    "map:items": 0.55,
}
_MIN_ITEM_LINES = 2


@dataclass(frozen=True, slots=True)
class CategoryRule:
    """One category of the map: phrases of merchant names, phrases of line items, receipt types."""

    name: str
    merchant_phrases: tuple[tuple[str, ...], ...]
    item_phrases: tuple[tuple[str, ...], ...]
    receipt_types: frozenset[str]


@dataclass(frozen=True, slots=True)
class CategorySuggestion:
    """A category for a receipt, how sure it is (0..1), where it came from and the evidence (for provenance)."""

    category: str
    confidence: float
    source: CategorySource
    evidence: str


def _phrase(value: str) -> tuple[str, ...]:
    """A map phrase as normalised words (the same normalisation as names), a trailing ``*`` kept as a prefix mark."""
    out: list[str] = []
    for raw in value.split():
        found = list(words(raw.rstrip("*")))
        if found and raw.endswith("*"):
            found[-1] += "*"
        out += found
    return tuple(out)


def _phrases(values: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(p for p in (_phrase(v) for v in values) if p)


@lru_cache(maxsize=1)
def category_map() -> tuple[CategoryRule, ...]:
    """The bundled map (``categories.toml``), in file order."""
    text = resources.files("receiptcore.domain").joinpath("categories.toml").read_text(encoding="utf-8")
    table = tomllib.loads(text)
    return tuple(
        CategoryRule(
            name=name,
            merchant_phrases=_phrases(rule.get("merchant_words", [])),
            item_phrases=_phrases(rule.get("item_words", [])),
            receipt_types=frozenset(rule.get("receipt_types", [])),
        )
        for name, rule in table.items()
    )


def known_categories() -> list[str]:
    """Every category the map can assign, in file order."""
    return [rule.name for rule in category_map()]


def _word_hit(word: str, pattern: str) -> bool:
    return word.startswith(pattern[:-1]) if pattern.endswith("*") else word == pattern


def _contains(text: Sequence[str], phrase: Sequence[str]) -> bool:
    span = len(phrase)
    return any(all(_word_hit(text[i + k], phrase[k]) for k in range(span)) for i in range(len(text) - span + 1))


def _by_merchant(name: str | None) -> CategorySuggestion | None:
    text = words(name or "")
    for rule in category_map():
        for phrase in rule.merchant_phrases:
            if _contains(text, phrase):
                return CategorySuggestion(
                    rule.name, CONFIDENCE["map:merchant"], "map:merchant", f"merchant name says {' '.join(phrase)!r}"
                )
    return None


def _by_receipt_type(receipt_type: ReceiptType | None) -> CategorySuggestion | None:
    if receipt_type is None:
        return None
    for rule in category_map():
        if receipt_type.value in rule.receipt_types:
            return CategorySuggestion(
                rule.name, CONFIDENCE["map:receipt_type"], "map:receipt_type", f"receipt type {receipt_type.value}"
            )
    return None


def _by_items(items: Sequence[LineItem]) -> CategorySuggestion | None:
    lines: Counter[str] = Counter()
    for item in items:
        text = words(item.description)
        for rule in category_map():
            if any(_contains(text, phrase) for phrase in rule.item_phrases):
                lines[rule.name] += 1
    if not lines:
        return None
    order = {rule.name: index for index, rule in enumerate(category_map())}
    name, count = min(lines.items(), key=lambda pair: (-pair[1], order[pair[0]]))
    if count < _MIN_ITEM_LINES:
        return None
    return CategorySuggestion(name, CONFIDENCE["map:items"], "map:items", f"{count} line items are {name}")


def suggest_category(
    *,
    learned: str | None,
    merchant_name: str | None,
    receipt_type: ReceiptType | None,
    items: Sequence[LineItem],
) -> CategorySuggestion | None:
    """The category of a receipt by the sources in the module docstring, strongest first; None when none says."""
    if learned:
        return CategorySuggestion(learned, CONFIDENCE["learned"], "learned", "your category for this merchant")
    return _by_merchant(merchant_name) or _by_receipt_type(receipt_type) or _by_items(items)
