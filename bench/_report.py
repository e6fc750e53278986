"""Turn load-generator results into rows with ratios to both baselines, and render them as Markdown tables.

Two baselines are measured in the same run: the fastest bare Litestar endpoint here (granian, with whichever
process count served it fastest) and the same bare app on the product's own uvicorn setup. Each is measured
before and after the product rows; a row compares with the mean of the two runs.
"""

from __future__ import annotations

from typing import Any

_FIGURES = ("rps", "p50_ms", "p99_ms")


def baseline_figures(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """The baseline a row is compared with: the mean of its run before and its run after the product."""
    return {name: (before[name] + after[name]) / 2 for name in _FIGURES}


def build_rows(product: list[dict[str, Any]], baselines: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per product route: its figures and, per baseline, the baseline's figures and the ratios.

    ``baselines`` maps a baseline name to ``{"before": {"GET": ..., "POST": ...}, "after": {...}}``.
    ``rps_ratio`` is product / baseline throughput (below 1: slower); ``p50_ratio``, ``p99_ratio`` are product
    latency / baseline latency (above 1: slower).
    """
    rows = []
    for result in product:
        row: dict[str, Any] = {
            "endpoint": result["label"],
            "pair": result["pair"],
            "rps": result["rps"],
            "p50_ms": result["p50_ms"],
            "p99_ms": result["p99_ms"],
            "requests": result["requests"],
            "non_2xx": result["requests"] - result["ok"],
            "statuses": result["statuses"],
            "failures": result["failures"],
            "server_cpu": result["server_cpu"],
            "loadgen_cpu": result["loadgen_cpu"],
            "vs": {},
            "raw": result,
        }
        for name, runs in baselines.items():
            base = baseline_figures(runs["before"][result["pair"]], runs["after"][result["pair"]])
            row["vs"][name] = {
                "baseline": base,
                "rps_ratio": result["rps"] / base["rps"],
                "p50_ratio": result["p50_ms"] / base["p50_ms"],
                "p99_ratio": result["p99_ms"] / base["p99_ms"],
            }
        rows.append(row)
    return rows


def _cpu(value: float | None) -> str:
    return "?" if value is None else f"{value * 100:.0f}%"


def render_table(rows: list[dict[str, Any]], baselines: dict[str, dict[str, dict[str, Any]]]) -> str:
    """A Markdown table: the baselines first, then each product route with its ratios to both baselines."""
    names = list(baselines)
    header = (
        "| endpoint | req/s | p50 ms | p99 ms | "
        + " | ".join(f"req/s ÷ {n} | p99 ÷ {n}" for n in names)
        + " | requests | non-2xx | server CPU |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for name, runs in baselines.items():
        for pair in ("GET", "POST"):
            base = baseline_figures(runs["before"][pair], runs["after"][pair])
            both = (runs["before"][pair], runs["after"][pair])
            drift = runs["after"][pair]["rps"] / runs["before"][pair]["rps"]
            lines.append(
                f"| baseline {name} {pair} (drift {drift:.2f}) | {base['rps']:.0f} | {base['p50_ms']:.2f} "
                f"| {base['p99_ms']:.2f} | "
                + " | ".join("" for _ in range(2 * len(names) - 1))
                + f" | {sum(r['requests'] for r in both)} | {sum(r['requests'] - r['ok'] for r in both)} "
                f"| {_cpu(_mean(r['server_cpu'] for r in both))} |"
            )
    for row in rows:
        ratios = " | ".join(f"{row['vs'][n]['rps_ratio']:.3f} | {row['vs'][n]['p99_ratio']:.1f}" for n in names)
        lines.append(
            f"| {row['endpoint']} | {row['rps']:.1f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {ratios} "
            f"| {row['requests']} | {row['non_2xx']} | {_cpu(row['server_cpu'])} |"
        )
    lines.append("")
    lines.append(
        "req/s ÷ baseline: below 1 is slower; p99 ÷ baseline: above 1 is slower. Each baseline is the mean of a run "
        "before and after the product rows (drift = after / before req/s). POST rows compare with the POST baseline "
        "(parses the same JSON body). CPU = the server process's share of one core (granian: its main process only)."
    )
    return "\n".join(lines)


def render_flood(flood: dict[str, Any]) -> str:
    """The login-flood figures: shed share and latencies, accepted latencies, the concurrent read vs idle."""
    login = flood["login"]
    total = max(1, login["requests"])
    by = login.get("by_status", {})
    shed = by.get("429", {"count": 0, "p50_ms": float("nan"), "p99_ms": float("nan")})
    ok = by.get("200", {"count": 0, "p50_ms": float("nan"), "p99_ms": float("nan")})
    idle, busy = flood["read_idle"], flood["read_during"]
    others = {k: v["count"] for k, v in by.items() if k not in ("200", "429")}
    return "\n".join(
        [
            "| login flood | figure |",
            "|---|---|",
            f"| connections (each its own account and client address) | {flood['connections']} |",
            f"| logins answered per second | {login['rps']:.1f} |",
            f"| 200 (accepted, verified in full) | {ok['count']} = {ok['count'] / total:.1%}, "
            f"{ok['count'] / login['seconds']:.1f}/s |",
            f"| accepted p50 / p99 ms | {ok['p50_ms']:.1f} / {ok['p99_ms']:.1f} |",
            f"| 429 (shed, Retry-After) | {shed['count']} = {shed['count'] / total:.1%} |",
            f"| 429 p50 / p99 ms | {shed['p50_ms']:.1f} / {shed['p99_ms']:.1f} |",
            f"| other statuses / failures | {others or 'none'} / {login['failures'] or 'none'} |",
            f"| GET /api/receipts/{{id}} ({flood['read_connections']} conns) p99 idle / during | "
            f"{idle['p99_ms']:.2f} / {busy['p99_ms']:.2f} ms (x{busy['p99_ms'] / idle['p99_ms']:.1f}); "
            f"req/s {idle['rps']:.0f} / {busy['rps']:.0f} |",
            f"| server CPU during the flood | {_cpu(login['server_cpu'])} |",
        ]
    )


def _mean(values: Any) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None
