"""The API process's memory step by step, as ``make bench``'s memory row sees it, with one environment or another.

The product (``receiptcore serve --no-worker``, as in ``make bench``) on a fresh copy of the seeded store. After
each step: its resident memory from ``/proc/<pid>/status`` (``VmRSS``; ``RssAnon`` = the heap, ``RssFile`` =
mapped code and files), the peak so far (``VmHWM``) and the highest ``VmRSS`` sampled (every 50 ms) during the
step. The steps are ``make bench``'s rows in its order: the read rows (``/auth/me``, one receipt, list, search,
16 logins), the two upload rows, the login flood; then a few idle seconds (what stays). ``--variant`` (repeatable)
is one run with those ``NAME=VALUE`` environment variables for the server, e.g. ``MALLOC_ARENA_MAX=8``; each run
is a new server on a new copy of the store.

    PYTHONPATH=$PWD/src .venv/bin/python bench/memory_bench.py --receipts 100000 --data-cache /tmp/cache
    PYTHONPATH=$PWD/src .venv/bin/python bench/memory_bench.py --variant '' --variant 'MALLOC_ARENA_MAX=8'
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _product import FLOOD_CONNECTIONS, run_login_flood, run_product_rows, run_upload_rows
from _seed import seed_store
from _servers import ServerProcess
from http_bench import measure, server_env

FIELDS = ("VmRSS", "RssAnon", "RssFile", "VmHWM")
SHOWN = (*FIELDS, "peak in step")


def memory(pid: int) -> dict[str, float]:
    """The ``FIELDS`` of ``/proc/<pid>/status`` in MiB."""
    values: dict[str, float] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in FIELDS:
                values[name] = int(rest.split()[0]) / 1024
    return values


class _Sampler:
    """Samples the server's ``VmRSS`` every 50 ms in a thread: the highest value seen during each step."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.step = "started"
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            with contextlib.suppress(OSError, KeyError):
                rss = memory(self.pid)["VmRSS"]
                self.peaks[self.step] = max(rss, self.peaks.get(self.step, 0.0))


def run_variant(variant: str, args: argparse.Namespace, seeded_dir: Path, seeded: Any, workdir: Path) -> dict[str, Any]:
    """One server with the variant's environment through every step; the memory after each, and its peak."""
    extra = dict(item.split("=", 1) for item in variant.split(",") if item.strip())
    data_dir = workdir / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(seeded_dir, data_dir)
    server = ServerProcess.start("product", workdir / "product.log", server_env(data_dir, None) | extra)
    steps: list[tuple[str, dict[str, float]]] = [("started", memory(server.pid))]
    try:
        with _Sampler(server.pid) as sampler:

            def measured(label: str, *rest: Any, **extra: Any) -> dict[str, Any]:
                sampler.step = label
                result = measure(label, *rest, **extra)
                steps.append((label, memory(server.pid)))
                return result

            run_product_rows(server, seeded, args, measured)
            run_upload_rows(server, seeded, args, measured, workdir)
            sampler.step = "login flood"
            run_login_flood(server, seeded, args)
            steps.append(("login flood", memory(server.pid)))
            sampler.step = f"idle {args.idle:g} s"
            time.sleep(args.idle)
            steps.append((sampler.step, memory(server.pid)))
        peaks = sampler.peaks
        mappings = largest_mappings(server.pid) if args.smaps else []
    finally:
        server.stop()
    shown = [(step, values | {"peak in step": peaks.get(step, 0.0)}) for step, values in steps]
    return {"variant": variant or "(as shipped)", "steps": shown, "mappings": mappings}


def largest_mappings(pid: int, count: int = 12) -> list[tuple[float, float, str]]:
    """The mappings holding the most resident memory: (Rss MiB, size MiB, what), from ``/proc/<pid>/smaps``."""
    found: list[tuple[float, float, str]] = []
    name, size = "", 0.0
    with open(f"/proc/{pid}/smaps", encoding="utf-8", errors="replace") as smaps:
        for line in smaps:
            fields = line.split()
            if not fields[0].endswith(":"):  # a mapping's header line: range, perms, offset, dev, inode, [path]
                name = f"{fields[1]} {fields[5] if len(fields) > 5 else '(anonymous)'}"
                start, end = (int(x, 16) for x in fields[0].split("-"))
                size = (end - start) / 2**20
            elif fields[0] == "Rss:":
                found.append((int(fields[1]) / 1024, size, name))
    return sorted(found, reverse=True)[:count]


def main() -> None:
    """Seed once, run every variant, print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--receipts", type=int, default=100_000, help="receipts in the seeded store")
    parser.add_argument("--data-cache", type=Path, default=None, help="seeded stores kept here (http_bench's)")
    parser.add_argument(
        "--variant",
        action="append",
        default=None,
        help="comma-separated NAME=VALUE environment of one run ('' = as shipped); repeatable",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds idle after the last step")
    parser.add_argument("--client", default="raw")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    parser.add_argument("--smaps", action="store_true", help="print the largest mappings at the end of each run")
    args = parser.parse_args()
    variants = args.variant or [""]
    workdir = Path(tempfile.mkdtemp(prefix="receiptcore-memory-"))
    try:
        seeded = seed_store(workdir / "seeded", args.receipts, FLOOD_CONNECTIONS, cache=args.data_cache)
        results = [run_variant(variant, args, workdir / "seeded", seeded, workdir) for variant in variants]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for result in results:
        print(f"\n{result['variant']} ({args.receipts:,} receipts): MiB")
        print(f"| after | {' | '.join(SHOWN)} |")
        print(f"|---|{'---|' * len(SHOWN)}")
        for step, values in result["steps"]:
            print(f"| {step} | {' | '.join(f'{values.get(name, 0):.0f}' for name in SHOWN)} |")
        for rss, size, what in result["mappings"]:
            print(f"  {rss:7.1f} MiB resident of {size:8.1f} MiB  {what}")
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
