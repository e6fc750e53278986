"""Show a ``Report``: a rich table for people, a JSON document with every prediction beside its label."""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any

from rich.console import Console
from rich.table import Table

from receiptcore.domain.review import LOW_CONFIDENCE_THRESHOLD
from receiptcore.entrypoints.evaluation.runner import Report, SampleResult


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def render(report: Report, console: Console) -> None:
    """Print the per-field table, timing and memory."""
    table = Table(title=f"{report.extractor} {report.extractor_version} on {report.dataset}")
    for column, justify in (("subset", "left"), ("field", "left"), ("n", "right"), ("exact %", "right"),
                            ("graded", "right"), ("metric", "left")):  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for s in report.summaries:
        table.add_row(s.subset, s.field, str(s.scored), f"{s.accuracy:.1f}", _percent(s.graded), s.graded_name or "")
    console.print(table)
    if report.review:
        console.print(_review_table(report))
        console.print(_curve_table(report))
        console.print(_codes_table(report))
    seconds = report.seconds
    if seconds:
        p90 = statistics.quantiles(seconds, n=10)[-1] if len(seconds) >= 2 else seconds[0]
        console.print(
            f"receipts: {len(seconds)}  failures: {report.failures}  seconds/receipt: median "
            f"{report.median_seconds:.2f}, mean {statistics.fmean(seconds):.2f}, p90 {p90:.2f}, max {max(seconds):.2f}"
        )
    console.print(
        f"peak memory (process RSS high-water mark): {report.peak_memory_mb:.0f} MiB "
        f"(before the first receipt: {report.baseline_memory_mb:.0f} MiB)"
    )


def _review_table(report: Report) -> Table:
    assumed = f", default currency {report.default_currency}" if report.default_currency else ""
    table = Table(title=f"review load (headline fields: merchant, date, total{assumed})")
    for column in ("subset", "n", "sent to review %", "auto-accept precision %", "catch rate %", "ECE merchant",
                   "ECE date", "ECE total", "accepted wrong: merchant / date / total",
                   "top blocking codes"):  # fmt: skip
        table.add_column(column, justify="left" if column in {"subset", "top blocking codes"} else "right")
    for r in report.review:
        top = ", ".join(f"{code} {n}" for code, n in list(r.blocking_codes.items())[:4])
        ece = [("—" if r.ece[name] is None else f"{r.ece[name]:.3f}") for name in ("merchant", "date", "total")]
        missed = " / ".join(str(r.missed.get(name, 0)) for name in ("merchant", "date", "total"))
        table.add_row(r.subset, str(r.receipts), _percent(r.review_share), _percent(r.auto_accept_precision),
                      _percent(r.catch_rate), *ece, missed, top)  # fmt: skip
    return table


def _curve_table(report: Report) -> Table:
    table = Table(title="review load by confidence threshold: sent % / auto-accept precision % / catch rate %")
    table.add_column("subset")
    thresholds = [p.threshold for p in report.review[0].curve] if report.review else []
    for t in thresholds:
        table.add_column(f"{t:g}" + (" (default)" if t == LOW_CONFIDENCE_THRESHOLD else ""), justify="right")
    for r in report.review:
        cells = {p.threshold: p for p in r.curve}
        table.add_row(r.subset, *(
            " / ".join(_percent(v) for v in (p.review_share, p.auto_accept_precision, p.catch_rate))
            if (p := cells.get(t)) is not None else "—"
            for t in thresholds
        ))  # fmt: skip
    return table


def _codes_table(report: Report) -> Table:
    table = Table(
        title="review load per warning code: receipts all right / with a wrong headline field "
        "(carrying the code, sent by it, sent by it alone, carrying it and accepted)"
    )
    for column in ("subset", "code", "carried", "sends", "sends alone", "accepted"):
        table.add_column(column, justify="left" if column in {"subset", "code"} else "right")
    for r in report.review:
        for effect in r.by_code:
            splits = (effect.carried, effect.blocked, effect.alone, effect.accepted)
            table.add_row(r.subset, effect.code, *(f"{right} / {wrong}" for right, wrong in splits))
        table.add_section()
    return table


def _result_json(result: SampleResult) -> dict[str, Any]:
    label = dataclasses.asdict(result.label) if result.label else None
    if label is not None:
        label.pop("extra", None)
    return {
        "id": result.sample.id,
        "subset": result.sample.subset,
        "document": str(result.sample.document),
        "seconds": round(result.seconds, 4),
        "peak_rss_mib": round(result.peak_rss_mb, 1),
        "error": result.error,
        "prediction": result.prediction.model_dump(mode="json") if result.prediction else None,
        "label": label,
        "scores": {name: dataclasses.asdict(score) for name, score in result.scores.items()},
        "review": _judgement_json(result),
    }


def _judgement_json(result: SampleResult) -> dict[str, Any] | None:
    if result.review is None:
        return None
    return {**dataclasses.asdict(result.review), "headline_right": result.review.headline_right}


def to_json(report: Report) -> dict[str, Any]:
    """The whole report as JSON-ready data: summary, timing, memory and every prediction beside its label."""
    return {
        "extractor": report.extractor,
        "extractor_version": report.extractor_version,
        "dataset": report.dataset,
        "summary": [dataclasses.asdict(s) for s in report.summaries],
        "review": [dataclasses.asdict(r) for r in report.review],
        "default_currency": report.default_currency,
        "timing": {
            "receipts": len(report.results),
            "failures": report.failures,
            "median_seconds": round(report.median_seconds, 4),
            "mean_seconds": round(statistics.fmean(report.seconds), 4) if report.results else 0.0,
        },
        "memory": {
            "peak_rss_mib": round(report.peak_memory_mb, 1),
            "baseline_rss_mib": round(report.baseline_memory_mb, 1),
        },
        "receipts": [_result_json(r) for r in report.results],
    }
