"""The login-flood row of ``make bench`` alone, for several configurations of the product in alternating rounds.

    .venv/bin/python bench/flood_bench.py --rounds 3 --config default \
        --config nice10:RECEIPTCORE_PASSWORD_HASH_THREAD_NICENESS=10

Each run serves a fresh copy of one seeded store (``--receipts``, 64 flood accounts; ``--data-cache`` keeps it
between runs) with the product exactly as ``make bench`` starts it, plus the configuration's ``RECEIPTCORE_*``
settings, and runs the bench's own flood row (``_product.run_login_flood``: the reads alone, then the same reads
beside 64 connections logging in). Besides the row's figures it reads, over the flood, the server's CPU by
thread (the event loop's, the rest) and the event loop's run-queue wait per time slice (``/proc/.../schedstat``:
how long the loop waited for a CPU each time it was ready to run). Configurations take turns round by round, so
a machine whose load drifts shifts them alike. Prints one line per run and the medians per configuration.

Settings that decide how the server shares the CPU with itself (the hashing threads' priority or count) are for
a quiet machine: with other work on it, the server's share of the CPU and not its own choices sets the figures.
Not a test: nothing here asserts on numbers. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import _product  # noqa: E402
from _seed import seed_store  # noqa: E402
from _servers import ServerProcess  # noqa: E402


def parse_config(text: str) -> tuple[str, dict[str, str]]:
    """``name[:NAME=VALUE,...]`` into the configuration's name and its ``RECEIPTCORE_*`` settings."""
    name, _, settings = text.partition(":")
    env = dict(item.split("=", 1) for item in settings.split(",") if item)
    if not name or any(not key.startswith("RECEIPTCORE_") for key in env):
        raise SystemExit(f"--config {text!r}: expected name[:RECEIPTCORE_NAME=VALUE,...]")
    return name, env


def _thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of the event loop's thread (the process's main thread) and of all its other threads."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = {"loop": 0.0, "other": 0.0}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # a thread that ended meanwhile
        cpu["loop" if tid == str(pid) else "other"] += (int(fields[11]) + int(fields[12])) / ticks
    return cpu


def _loop_schedstat(pid: int) -> tuple[int, int]:
    """The main thread's run-queue wait (ns) and time slices so far."""
    with open(f"/proc/{pid}/task/{pid}/schedstat", encoding="ascii") as stat:
        _, wait_ns, slices = stat.read().split()[:3]
    return int(wait_ns), int(slices)


def run_once(name: str, env: dict[str, str], args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """One flood row against a fresh copy of the seeded store, with ``env`` added to the server's settings."""
    data = workdir / f"data-{name}"
    seeded = seed_store(data, args.receipts, _product.FLOOD_CONNECTIONS, cache=args.data_cache or workdir / "seeded")
    server_env = {"RECEIPTCORE_DATA_DIR": str(data), "RECEIPTCORE_HOST": "127.0.0.1", **env}
    server = ServerProcess.start("product", workdir / f"product-{name}.log", server_env)
    marks: dict[str, Any] = {}
    start_load, finish_load = _product._start_load, _product._finish_load

    def start(job: dict[str, Any]) -> Any:
        if job["method"] == "POST" and "cpu" not in marks:  # the flood starts
            marks.update(t=time.monotonic(), cpu=_thread_cpu(server.pid), sched=_loop_schedstat(server.pid))
        return start_load(job)

    def finish(load: Any, timeout: float) -> dict[str, Any]:
        result = finish_load(load, timeout)
        if "cpu" in marks and "cpu_end" not in marks:  # the flood's generator is the first to be waited for
            marks.update(t_end=time.monotonic(), cpu_end=_thread_cpu(server.pid), sched_end=_loop_schedstat(server.pid))
        return result

    _product._start_load, _product._finish_load = start, finish
    try:
        flood = _product.run_login_flood(
            server, seeded, types.SimpleNamespace(warmup=args.warmup, duration=args.duration)
        )
    finally:
        _product._start_load, _product._finish_load = start_load, finish_load
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    span = marks["t_end"] - marks["t"]
    waited = marks["sched_end"][0] - marks["sched"][0]
    slices = max(1, marks["sched_end"][1] - marks["sched"][1])
    by_status = flood["login"]["by_status"]
    accepted, refused = by_status.get("200", {}), by_status.get("429", {})
    idle, during = flood["read_idle"]["p99_ms"], flood["read_during"]["p99_ms"]
    return {
        "config": name,
        "load_1m": os.getloadavg()[0],
        "reads_p99_idle_ms": idle,
        "reads_p99_during_ms": during,
        "reads_ratio": during / idle,
        "refused": refused.get("count", 0),
        "refused_p99_ms": refused.get("p99_ms"),
        "accepted": accepted.get("count", 0),
        "accepted_p99_ms": accepted.get("p99_ms"),
        "loop_cpu": (marks["cpu_end"]["loop"] - marks["cpu"]["loop"]) / span,
        "other_threads_cpu": (marks["cpu_end"]["other"] - marks["cpu"]["other"]) / span,
        "loop_wait_us_per_slice": waited / slices / 1000,
    }


def _line(run: dict[str, Any]) -> str:
    return (
        f"{run['config']:<12} load {run['load_1m']:5.1f}  reads p99 {run['reads_p99_idle_ms']:6.2f} -> "
        f"{run['reads_p99_during_ms']:7.2f} ms (x{run['reads_ratio']:.2f})  429: {run['refused']} p99 "
        f"{run['refused_p99_ms'] or 0:.1f} ms  accepted: {run['accepted']} p99 {run['accepted_p99_ms'] or 0:.0f} ms  "
        f"CPU loop {run['loop_cpu']:.2f} other {run['other_threads_cpu']:.2f}  "
        f"loop waits {run['loop_wait_us_per_slice']:.0f} us/slice"
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the rounds, print each run and the medians."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", required=True, help="name[:RECEIPTCORE_NAME=VALUE,...]")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each runs every configuration once")
    parser.add_argument("--receipts", type=int, default=2000, help="receipts seeded into the store")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load before each run")
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds of each run")
    parser.add_argument(
        "--data-cache",
        type=Path,
        default=None,
        help="keep the seeded store here between invocations (default: seeded once per invocation)",
    )
    args = parser.parse_args(argv)
    configs = [parse_config(text) for text in args.config]
    for name in [n for n in os.environ if n.startswith("RECEIPTCORE_")]:
        del os.environ[name]  # the configurations say what differs from the embedded defaults, nothing else
    workdir = Path(tempfile.mkdtemp(prefix="receiptcore-flood-"))
    runs: list[dict[str, Any]] = []
    try:
        for _ in range(args.rounds):
            for name, env in configs:
                runs.append(run_once(name, env, args, workdir))
                print(_line(runs[-1]), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("medians:")
    for name, _ in configs:
        mine = [run for run in runs if run["config"] == name]
        print(
            _line(
                {key: statistics.median(run[key] or 0 for run in mine) for key in mine[0] if key != "config"}
                | {"config": name}
            )
        )


if __name__ == "__main__":
    main()
