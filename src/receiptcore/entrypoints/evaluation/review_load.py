"""Review load as a measured quantity: how many receipts a person must look at, and whether the others are right.

Per subset, from the same review decision the worker applies (``receiptcore.domain.review``):

- **review share**: receipts sent to review (a failed extraction counts as sent: a person sees it too);
- **auto-accept precision**: among receipts *not* sent, the share whose headline fields are all right;
- **catch rate**: among receipts with a wrong headline field, the share that *was* sent;
- **calibration** of the extractor's per-field confidence on the headline fields: expected calibration error
  (ECE, equal-width bins, weighted by bin size) and a reliability table (per bin: count, mean confidence, accuracy);
- **the trade-off curve**: the same three figures with the confidence threshold of the decision set to each of
  ``CURVE_THRESHOLDS`` instead of ``LOW_CONFIDENCE_THRESHOLD`` (a higher threshold sends more receipts and
  catches more wrong ones), so what a stricter or looser install would get is measured, not guessed;
- **the effect of each warning** (``CodeEffect``; ``low_confidence`` counted per headline field, e.g.
  ``low_confidence:total``, because each field's confidence is its own rule): how many receipts carry it, how many
  it sends (blocks) and how many it sends *alone* (nothing else blocks them), each split into receipts whose
  headline fields are all right and receipts with a wrong one. A warning that sends right receipts alone and
  catches no wrong one alone costs review load for nothing; the ``accepted`` split (carrying it, not sent) of a
  warning that does not block says what blocking on it would add. And which headline fields the wrongly accepted
  receipts have wrong (``missed``).

Headline fields: merchant, date, total. The merchant counts as right when its similarity to the label with every
space removed (``difflib`` ratio; SROIE ``company_similarity``, WildReceipt ``store_name``) is at least
``MERCHANT_RIGHT_AT``, because exact equality punishes a dropped space, a stray dot or a trailing branch name that
no person would correct (and SROIE's token F1 scores a name read without its spaces 0); date and total must be
exact. A field the label does not give is left out of that receipt's judgement; a receipt with none of the three
is left out of both ratios.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from receiptcore.domain.consistency import LOW_CONFIDENCE
from receiptcore.domain.receipt import ExtractedReceipt, ReceiptWarning
from receiptcore.domain.review import LOW_CONFIDENCE_THRESHOLD, assume_currency, blocking, review_warnings
from receiptcore.entrypoints.evaluation.scoring import FieldScore

MERCHANT_RIGHT_AT = 0.8
CALIBRATION_BINS = 10
# confidence thresholds the curve is measured at (the decision's own, LOW_CONFIDENCE_THRESHOLD, is always one)
CURVE_THRESHOLDS: tuple[float, ...] = (0.5, 0.8, 0.85, 0.9, 0.95, 0.97)

# headline field → (score names that judge it, provenance path of its confidence)
HEADLINE: dict[str, tuple[tuple[str, ...], str]] = {
    "merchant": (("company_similarity", "store_name"), "merchant.name"),
    "date": (("date",), "purchase_date"),
    "total": (("total",), "total"),
}


@dataclass(frozen=True, slots=True)
class ReviewJudgement:
    """One receipt: whether the product would send it to a person, with which blocking codes, and which headline
    fields are right (None where the label does not say)."""

    sent: bool
    codes: tuple[str, ...]
    right: dict[str, bool]
    confidence: dict[str, float]
    sent_at: dict[float, bool] = field(default_factory=dict)  # threshold → sent (the curve)
    warnings: tuple[str, ...] = ()  # every warning on the receipt, blocking or not, as ``warning_label`` gives it
    blocked_by: tuple[str, ...] = ()  # the blocking ones, likewise

    @property
    def headline_right(self) -> bool | None:
        """All judged headline fields right; None when none could be judged."""
        return all(self.right.values()) if self.right else None


@dataclass(frozen=True, slots=True)
class Bin:
    """One reliability-table row: confidences in [low, high), how many, their mean and the share right."""

    low: float
    high: float
    count: int
    mean_confidence: float
    accuracy: float


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """The review load with the decision's confidence threshold set to ``threshold`` (percentages 0..100)."""

    threshold: float
    review_share: float | None
    auto_accept_precision: float | None
    catch_rate: float | None


@dataclass(frozen=True, slots=True)
class CodeEffect:
    """One warning code on one subset: receipts carrying it, sent by it (it blocks) and sent by it alone, each
    as (all right, a headline field wrong); receipts with no judged headline field are in neither count."""

    code: str
    carried: tuple[int, int]
    blocked: tuple[int, int]
    alone: tuple[int, int]
    accepted: tuple[int, int] = (0, 0)  # carrying it and not sent: what blocking on it would add


@dataclass(frozen=True, slots=True)
class ReviewSummary:
    """Review load of one subset (percentages 0..100; None when there is nothing to divide by)."""

    subset: str
    receipts: int
    review_share: float | None
    auto_accept_precision: float | None
    catch_rate: float | None
    ece: dict[str, float | None]
    reliability: dict[str, list[Bin]]
    blocking_codes: dict[str, int]
    curve: list[CurvePoint] = field(default_factory=list)
    by_code: list[CodeEffect] = field(default_factory=list)
    missed: dict[str, int] = field(default_factory=dict)  # headline field → wrongly accepted receipts with it wrong


def warning_label(warning: ReceiptWarning) -> str:
    """How the per-warning breakdown names ``warning``: its code, and for ``low_confidence`` also its field."""
    if warning.code == LOW_CONFIDENCE and warning.fields:
        return f"{warning.code}:{warning.fields[0]}"
    return warning.code


def _field_right(name: str, scores: dict[str, FieldScore]) -> bool | None:
    for score_name in HEADLINE[name][0]:
        score = scores.get(score_name)
        if score is None:
            continue
        if name == "merchant":
            return score.exact or (score.graded or 0.0) >= MERCHANT_RIGHT_AT
        return score.exact
    return None


def judge(
    prediction: ExtractedReceipt | None, scores: dict[str, FieldScore], default_currency: str | None
) -> ReviewJudgement:
    """The review decision for one prediction (None = extraction failed) beside its headline correctness."""
    right = {name: ok for name in HEADLINE if (ok := _field_right(name, scores)) is not None}
    thresholds = sorted({*CURVE_THRESHOLDS, LOW_CONFIDENCE_THRESHOLD})
    if prediction is None:
        failed = dict.fromkeys(thresholds, True)
        failure = ("extraction_failed",)
        return ReviewJudgement(True, failure, right, dict.fromkeys(right, 0.0), failed, failure, failure)
    output = assume_currency(prediction, default_currency)
    data = output.data()
    warnings = review_warnings(output)
    blockers = blocking(warnings, data, output.provenance)
    sent = bool(blockers)
    codes = tuple(sorted({w.code for w in blockers}))
    confidence = {}
    for name in right:
        source = output.provenance.get(HEADLINE[name][1])
        confidence[name] = source.confidence if source is not None else 0.0
    sent_at = {t: bool(blocking(review_warnings(output, t), data, output.provenance, t)) for t in thresholds}
    carried = tuple(sorted({warning_label(w) for w in warnings}))
    blocked_by = tuple(sorted({warning_label(w) for w in blockers}))
    return ReviewJudgement(sent, codes, right, confidence, sent_at, carried, blocked_by)


def _percent(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def reliability(pairs: Sequence[tuple[float, bool]], bins: int = CALIBRATION_BINS) -> tuple[float | None, list[Bin]]:
    """Expected calibration error (0..1) and the non-empty bins of (confidence, correct) pairs."""
    if not pairs:
        return None, []
    rows: list[Bin] = []
    ece = 0.0
    for index in range(bins):
        low, high = index / bins, (index + 1) / bins
        last = index == bins - 1
        members = [(c, ok) for c, ok in pairs if low <= c < high or (last and c == high)]
        if not members:
            continue
        mean = sum(c for c, _ in members) / len(members)
        accuracy = sum(ok for _, ok in members) / len(members)
        ece += len(members) / len(pairs) * abs(accuracy - mean)
        rows.append(Bin(low, high, len(members), mean, accuracy))
    return ece, rows


def _load(judgements: Sequence[ReviewJudgement], sent: Sequence[bool]) -> tuple[float | None, ...]:
    """Review share, auto-accept precision and catch rate when ``sent[i]`` says whether judgement i was sent."""
    pairs = list(zip(judgements, sent, strict=True))
    judged = [(j, s) for j, s in pairs if j.headline_right is not None]
    accepted = [j for j, s in judged if not s]
    wrong = [s for j, s in judged if not j.headline_right]
    return (
        _percent(sum(sent), len(judgements)),
        _percent(sum(bool(j.headline_right) for j in accepted), len(accepted)),
        _percent(sum(wrong), len(wrong)),
    )


def _split(judgements: Sequence[ReviewJudgement]) -> tuple[int, int]:
    """(all right, a headline field wrong) among ``judgements``; unjudged receipts count in neither."""
    verdicts = [j.headline_right for j in judgements]
    return sum(v is True for v in verdicts), sum(v is False for v in verdicts)


def code_effects(judgements: Sequence[ReviewJudgement]) -> list[CodeEffect]:
    """The effect of every warning seen on ``judgements`` (by ``warning_label``), those that send most first."""
    codes = sorted({c for j in judgements for c in (*j.warnings, *j.blocked_by)})
    effects = [
        CodeEffect(
            code=code,
            carried=_split([j for j in judgements if code in j.warnings or code in j.blocked_by]),
            blocked=_split([j for j in judgements if code in j.blocked_by]),
            alone=_split([j for j in judgements if j.blocked_by == (code,)]),
            accepted=_split([j for j in judgements if code in j.warnings and not j.sent]),
        )
        for code in codes
    ]
    return sorted(effects, key=lambda e: (-sum(e.blocked), -sum(e.carried), e.code))


def missed_fields(judgements: Sequence[ReviewJudgement]) -> dict[str, int]:
    """Per headline field, how many receipts that were *not* sent have it wrong."""
    accepted = [j for j in judgements if not j.sent]
    return {name: sum(j.right.get(name) is False for j in accepted) for name in HEADLINE}


def summarize_review(subset: str, judgements: Sequence[ReviewJudgement]) -> ReviewSummary:
    """Aggregate one subset's judgements."""
    share, precision, catch = _load(judgements, [j.sent for j in judgements])
    ece: dict[str, float | None] = {}
    table: dict[str, list[Bin]] = {}
    for name in HEADLINE:
        pairs = [(j.confidence[name], j.right[name]) for j in judgements if name in j.right]
        ece[name], table[name] = reliability(pairs)
    codes: dict[str, int] = {}
    for j in judgements:
        for code in j.codes:
            codes[code] = codes.get(code, 0) + 1
    thresholds = sorted({t for j in judgements for t in j.sent_at})
    curve = [CurvePoint(t, *_load(judgements, [j.sent_at.get(t, j.sent) for j in judgements])) for t in thresholds]
    return ReviewSummary(
        subset=subset,
        receipts=len(judgements),
        review_share=share,
        auto_accept_precision=precision,
        catch_rate=catch,
        ece=ece,
        reliability=table,
        blocking_codes=dict(sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))),
        curve=curve,
        by_code=code_effects(judgements),
        missed=missed_fields(judgements),
    )
