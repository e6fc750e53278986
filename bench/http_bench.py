"""HTTP benchmark of receiptcore: the product's hot routes against a bare Litestar endpoint, in one run.

Run it with ``make bench`` (or ``.venv/bin/python bench/http_bench.py --help``). It

1. seeds a temporary embedded-profile data directory (SQLite + local files) with 100,000 receipts (see
   ``_seed.py``) and users created through ``UserService`` with the real Argon2 parameters;
2. serves the bare baseline app under granian (1 and 2 processes; the faster is the baseline) and under the
   product's own uvicorn setup, and the real product (``receiptcore serve --no-worker``), each in its own process;
3. drives each route from a separate load-generator process (closed loop, a fixed number of keep-alive
   connections, a warm-up, then a fixed measured duration; see ``_loadgen.py``), measuring the baselines before
   and after the product so drift shows; then the uploads and the login flood; then the rows where the
   extraction worker runs (reads during a backlog, the backlog's own throughput: ``_extraction.py``), and the
   listing again at other store sizes;
4. prints requests per second, p50 and p99 latency per route and its ratios to both baselines, the issue-10
   targets (met or short), and writes everything to ``bench/out/http.json``.

Not a test: nothing here asserts on numbers. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from _report import (  # noqa: E402
    build_rows,
    render_backlog,
    render_flood,
    render_scale,
    render_table,
    render_targets,
)
from _serve import server_description  # noqa: E402
from _servers import ServerProcess, clean_environ  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; the defaults are what ``make bench`` runs."""
    parser = argparse.ArgumentParser(description="HTTP benchmark: product routes as ratios to a bare Litestar app.")
    parser.add_argument("--receipts", type=int, default=100_000, help="receipts seeded into the store")
    parser.add_argument(
        "--scale",
        default="10000",
        help="comma-separated other store sizes at which the listing row is measured again ('' for none)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections of the load generator")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load before each run")
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per route")
    parser.add_argument(
        "--client", choices=["raw", "httpx"], default="raw", help="load generator engine (see _rawhttp.py for why raw)"
    )
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out" / "http.json", help="JSON result file")
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="RECEIPTCORE_LOG_LEVEL for both servers (default: the product's default, as `make run` serves)",
    )
    parser.add_argument("--no-flood", action="store_true", help="skip the login flood row")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated row groups to leave out: " + ", ".join(ROW_GROUPS) + " (e.g. --skip backlog,scale)",
    )
    parser.add_argument(
        "--data-cache",
        type=Path,
        help="keep seeded data dirs here between runs, one per seed parameters and seeding code (a 1M store "
        "seeds once); the servers always get a fresh copy",
    )
    parser.add_argument(
        "--receipts-dir",
        type=Path,
        help="the development receipts for the worker rows (default: ../shared/data/receipts of the checkout, "
        "else /work/shared/data/receipts)",
    )
    parser.add_argument("--backlog", type=int, default=150, help="receipts of the extraction-backlog row")
    parser.add_argument(
        "--worker-store",
        type=int,
        default=10_000,
        help="receipts stored (none pending) for the reads-during-backlog row",
    )
    parser.add_argument("--keep-data", action="store_true", help="keep the temporary data dir and server logs")
    parser.add_argument("--baseline-only", action="store_true", help="measure only the baselines (harness check)")
    return parser.parse_args(argv)


def run_load(job: dict[str, Any]) -> dict[str, Any]:
    """Run one load-generator process on ``job`` and return its figures."""
    completed = subprocess.run(
        [sys.executable, str(BENCH_DIR / "_loadgen.py")],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=float(job["warmup_s"]) + float(job["duration_s"]) + 120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{completed.stderr[-4000:]}")
    return dict(json.loads(completed.stdout))


def measure(
    label: str, server: ServerProcess, args: argparse.Namespace, method: str, paths: list[str], **extra: Any
) -> dict[str, Any]:
    """Measure one route (cycling through ``paths``) on ``server``; prints a progress line."""
    print(f"  {label:<44}", end="", flush=True)
    job = {
        "base_url": server.base_url,
        "server_pid": server.pid,
        "method": method,
        "paths": paths,
        "concurrency": args.concurrency,
        "warmup_s": args.warmup,
        "duration_s": args.duration,
        "client": args.client,
        **extra,
    }
    result = run_load(job)
    result["label"] = label
    print(f"{result['rps']:9.1f} req/s  p50 {result['p50_ms']:8.2f} ms  p99 {result['p99_ms']:8.2f} ms")
    return result


def measure_baseline(server: ServerProcess, args: argparse.Namespace, phase: str) -> dict[str, dict[str, Any]]:
    """The bare endpoint, once as GET and once as POST with a login-sized JSON body."""
    body = {"email": "member@bench.example", "password": "x" * 24}
    name = server.target
    return {
        "GET": measure(f"baseline {name} GET ({phase})", server, args, "GET", ["/baseline"]),
        "POST": measure(f"baseline {name} POST ({phase})", server, args, "POST", ["/baseline"], json=body),
    }


GRANIAN_TARGETS = ("granian-1", "granian-2")
# the row groups --skip can leave out
ROW_GROUPS = ("http", "upload", "flood", "reads-during-backlog", "backlog", "scale")


def environment() -> dict[str, Any]:
    """What the figures depend on: machine, interpreter, server and framework versions, commit."""

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False, cwd=BENCH_DIR
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit or None,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "uvicorn": version("uvicorn"),
        "granian": version("granian"),
        "litestar": version("litestar"),
        "httpx": version("httpx"),
        "uvloop": version("uvloop"),
        "httptools": version("httptools"),
    }


def server_env(data_dir: Path, log_level: str | None) -> dict[str, str]:
    """The ``RECEIPTCORE_*`` environment both servers get (the product's defaults unless told otherwise)."""
    env = {"RECEIPTCORE_DATA_DIR": str(data_dir), "RECEIPTCORE_HOST": "127.0.0.1"}
    if log_level is not None:
        env["RECEIPTCORE_LOG_LEVEL"] = log_level
    return env


def settings_for(env: dict[str, str]) -> Any:
    """The Settings a server process builds from ``env`` (plus this process's own environment)."""
    from receiptcore.settings import Settings

    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(clean_environ() | env)
        return Settings(_env_file=None)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def skipped(args: argparse.Namespace) -> set[str]:
    """The row groups left out (``--skip``, ``--no-flood``); an unknown name is an error."""
    names = {name.strip() for name in args.skip.split(",") if name.strip()}
    unknown = names - set(ROW_GROUPS)
    if unknown:
        raise SystemExit(f"--skip: unknown row group(s) {', '.join(sorted(unknown))}; known: {', '.join(ROW_GROUPS)}")
    return names | ({"flood"} if args.no_flood else set())


def scale_sizes(args: argparse.Namespace) -> list[int]:
    """The other store sizes of the scale row."""
    return [int(size) for size in args.scale.split(",") if size.strip()]


def main(argv: list[str] | None = None) -> None:  # noqa: PLR0912, PLR0915 - one run, step by step
    """Seed, serve, measure, report."""
    args = parse_args(argv)
    skip = skipped(args)
    started = time.monotonic()
    scrubbed = sorted(name for name in os.environ if name.startswith("RECEIPTCORE_"))
    for name in scrubbed:
        # the bench measures the embedded defaults, not whatever this shell configures
        del os.environ[name]
    if scrubbed:
        print(f"ignoring {', '.join(scrubbed)} (the bench measures the embedded profile)")
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="receiptcore-bench-"))
    servers: list[ServerProcess] = []
    flood: dict[str, Any] | None = None
    scale: list[dict[str, Any]] = []
    memory: dict[str, float | None] = {}
    reads_backlog: dict[str, Any] | None = None
    backlog: dict[str, Any] | None = None
    try:
        if args.baseline_only:
            seeded = None
        else:
            from _extraction import run_extraction_backlog, run_reads_during_backlog
            from _product import FLOOD_CONNECTIONS, run_login_flood, run_product_rows, run_upload_rows
            from _seed import seed_store

            print(f"seeding {args.receipts:,} receipts into {workdir / 'data'} ...", flush=True)
            seeded = seed_store(workdir / "data", args.receipts, FLOOD_CONNECTIONS, cache=args.data_cache)
            print(f"  seeded in {seeded.seconds:.1f} s{' (from the cache)' if seeded.cached else ''}", flush=True)
        env = server_env(workdir / "data", args.log_level)
        for target in (*GRANIAN_TARGETS, "uvicorn"):
            servers.append(ServerProcess.start(target, workdir / f"{target}.log", env))
        by_name = {server.target: server for server in servers}
        print(f"measuring: {args.concurrency} connections, {args.warmup:g} s warm-up, {args.duration:g} s per route")
        # which granian process count serves the bare GET fastest here: that one is the baseline
        trial = {
            t: measure(f"baseline {t} GET (trial)", by_name[t], args, "GET", ["/baseline"]) for t in GRANIAN_TARGETS
        }
        fastest = max(trial, key=lambda t: trial[t]["rps"])
        for target in GRANIAN_TARGETS:
            if target != fastest:
                by_name.pop(target).stop()
        baselines = {"granian": {"before": {}, "after": {}}, "uvicorn": {"before": {}, "after": {}}}
        baselines["granian"]["before"] = measure_baseline(by_name[fastest], args, "before")
        baselines["uvicorn"]["before"] = measure_baseline(by_name["uvicorn"], args, "before")
        product_results: list[dict[str, Any]] = []
        if seeded is not None:
            product = ServerProcess.start("product", workdir / "product.log", env)
            servers.append(product)
            if "http" not in skip:
                product_results = run_product_rows(product, seeded, args, measure)
            memory["product after the read rows"] = product.rss_mib()
            if "upload" not in skip:
                product_results += run_upload_rows(product, seeded, args, measure, workdir)
            if "flood" not in skip:
                flood = run_login_flood(product, seeded, args)
            memory["product"] = product.rss_mib()
            memory["product peak"] = product.peak_rss_mib()
            product.stop()
        baselines["granian"]["after"] = measure_baseline(by_name[fastest], args, "after")
        baselines["uvicorn"]["after"] = measure_baseline(by_name["uvicorn"], args, "after")
        memory |= {name: server.rss_mib() for name, server in by_name.items()}
        for server in list(by_name.values()):
            server.stop()  # the baselines are done; the rows below measure the product against itself
        if seeded is not None and "reads-during-backlog" not in skip:
            reads_backlog = run_reads_during_backlog(workdir, args, measure, lambda d: server_env(d, args.log_level))
        if seeded is not None and "backlog" not in skip:
            print("extraction backlog: receiptcore worker --once over the development receipts", flush=True)
            backlog = run_extraction_backlog(workdir, args)
        if seeded is not None and "scale" not in skip:
            scale = run_scale(args, workdir, seeded, product_results)
        load_after = os.getloadavg()
    finally:
        for server in servers:
            server.stop()
        if args.keep_data:
            print(f"data and server logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if reads_backlog is not None:
        product_results += [reads_backlog["idle"], reads_backlog["during"]]
        product_results += [reads_backlog["split"]["idle"], reads_backlog["split"]["during"]]
    rows = build_rows(product_results, baselines)
    report = {
        "environment": environment(),
        "server": {**server_description(settings_for(env)), "processes": 1, "app_worker": "off"},
        "granian_trial": {t: r["rps"] for t, r in trial.items()},
        "granian_baseline": fastest,
        "load": {
            "client": args.client,
            "concurrency": args.concurrency,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
        },
        "receipts_seeded": 0 if seeded is None else args.receipts,
        "baselines": baselines,
        "rows": rows,
        "login_flood": flood,
        "reads_during_backlog": reads_backlog,
        "extraction_backlog": backlog,
        "scale": scale,
        "server_rss_mib": memory,
        # other work on the machine skews every figure; the 1-minute load average shows whether there was any
        "load_average_1m": {"before": load_before[0], "after": load_after[0]},
        "total_seconds": time.monotonic() - started,
    }
    print()
    trials = ", ".join(f"{t} {r['rps']:.0f} req/s" for t, r in trial.items())
    print(f"granian trial (bare GET): {trials}; baseline = {fastest}")
    print(render_table(rows, baselines))
    if flood is not None:
        print()
        print(render_flood(flood))
    if backlog is not None:
        print()
        print(render_backlog(backlog))
    if scale:
        print()
        print(render_scale(scale))
    print()
    print(render_targets(report))
    rss = ", ".join(f"{name} {mib:.0f} MiB" for name, mib in memory.items() if mib is not None)
    print(
        f"Server memory (RSS): {rss}. 1-minute load average before/after: "
        f"{load_before[0]:.1f} / {load_after[0]:.1f} on {os.cpu_count()} CPUs."
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {args.out} in {report['total_seconds']:.0f} s total")


def run_scale(
    args: argparse.Namespace, workdir: Path, seeded: Any, product_results: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The filtered listing at the other store sizes (each its own seeded data dir and product server)."""
    from _product import run_listing_only
    from _seed import seed_store

    main_rows = [r for r in product_results if r.get("key") == "list"]
    entries = [{"receipts": args.receipts, **{k: row[k] for k in ("rps", "p50_ms", "p99_ms")}} for row in main_rows]
    for size in scale_sizes(args):
        data = workdir / f"data-{size}"
        print(f"seeding {size:,} receipts for the scale row ...", end="", flush=True)
        other = seed_store(data, size, cache=args.data_cache)
        print(f" {other.seconds:.0f} s{' (from the cache)' if other.cached else ''}", flush=True)
        server = ServerProcess.start("product", workdir / f"product-{size}.log", server_env(data, args.log_level))
        try:
            result = run_listing_only(server, other, args, measure, f"GET /api/receipts (filtered) at {size:,}")
        finally:
            server.stop()
            shutil.rmtree(data, ignore_errors=True)  # a 1M copy is gigabytes
        entries.append({"receipts": size, **{k: result[k] for k in ("rps", "p50_ms", "p99_ms")}})
    del seeded
    return sorted(entries, key=lambda entry: entry["receipts"])


if __name__ == "__main__":
    main()
