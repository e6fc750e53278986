"""Turn load-generator results into rows with ratios to the baseline, and render them as a Markdown table."""

from __future__ import annotations

from typing import Any

_FIGURES = ("rps", "p50_ms", "p99_ms")


def baseline_figures(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """The baseline a row is compared with: the mean of its run before and its run after the product."""
    return {name: (before[name] + after[name]) / 2 for name in _FIGURES}


def build_rows(
    product: list[dict[str, Any]], before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per product route: its figures, its baseline's figures and the ratios.

    ``rps_ratio`` is product throughput / baseline throughput (below 1: slower); ``p50_ratio`` and
    ``p99_ratio`` are product latency / baseline latency (above 1: slower).
    """
    rows = []
    for result in product:
        base = baseline_figures(before[result["pair"]], after[result["pair"]])
        rows.append(
            {
                "endpoint": result["label"],
                "baseline": f"{result['pair']} /baseline",
                "rps": result["rps"],
                "p50_ms": result["p50_ms"],
                "p99_ms": result["p99_ms"],
                "rps_ratio": result["rps"] / base["rps"],
                "p50_ratio": result["p50_ms"] / base["p50_ms"],
                "p99_ratio": result["p99_ms"] / base["p99_ms"],
                "baseline_rps": base["rps"],
                "baseline_p50_ms": base["p50_ms"],
                "baseline_p99_ms": base["p99_ms"],
                "requests": result["requests"],
                "non_2xx": result["requests"] - result["ok"],
                "statuses": result["statuses"],
                "failures": result["failures"],
                "server_cpu": result["server_cpu"],
                "loadgen_cpu": result["loadgen_cpu"],
                "raw": result,
            }
        )
    return rows


def _cpu(value: float | None) -> str:
    return "?" if value is None else f"{value * 100:.0f}%"


def render_table(
    rows: list[dict[str, Any]], before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> str:
    """A Markdown table: baseline rows first (ratio 1 by definition), then the product routes."""
    header = (
        "| endpoint | vs | req/s | p50 ms | p99 ms | req/s ratio | p50 ratio | p99 ratio | requests | non-2xx "
        "| server CPU | loadgen CPU |"
    )
    lines = [header, "|" + "---|" * header.count(" | ") + "---|"]
    for pair in ("GET", "POST"):
        base = baseline_figures(before[pair], after[pair])
        runs = (before[pair], after[pair])
        lines.append(
            f"| baseline {pair} (constant) | {pair} | {base['rps']:.0f} | {base['p50_ms']:.2f} | {base['p99_ms']:.2f} "
            f"| 1 | 1 | 1 | {sum(r['requests'] for r in runs)} "
            f"| {sum(r['requests'] - r['ok'] for r in runs)} "
            f"| {_cpu(_mean(r['server_cpu'] for r in runs))} | {_cpu(_mean(r['loadgen_cpu'] for r in runs))} |"
        )
    for row in rows:
        lines.append(
            f"| {row['endpoint']} | {row['baseline'].split()[0]} "
            f"| {row['rps']:.1f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} "
            f"| {row['rps_ratio']:.3f} | {row['p50_ratio']:.1f} | {row['p99_ratio']:.1f} | {row['requests']} "
            f"| {row['non_2xx']} | {_cpu(row['server_cpu'])} | {_cpu(row['loadgen_cpu'])} |"
        )
    drift = [f"{pair} {after[pair]['rps'] / before[pair]['rps']:.2f}" for pair in ("GET", "POST")]
    lines.append("")
    lines.append(
        "req/s ratio = route / baseline (below 1 is slower); latency ratios = route / baseline (above 1 is slower). "
        f"Baseline = mean of a run before and after the routes; drift after/before req/s: {', '.join(drift)}. "
        "CPU = share of one core during the measured window."
    )
    return "\n".join(lines)


def _mean(values: Any) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None
