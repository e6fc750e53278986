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


def render_backlog(backlog: dict[str, Any]) -> str:
    """The extraction-backlog row: receipts/minute, CPU and peak RSS, one at a time against the default."""
    lines = [
        "| extraction backlog | concurrency | receipts/min | window s | worker CPU (share of one core) "
        "| peak RSS MiB | statuses |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, run in backlog["runs"].items():
        lines.append(
            f"| {label} | {run['concurrency']} | {run['receipts_per_minute']:.1f} | {run['window_s']:.1f} "
            f"| {_cpu(run['cpu_share'])} | {run['peak_rss_mib']:.0f} | {run['statuses']} |"
        )
    lines.append("")
    lines.append(
        f"{backlog['receipts']} receipts; default / one at a time = {backlog['speedup']:.2f}x. Receipts/min = "
        "receipts / (last attempt finished - first attempt started); CPU = the worker process's CPU time over its "
        "whole run (model loading included) / its wall time."
    )
    return "\n".join(lines)


def render_scale(scale: list[dict[str, Any]]) -> str:
    """The scale row: the filtered listing at each store size, and the p50 growth from the smallest."""
    lines = ["| scale: filtered listing, 50/page | receipts | req/s | p50 ms | p99 ms | p50 ÷ smallest |"]
    lines.append("|---|---|---|---|---|---|")
    first = scale[0]["p50_ms"] if scale else float("nan")
    for entry in scale:
        lines.append(
            f"| | {entry['receipts']:,} | {entry['rps']:.1f} | {entry['p50_ms']:.2f} | {entry['p99_ms']:.2f} "
            f"| {entry['p50_ms'] / first:.2f} |"
        )
    return "\n".join(lines)


def _verdict(met: bool | None) -> str:
    return "?" if met is None else ("met" if met else "**short**")


Target = tuple[str, str, str, bool | None]


def targets(report: dict[str, Any], baseline: str = "granian") -> list[Target]:
    """The issue-10 targets of a run's ``report`` (http_bench's JSON), each as (row, measured, target, met);
    met is None when it could not be judged."""
    by_key = {row["raw"].get("key"): row for row in report["rows"]}
    out: list[Target] = []

    def check(key: str, floor: float, p99_factor: float | None = None, p99_ms: float | None = None) -> None:
        row = by_key.get(key)
        if row is None:
            return
        value = float(row["vs"][baseline]["rps_ratio"])
        measured = f"{value:.3f} of {baseline} req/s"
        target = f"≥ {floor:g}"
        met = value >= floor
        if p99_factor is not None:
            factor = row["vs"][baseline]["p99_ratio"]
            measured += f", p99 {factor:.1f}x {baseline}'s"
            target += f", p99 ≤ {p99_factor:g}x"
            met = met and factor <= p99_factor
        if p99_ms is not None:
            measured += f", p99 {row['p99_ms']:.1f} ms"
            target += f", p99 ≤ {p99_ms:g} ms"
            met = met and row["p99_ms"] <= p99_ms
        out.append((row["endpoint"], measured, target, met))

    check("me", 0.50)
    check("one", 0.40, p99_factor=3)
    check("list", 0.10, p99_ms=50)
    check("search", 0.05)
    if "login" in by_key:
        login = by_key["login"]
        out.append((login["endpoint"], f"{login['rps']:.1f} logins/s", "≥ 90/s", login["rps"] >= 90))
    if report.get("login_flood") is not None:
        out += _flood_targets(report["login_flood"])
    out += _upload_targets(by_key)
    out += _worker_targets(report.get("reads_during_backlog"), report.get("extraction_backlog"))
    rss = report["server_rss_mib"].get("product")
    if rss is not None:
        out.append(
            (
                f"memory: API process RSS, {report['receipts_seeded']:,} receipts",
                f"{rss:.0f} MiB",
                "≤ 150 MB",
                rss <= 150,
            )
        )
    scale = report.get("scale") or []
    if len(scale) >= 2:
        growth = scale[-1]["p50_ms"] / scale[0]["p50_ms"]
        out.append(
            (
                "scale: listing p50",
                f"{scale[0]['receipts']:,} → {scale[-1]['receipts']:,}: {growth:.2f}x",
                "< 2x from 10k to 1M",
                growth < 2 and scale[-1]["receipts"] >= 1_000_000,
            )
        )
    return out


def _flood_targets(flood: dict[str, Any]) -> list[Target]:
    by = flood["login"].get("by_status", {})
    shed, ok = by.get("429"), by.get("200")
    idle, busy = flood["read_idle"], flood["read_during"]
    factor = busy["p99_ms"] / idle["p99_ms"]
    return [
        (
            "login flood: 429 p99",
            "no 429" if shed is None else f"{shed['count']} shed, p99 {shed['p99_ms']:.1f} ms",
            "≤ 50 ms",
            None if shed is None else shed["p99_ms"] <= 50,
        ),
        (
            "login flood: accepted p99",
            "none accepted" if ok is None else f"{ok['count']} accepted, p99 {ok['p99_ms']:.0f} ms",
            "≤ 1 s",
            False if ok is None else ok["p99_ms"] <= 1000,
        ),
        (
            "login flood: reads p99 during / idle",
            f"{busy['p99_ms']:.1f} / {idle['p99_ms']:.1f} ms = {factor:.1f}x",
            "≤ 3x",
            factor <= 3,
        ),
    ]


def _upload_targets(by_key: dict[str, Any]) -> list[Target]:
    out: list[Target] = []
    closed, paced = by_key.get("upload"), by_key.get("upload_rate")
    if closed is not None:
        acked = closed["raw"]["ok"] / closed["raw"]["seconds"]
        out.append(
            (
                closed["endpoint"],
                f"{acked:.1f} acknowledged/s (closed loop), p99 {closed['p99_ms']:.1f} ms, "
                f"429: {closed['statuses'].get('429', 0)}",
                "≥ 150/s",
                acked >= 150,
            )
        )
    if paced is not None:
        acked = paced["raw"]["ok"] / paced["raw"]["seconds"]
        p99 = paced["raw"]["by_status"].get("202", {}).get("p99_ms", float("nan"))
        out.append(
            (
                paced["endpoint"],
                f"{acked:.1f}/s acknowledged, p99 {p99:.1f} ms, 429: {paced['statuses'].get('429', 0)}",
                "p99 ≤ 50 ms at 150/s",
                p99 <= 50 and acked >= 150 * 0.97,
            )
        )
    return out


def _worker_targets(reads: dict[str, Any] | None, backlog: dict[str, Any] | None) -> list[Target]:
    out: list[Target] = []
    if reads is not None:
        out.append(
            (
                "reads while the worker extracts a backlog",
                f"p99 {reads['during']['p99_ms']:.1f} / {reads['idle']['p99_ms']:.1f} ms idle = "
                f"{reads['p99_ratio']:.1f}x; {reads['waiting_after']} of {reads['backlog']} still waiting at the end",
                "≤ 3x idle",
                reads["p99_ratio"] <= 3,
            )
        )
        split = reads.get("split")
        if split is not None:
            out.append(
                (
                    "(for comparison) the same, worker in its own process at nice 10",
                    f"p99 {split['during']['p99_ms']:.1f} / {split['idle']['p99_ms']:.1f} ms idle = "
                    f"{split['p99_ratio']:.1f}x; {split['waiting_after']} of {split['backlog']} still waiting",
                    "≤ 3x idle",
                    split["p99_ratio"] <= 3,
                )
            )
    if backlog is not None:
        peak = max(run["peak_rss_mib"] for run in backlog["runs"].values())
        out.append(
            (
                f"extraction backlog ({backlog['receipts']} receipts)",
                f"default ({backlog['default_concurrency']}) / one at a time = {backlog['speedup']:.2f}x, "
                f"peak RSS {peak:.0f} MiB",
                "≥ 1.7x, ≤ 600 MB",
                backlog["speedup"] >= 1.7 and peak <= 600,
            )
        )
    return out


def render_targets(report: dict[str, Any], baseline: str = "granian") -> str:
    """The issue-10 targets as a Markdown table (see ``targets``)."""
    lines = ["| issue-10 row | measured | target | verdict |", "|---|---|---|---|"]
    lines += [
        f"| {name} | {measured} | {target} | {_verdict(met)} |"
        for name, measured, target, met in targets(report, baseline)
    ]
    return "\n".join(lines)
