"""Per-field scores of one prediction against its label, and their aggregation per subset.

Fields and metrics (after the normalisation in ``normalize``):

- SROIE ``company`` and ``address``: exact match and bag-of-tokens F1.
- ``date``: exact (the predicted date is a valid reading of the printed label).
- ``total``: exact as decimals (any of the label's total boxes).
- WildReceipt ``store_name``: exact and ``difflib.SequenceMatcher`` ratio, spaces removed, against the best of
  each store-name box and all of them joined; ``address`` likewise against the joined address boxes.
- WildReceipt ``items``: item names as a multiset, spaces removed; exact = same multiset, F1 pooled over the set
  (micro: matches, predicted and labelled names summed over receipts).

A field whose label is missing or empty is not scored for that receipt.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass

from receiptcore.domain.receipt import ExtractedReceipt
from receiptcore.entrypoints.evaluation.datasets import Label, Subset
from receiptcore.entrypoints.evaluation.normalize import (
    bag_f1,
    date_matches,
    no_space,
    norm_text,
    parse_total,
    tokens,
)

FIELDS: dict[Subset, tuple[str, ...]] = {
    "sroie": ("company", "address", "date", "total"),
    "wildreceipt": ("store_name", "address", "date", "total", "items"),
}
SIMILARITY_NAME = {"company": "token F1", "address": "token F1", "store_name": "similarity", "items": "pooled F1"}


def _graded_name(subset: Subset, name: str) -> str | None:
    """What the graded column means for this field (WildReceipt addresses compare by similarity)."""
    if subset == "wildreceipt" and name == "address":
        return "similarity"
    return SIMILARITY_NAME.get(name)


@dataclass(frozen=True, slots=True)
class FieldScore:
    """One field of one receipt: exact match, graded score in 0..1 (None for exact-only fields), and for item
    names the multiset counts ``(matched, predicted, labelled)``."""

    exact: bool
    graded: float | None = None
    counts: tuple[int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class FieldSummary:
    """A field over a subset: receipts scored, exact accuracy and the graded score (both in percent)."""

    subset: str
    field: str
    scored: int
    accuracy: float
    graded: float | None
    graded_name: str | None


def _similarity(predicted: str, candidates: list[str]) -> float:
    return max((difflib.SequenceMatcher(None, predicted, c).ratio() for c in candidates), default=0.0)


def _score_sroie(prediction: ExtractedReceipt | None, label: Label) -> dict[str, FieldScore]:
    scores: dict[str, FieldScore] = {}
    merchant = prediction.merchant if prediction else None
    for name, expected, predicted in (
        ("company", label.company, merchant.name if merchant else None),
        ("address", label.address, merchant.address if merchant else None),
    ):
        if expected and norm_text(expected):
            exact = norm_text(predicted) == norm_text(expected)
            scores[name] = FieldScore(exact, bag_f1(tokens(predicted), tokens(expected)))
    if "company" in scores:
        # the review load's judgement of the merchant: as for WildReceipt, spaces do not count (a name the OCR
        # read without its spaces is the right shop; token F1 would score it 0)
        predicted, expected = no_space(merchant.name if merchant else None), no_space(label.company)
        scores["company_similarity"] = FieldScore(predicted == expected, _similarity(predicted, [expected]))
    return scores


def _score_wild(prediction: ExtractedReceipt | None, label: Label) -> dict[str, FieldScore]:
    scores: dict[str, FieldScore] = {}
    merchant = prediction.merchant if prediction else None
    if label.store_names:
        predicted = no_space(merchant.name if merchant else None)
        boxes = [no_space(s) for s in label.store_names]
        candidates = [*boxes, "".join(boxes)]
        scores["store_name"] = FieldScore(predicted in candidates, _similarity(predicted, candidates))
    if label.address:
        predicted = no_space(merchant.address if merchant else None)
        expected = no_space(label.address)
        scores["address"] = FieldScore(predicted == expected, _similarity(predicted, [expected]))
    if label.items:
        predicted_items = [no_space(i.description) for i in prediction.line_items] if prediction else []
        expected_items = [no_space(i) for i in label.items]
        matched = sum((Counter(predicted_items) & Counter(expected_items)).values())
        scores["items"] = FieldScore(
            Counter(predicted_items) == Counter(expected_items),
            bag_f1(predicted_items, expected_items),
            (matched, len(predicted_items), len(expected_items)),
        )
    return scores


def score(subset: Subset, prediction: ExtractedReceipt | None, label: Label) -> dict[str, FieldScore]:
    """Score one prediction (None when extraction failed: every labelled field counts as wrong)."""
    scores = _score_sroie(prediction, label) if subset == "sroie" else _score_wild(prediction, label)
    if label.dates:
        predicted_date = prediction.purchase_date if prediction else None
        # a date printed over two boxes ("NOVEMBER" "13,2010") is labelled as two: judge them joined as well
        candidates = [*label.dates, " ".join(label.dates)] if len(label.dates) > 1 else list(label.dates)
        scores["date"] = FieldScore(any(date_matches(predicted_date, d) for d in candidates))
    expected_totals = [t for t in (parse_total(x) for x in label.totals) if t is not None]
    if expected_totals:
        predicted_total = prediction.total if prediction else None
        scores["total"] = FieldScore(predicted_total is not None and predicted_total in expected_totals)
    return scores


def summarize(subset: Subset, per_receipt: list[dict[str, FieldScore]]) -> list[FieldSummary]:
    """Aggregate one subset's receipt scores per field, in the order of ``FIELDS``."""
    out: list[FieldSummary] = []
    for name in FIELDS[subset]:
        values = [s[name] for s in per_receipt if name in s]
        if not values:
            out.append(FieldSummary(subset, name, 0, 0.0, None, _graded_name(subset, name)))
            continue
        accuracy = 100 * sum(v.exact for v in values) / len(values)
        graded: float | None = None
        if all(v.counts is not None for v in values):
            matched = sum(v.counts[0] for v in values if v.counts)
            predicted = sum(v.counts[1] for v in values if v.counts)
            expected = sum(v.counts[2] for v in values if v.counts)
            graded = 100 * (2 * matched / (predicted + expected)) if predicted + expected else 100.0
        elif all(v.graded is not None for v in values):
            graded = 100 * sum(v.graded or 0.0 for v in values) / len(values)
        out.append(FieldSummary(subset, name, len(values), accuracy, graded, _graded_name(subset, name)))
    return out
