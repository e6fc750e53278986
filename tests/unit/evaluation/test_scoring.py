"""The evaluation arithmetic on the hand-made mini set (tests/fixtures/eval-mini); expected numbers by hand."""

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from receiptcore.domain.receipt import ExtractedReceipt, FieldSource, LineItem, Merchant
from receiptcore.domain.review import LOW_CONFIDENCE_THRESHOLD
from receiptcore.entrypoints import cli_eval
from receiptcore.entrypoints.evaluation import runner
from receiptcore.entrypoints.evaluation.datasets import discover
from receiptcore.entrypoints.evaluation.review_load import CURVE_THRESHOLDS, judge, reliability, summarize_review
from receiptcore.entrypoints.evaluation.runner import evaluate
from receiptcore.errors import ExtractionFailed
from receiptcore.ports import Document
from tests.unit.evaluation.scripted import ScriptedExtractor

MINI = Path(__file__).resolve().parents[2] / "fixtures" / "eval-mini"

# file names repeat across the two subsets, so answers are keyed by subset/name and handed over per subset
ANSWERS = {
    "sroie/000.png": ExtractedReceipt(
        merchant=Merchant(name="Acme Trading Sdn Bhd", address="NO 1, JALAN SATU"),
        purchase_date=dt.date(2018, 12, 25),
        total=Decimal("8.35"),
    ),
    "sroie/001.png": ExtractedReceipt(
        merchant=Merchant(name="beta  mart enterprise"), purchase_date=dt.date(2017, 12, 31)
    ),
    "wildreceipt/000.png": ExtractedReceipt(
        merchant=Merchant(name="Wool worths"),
        purchase_date=dt.date(2016, 5, 2),  # the month-first reading of 05/02/16
        total=Decimal("20.00"),
        line_items=[LineItem(description="*OPTUS ALCATEL"), LineItem(description="MILK")],
    ),
    "wildreceipt/001.png": ExtractedReceipt(
        merchant=Merchant(name="Basil Tai"),
        total=Decimal("31.00"),
        line_items=[LineItem(description="Pak Rad Kang"), LineItem(description="Rice")],
    ),
    # wildreceipt/002.png is missing: the extractor fails on it
}


class InOrder(ScriptedExtractor):
    """Answers the documents in the order they come (the mini set's images are all the same bytes and names
    repeat across subsets); None → the extraction fails."""

    def __init__(self, answers: list[ExtractedReceipt | None]) -> None:
        super().__init__({})
        self.queue = answers

    async def extract(self, document: Document) -> ExtractedReceipt:
        answer = self.queue.pop(0)
        if answer is None:
            raise ExtractionFailed("scripted failure")
        return answer


def _extractor(events: list[str] | None = None) -> ScriptedExtractor:
    by_name: dict[str, ExtractedReceipt] = {}
    return ScriptedExtractor(by_name, on_extract=(events.append if events is not None else None))


async def _report(events: list[str] | None = None, default_currency: str | None = None) -> runner.Report:
    samples = discover(MINI)
    # the runner gives the extractor only the document; map the answers by file name per subset in turn
    extractor = _extractor(events)
    results = []
    for subset in ("sroie", "wildreceipt"):
        extractor.answers = {k.split("/")[1]: v for k, v in ANSWERS.items() if k.startswith(subset)}
        chosen = [s for s in samples if s.subset == subset]
        part = await evaluate(extractor, chosen, str(MINI), default_currency=default_currency)
        results.append(part)
    merged = results[0]
    merged.results += results[1].results
    merged.summaries += results[1].summaries
    merged.review += results[1].review
    return merged


def _row(report: runner.Report, subset: str, field: str) -> tuple[int, float, float | None]:
    summary = next(s for s in report.summaries if s.subset == subset and s.field == field)
    graded = None if summary.graded is None else round(summary.graded, 2)
    return summary.scored, round(summary.accuracy, 2), graded


async def test_sroie_fields_score_as_computed_by_hand() -> None:
    report = await _report()
    # company: exact on 000; 001 "BETA MART ENTERPRISE" vs "BETA MART": P 2/3, R 1 → F1 0.8; mean (1 + 0.8) / 2
    assert _row(report, "sroie", "company") == (2, 50.0, 90.0)
    # address only on 000: 4 of 7 label tokens, all 4 predicted tokens right → F1 8/11
    assert _row(report, "sroie", "address") == (1, 0.0, 72.73)
    # date: 000 right, 001 predicted the 31st for "30 DEC 17"
    assert _row(report, "sroie", "date") == (2, 50.0, None)
    # total: 001's label is empty, so only 000 is scored
    assert _row(report, "sroie", "total") == (1, 100.0, None)


async def test_wildreceipt_fields_score_as_computed_by_hand() -> None:
    report = await _report()
    # store name: WOOLWORTHS exact; BASILTAI vs BASILTHAI not exact, ratio 16/17; 002 failed → 0
    assert _row(report, "wildreceipt", "store_name") == (3, 33.33, round(100 * (1 + 16 / 17) / 3, 2))
    assert _row(report, "wildreceipt", "address") == (1, 0.0, 0.0)
    # dates on 000 (any valid reading of 05/02/16 counts) and 002 (failed)
    assert _row(report, "wildreceipt", "date") == (2, 50.0, None)
    # totals: 000 right, 001 matches the second total box, 002 failed
    assert _row(report, "wildreceipt", "total") == (3, 66.67, None)
    # items pooled: matched 1 + 1 + 0, predicted 2 + 2 + 0, labelled 2 + 1 + 1 → F1 = 2·2 / (4 + 4)
    assert _row(report, "wildreceipt", "items") == (3, 0.0, 50.0)


async def test_a_failed_extraction_is_recorded_not_raised() -> None:
    report = await _report()
    failed = [r for r in report.results if r.error is not None]
    assert [(r.sample.subset, r.sample.id) for r in failed] == [("wildreceipt", "002")]
    assert failed[0].prediction is None


async def test_labels_are_read_only_after_the_prediction(monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_load = runner.load_label

    def recording_load(sample):  # type: ignore[no-untyped-def]
        events.append(f"label:{sample.document.name}")
        return real_load(sample)

    monkeypatch.setattr(runner, "load_label", recording_load)
    await _report(events)
    for name in ("000.png", "001.png"):
        assert events.index(name) < events.index(f"label:{name}")
    assert len(events) == 10


def test_peak_memory_is_measured() -> None:
    assert runner.peak_rss_mb() > 10


def test_eval_command_prints_the_table_and_writes_every_prediction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {k.split("/")[1]: v for k, v in ANSWERS.items() if k.startswith("sroie")}
    monkeypatch.setattr(cli_eval, "build_extractor", lambda *_args, **_kwargs: ScriptedExtractor(answers))
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        cli_eval.eval_command, [str(MINI), "--extractor", "scripted", "--subset", "sroie", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "company" in result.output
    assert "seconds/receipt" in result.output
    data = json.loads(out.read_text())
    assert [r["id"] for r in data["receipts"]] == ["000", "001"]
    first = data["receipts"][0]
    assert first["prediction"]["total"] == "8.35"
    assert first["label"]["totals"] == ["RM8.35"]
    assert first["scores"]["total"]["exact"] is True
    assert {s["field"] for s in data["summary"]} == {"company", "address", "date", "total"}
    assert data["memory"]["peak_rss_mib"] > 0
    assert "review load" in result.output
    (sroie,) = data["review"]
    assert sroie["subset"] == "sroie"
    assert set(sroie["reliability"]) == {"merchant", "date", "total"}
    assert first["review"]["sent"] is True
    assert first["review"]["warnings"] == ["currency_unknown"]
    # per code: receipts all right / with a wrong field carrying it, sent by it, sent by it alone
    effects = {e["code"]: e for e in sroie["by_code"]}
    assert effects["currency_unknown"] == {"code": "currency_unknown", "carried": [1, 1], "blocked": [1, 1],
                                           "alone": [1, 0], "accepted": [0, 0]}  # fmt: skip
    assert effects["missing_total"]["alone"] == [0, 0]
    assert sroie["missed"] == {"merchant": 0, "date": 0, "total": 0}
    assert "per warning code" in result.output


def test_limit_and_subset_select_documents() -> None:
    assert [(s.subset, s.id) for s in discover(MINI, limit=1)] == [("sroie", "000"), ("wildreceipt", "000")]
    assert [s.id for s in discover(MINI / "wildreceipt")] == ["000", "001", "002"]


def _review(report: runner.Report, subset: str) -> tuple[int, float | None, float | None, float | None]:
    r = next(r for r in report.review if r.subset == subset)
    return (r.receipts, *(None if v is None else round(v, 2) for v in (r.review_share, r.auto_accept_precision,
                                                                      r.catch_rate)))  # fmt: skip


async def test_review_load_without_a_default_currency_sends_every_receipt_without_one() -> None:
    report = await _report()
    # no answer prints a currency: all are sent; nothing is auto-accepted; the wrong ones (sroie 001: date;
    # wildreceipt 002: failed) were sent
    assert _review(report, "sroie") == (2, 100.0, None, 100.0)
    assert _review(report, "wildreceipt") == (3, 100.0, None, 100.0)
    sroie = next(r for r in report.review if r.subset == "sroie")
    assert sroie.blocking_codes == {"currency_unknown": 2, "missing_total": 1}


async def test_review_load_with_a_default_currency_computed_by_hand() -> None:
    report = await _report(default_currency="EUR")
    # sroie 000 all right, nothing blocks → accepted; 001 has no total → sent, and its date is wrong → caught
    assert _review(report, "sroie") == (2, 50.0, 100.0, 100.0)
    # wildreceipt 000 accepted and right; 001 right but has no date → sent; 002 failed → sent and caught
    assert _review(report, "wildreceipt") == (3, 66.67, 100.0, 100.0)
    judged = {(r.sample.subset, r.sample.id): r.review for r in report.results}
    assert judged["wildreceipt", "001"] is not None
    assert judged["wildreceipt", "001"].codes == ("missing_date",)
    assert judged["wildreceipt", "001"].right == {"merchant": True, "total": True}
    assert judged["wildreceipt", "002"] is not None
    assert judged["wildreceipt", "002"].codes == ("extraction_failed",)


async def test_calibration_of_confidences_that_say_nothing() -> None:
    report = await _report(default_currency="EUR")
    sroie = next(r for r in report.review if r.subset == "sroie")
    # no provenance: every confidence is 0; merchant 000 is right, 001 wrong (see below) → one bin, accuracy 1/2
    assert sroie.ece["merchant"] == 0.5
    (only,) = sroie.reliability["merchant"]
    assert (only.count, only.mean_confidence, only.accuracy) == (2, 0.0, 0.5)
    # dates: one right, one wrong → ECE 0.5
    assert sroie.ece["date"] == 0.5


def test_reliability_bins_weigh_by_size() -> None:
    ece, rows = reliability([(0.95, True), (0.95, True), (0.9, False), (0.15, False)])
    # bin 0.9..1.0: 3 members, mean 0.9333, accuracy 2/3; bin 0.1..0.2: mean 0.15, accuracy 0
    assert [(b.low, b.count) for b in rows] == [(0.1, 1), (0.9, 3)]
    assert ece == pytest.approx(3 / 4 * abs(2 / 3 - 2.8 / 3) + 1 / 4 * 0.15)
    assert reliability([]) == (None, [])


def test_eval_refuses_a_default_currency_that_is_not_iso_4217() -> None:
    result = CliRunner().invoke(cli_eval.eval_command, [str(MINI), "--default-currency", "EURO"])
    assert result.exit_code == 2
    assert "ISO-4217" in result.output


async def test_the_review_judges_the_merchant_by_its_similarity_with_spaces_removed() -> None:
    report = await _report()
    first, second = (r for r in report.results if r.sample.subset == "sroie")
    # 000: "ACMETRADINGSDNBHD" both ways → 1; 001: "BETAMARTENTERPRISE" vs "BETAMART": 2·8 / (18 + 8)
    assert first.scores["company_similarity"].graded == 1.0
    assert second.scores["company_similarity"].graded == pytest.approx(16 / 26)
    # token F1 (the accuracy table) would call 001 right at 0.8; the review judgement does not
    assert second.review is not None
    assert second.review.right["merchant"] is False
    spaced = ExtractedReceipt(merchant=Merchant(name="ACMETRADING SDNBHD"))
    label = runner.load_label(next(s for s in discover(MINI) if s.subset == "sroie" and s.id == "000"))
    scores = runner.score("sroie", spaced, label)
    # the OCR dropped two spaces: token F1 is 0, the review judgement counts it right
    assert scores["company"].graded == 0.0
    assert scores["company_similarity"].graded == 1.0


async def test_the_review_load_of_the_whole_set_pools_its_subsets() -> None:
    report = await _report(default_currency="EUR")
    samples = discover(MINI)
    merged = await evaluate(InOrder([ANSWERS.get(f"{s.subset}/{s.document.name}") for s in samples]), samples,
                            str(MINI), default_currency="EUR")  # fmt: skip
    pooled = next(r for r in merged.review if r.subset == "all")
    # sroie: 1 of 2 sent, wildreceipt 2 of 3 → 3 of 5; accepted: sroie 000 and wildreceipt 000, both right;
    # wrong: sroie 001 (date) and wildreceipt 002 (failed), both sent
    assert (pooled.receipts, pooled.review_share, pooled.auto_accept_precision, pooled.catch_rate) == (
        5,
        60.0,
        100.0,
        100.0,
    )
    assert {r.subset for r in report.review} == {"sroie", "wildreceipt"}


def test_the_curve_measures_the_decision_at_other_confidence_thresholds() -> None:
    # sroie 000 as scripted (all three fields right), its total read with confidence 0.9, the rest at 0.99; and a
    # second receipt whose merchant is wrong, read at 0.96
    sample = next(s for s in discover(MINI) if s.subset == "sroie" and s.id == "000")
    label = runner.load_label(sample)
    sure = {"merchant.name": FieldSource(confidence=0.99), "purchase_date": FieldSource(confidence=0.99)}
    right = ANSWERS["sroie/000.png"].model_copy(update={"provenance": {**sure, "total": FieldSource(confidence=0.9)}})
    wrong = right.model_copy(
        update={
            "merchant": Merchant(name="Zeta Bazaar"),
            "provenance": {**sure, "merchant.name": FieldSource(confidence=0.96), "total": FieldSource(confidence=1)},
        }
    )
    judgements = [judge(p, runner.score("sroie", p, label), "EUR") for p in (right, wrong)]
    assert [j.sent for j in judgements] == [False, False]  # both above LOW_CONFIDENCE_THRESHOLD (0.85)
    assert judgements[1].right["merchant"] is False
    curve = {p.threshold: p for p in summarize_review("sroie", judgements).curve}
    assert set(curve) == {*CURVE_THRESHOLDS, LOW_CONFIDENCE_THRESHOLD}
    # at 0.85 nothing is sent: half the accepted are right, the wrong one is missed
    assert (curve[0.85].review_share, curve[0.85].auto_accept_precision, curve[0.85].catch_rate) == (0.0, 50.0, 0.0)
    # at 0.95 the 0.9 total goes to review: the one accepted is the wrong one
    assert (curve[0.95].review_share, curve[0.95].auto_accept_precision, curve[0.95].catch_rate) == (50.0, 0.0, 0.0)
    # at 0.97 both go: nothing is accepted, the wrong one is caught
    assert (curve[0.97].review_share, curve[0.97].auto_accept_precision, curve[0.97].catch_rate) == (100.0, None, 100.0)


def _effects(report: runner.Report, subset: str) -> dict[str, tuple[tuple[int, int], ...]]:
    r = next(r for r in report.review if r.subset == subset)
    return {e.code: (e.carried, e.blocked, e.alone, e.accepted) for e in r.by_code}


async def test_the_effect_of_each_warning_code_computed_by_hand() -> None:
    report = await _report(default_currency="EUR")
    # (all right, a field wrong) for receipts carrying the code, sent by it, sent by it alone, carrying it and
    # accepted: sroie 000 right, accepted, carries only currency_assumed; 001 (wrong date) is sent by missing_total
    # alone
    assert _effects(report, "sroie") == {
        "missing_total": ((0, 1), (0, 1), (0, 1), (0, 0)),
        "currency_assumed": ((1, 1), (0, 0), (0, 0), (1, 0)),
    }
    # wildreceipt 001 is right and sent by missing_date alone (its label has no date either); 002 failed
    assert _effects(report, "wildreceipt") == {
        "extraction_failed": ((0, 1), (0, 1), (0, 1), (0, 0)),
        "missing_date": ((1, 0), (1, 0), (1, 0), (0, 0)),
        "currency_assumed": ((2, 0), (0, 0), (0, 0), (1, 0)),
    }
    # the codes that send most come first; nothing wrong was accepted
    sroie = next(r for r in report.review if r.subset == "sroie")
    assert [e.code for e in sroie.by_code] == ["missing_total", "currency_assumed"]
    assert sroie.missed == {"merchant": 0, "date": 0, "total": 0}
    wild = next(r for r in report.review if r.subset == "wildreceipt")
    assert [e.code for e in wild.by_code] == ["extraction_failed", "missing_date", "currency_assumed"]


def test_the_wrongly_accepted_receipts_are_counted_per_wrong_field() -> None:
    sample = next(s for s in discover(MINI) if s.subset == "sroie" and s.id == "000")
    label = runner.load_label(sample)
    sure = {p: FieldSource(confidence=0.99) for p in ("merchant.name", "purchase_date", "total")}
    right = ANSWERS["sroie/000.png"].model_copy(update={"provenance": sure, "currency": "MYR"})
    wrong_name = right.model_copy(update={"merchant": Merchant(name="Zeta Bazaar")})
    wrong_both = wrong_name.model_copy(update={"total": Decimal("9.35")})
    unsure = wrong_both.model_copy(update={"provenance": {**sure, "total": FieldSource(confidence=0.5),
                                                          "merchant.name": FieldSource(confidence=0.5)}})  # fmt: skip
    judgements = [judge(p, runner.score("sroie", p, label), None) for p in (right, wrong_name, wrong_both, unsure)]
    assert [j.sent for j in judgements] == [False, False, False, True]
    summary = summarize_review("sroie", judgements)
    # accepted: the right one, the wrong name, the wrong name and total; the unsure total was sent (caught)
    assert summary.missed == {"merchant": 2, "date": 0, "total": 1}
    # low_confidence counts per field: the unsure receipt has two, so neither sends it alone
    effects = {e.code: (e.carried, e.blocked, e.alone, e.accepted) for e in summary.by_code}
    assert effects == {
        "low_confidence:merchant.name": ((0, 1), (0, 1), (0, 0), (0, 0)),
        "low_confidence:total": ((0, 1), (0, 1), (0, 0), (0, 0)),
    }
    assert judgements[3].codes == ("low_confidence",)
    assert judgements[3].blocked_by == ("low_confidence:merchant.name", "low_confidence:total")
