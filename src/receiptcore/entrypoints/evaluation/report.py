"""Show a ``Report``: a rich table for people, a JSON document with every prediction beside its label."""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any

from rich.console import Console
from rich.table import Table

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
    }


def to_json(report: Report) -> dict[str, Any]:
    """The whole report as JSON-ready data: summary, timing, memory and every prediction beside its label."""
    return {
        "extractor": report.extractor,
        "extractor_version": report.extractor_version,
        "dataset": report.dataset,
        "summary": [dataclasses.asdict(s) for s in report.summaries],
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
