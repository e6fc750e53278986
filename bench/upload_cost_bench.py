"""CPU per upload through the product's ASGI app, in process: ``POST /api/receipts`` with one ~300 KB JPEG.

The same request as the upload row of ``make bench`` (``bench/_product.py``: the deterministic till-slip JPEG
made unique per request by a comment segment, one multipart part named ``file``), driven straight into
``create_app(container)`` on the embedded profile (SQLite + files under a temporary data dir on the same disk as
``/tmp``, seeded by ``bench/_seed.py``), the body delivered in chunks the way an ASGI server hands them over.
The figure is this process's CPU time (``time.process_time``: every thread, the SQLite and inspection threads
included) per upload, which holds on a busy machine where uploads per second do not; the wall time per upload
is shown too (it includes the fsyncs, which cost waiting, not CPU), and so are that CPU by kind of thread (the
event loop's, the executor's, SQLite's writer: from ``/proc/self/task``), each upload's latency (p50, p99, max)
and the cycle collector's runs and pauses during the measured uploads. It runs on ``serve``'s own loop (uvloop
when installed) and freezes the start-up heap as ``serve`` does. ``--profile out.prof`` writes a cProfile of
the measured uploads; ``--concurrency N`` keeps N uploads in flight (N users, one each); ``--trim-seconds S``
runs ``serve``'s heap trimmer (``entrypoints/heap.py``) beside them, to see what it costs and returns. Nothing
asserts on the numbers (bench/README.md).

    PYTHONPATH=src .venv/bin/python bench/upload_cost_bench.py --uploads 300
    PYTHONPATH=src .venv/bin/python bench/upload_cost_bench.py --uploads 200 --profile /tmp/upload.prof
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._loadgen import BOUNDARY, multipart_body, unique_jpeg
from bench._product import bench_jpeg
from bench._seed import seed_store

from receiptcore.entrypoints.serve import run_serving


async def _upload(app: Any, token: str, body: bytes, chunk: int) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/receipts",
        "raw_path": b"/api/receipts",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    offset = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal offset
        if offset >= len(body):
            await asyncio.sleep(3600)
        piece = body[offset : offset + chunk]
        offset += len(piece)
        return {"type": "http.request", "body": piece, "more_body": offset < len(body)}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _lifespan(event: str, inbox: asyncio.Queue[Any], outbox: asyncio.Queue[Any]) -> None:
    await inbox.put({"type": f"lifespan.{event}"})
    answer = await asyncio.wait_for(outbox.get(), 30)
    if not answer["type"].endswith(".complete"):
        raise RuntimeError(f"lifespan {event} failed: {answer}")


async def main(args: argparse.Namespace, data_dir: Path, seeded: Any, log: Any) -> dict[str, Any]:
    from receiptcore.entrypoints.container import build_container
    from receiptcore.entrypoints.heap import freeze_startup_heap
    from receiptcore.entrypoints.http.app import create_app
    from receiptcore.entrypoints.logs import configure_logging
    from receiptcore.settings import Settings

    configure_logging("info", "json", log)  # the access log as shipped, in JSON
    settings = Settings(_env_file=None, data_dir=data_dir, worker_enabled=False)  # type: ignore[call-arg]
    container = build_container(settings)
    app = create_app(container)
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    outbox: asyncio.Queue[Any] = asyncio.Queue()
    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    await _lifespan("startup", inbox, outbox)
    # as serve does once the app has started (entrypoints/serve.py): start-up's objects leave the collector's sight
    freeze_startup_heap()
    tokens = [
        (await container.auth_service().login(email, seeded.password)).access_token
        for email in seeded.flood_emails[: args.concurrency]
    ]
    uploads = _Uploads(app, tokens, args.chunk)
    run = uploads.run
    trimmer = None
    if args.trim_seconds > 0:
        from receiptcore.entrypoints.heap import HeapTrimmer

        trimmer = HeapTrimmer(args.trim_seconds)
        trim_task = asyncio.create_task(trimmer.run())
    warm = await run(min(20, args.uploads))
    if set(warm) != {202}:
        raise RuntimeError(f"warm-up uploads answered {sorted(set(warm))}")
    profile = cProfile.Profile() if args.profile else None
    if profile is not None:
        profile.enable()
    threads_before = _thread_cpu()
    uploads.latencies.clear()
    pauses = _GcPauses()
    gc.callbacks.append(pauses)
    cpu, wall = time.process_time(), time.perf_counter()
    statuses = await run(args.uploads)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    threads = _thread_cpu_since(threads_before)
    gc.callbacks.remove(pauses)
    if profile is not None:
        profile.disable()
        profile.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(45)
    if trimmer is not None:
        trim_task.cancel()
    await _lifespan("shutdown", inbox, outbox)
    await task
    done = len(statuses)
    return {
        "uploads": done,
        "statuses": sorted(set(statuses)),
        "jpeg_bytes": len(uploads.jpeg),
        "cpu_ms": cpu / done * 1e3,
        "wall_ms": wall / done * 1e3,
        "uploads_per_cpu_second": done / cpu,
        "trims": trimmer.trims if trimmer is not None else None,
        "rss_mib": _rss_mib(),
        "threads_ms": {name: seconds / done * 1e3 for name, seconds in threads.items()},
        "latency_ms": {q: _quantile(uploads.latencies, float(q[1:]) / 100) * 1e3 for q in ("p50", "p99", "p100")},
        "gc": pauses.summary(),
    }


class _Uploads:
    """Upload requests in ``len(tokens)`` lanes (one user each, one upload at a time), each body unique, each
    upload's time from its first byte to its answer kept in ``latencies``."""

    def __init__(self, app: Any, tokens: list[str], chunk: int) -> None:
        self._app = app
        self._tokens = tokens
        self._chunk = chunk
        self.jpeg = bench_jpeg()
        self._nonce = f"{time.time_ns():x}"
        self._counter = 0
        self.latencies: list[float] = []

    def _body(self) -> bytes:
        self._counter += 1
        unique = unique_jpeg(self.jpeg, f"{self._nonce}-{self._counter}")
        return multipart_body(unique, "file", "till-slip.jpg", "image/jpeg")

    async def _lane(self, token: str, count: int) -> list[int]:
        statuses = []
        for _ in range(count):
            payload = self._body()
            started = time.perf_counter()
            statuses.append(await _upload(self._app, token, payload, self._chunk))
            self.latencies.append(time.perf_counter() - started)
        return statuses

    async def run(self, total: int) -> list[int]:
        """``total`` uploads spread over the lanes; their statuses."""
        per_lane = max(1, total // len(self._tokens))
        results = await asyncio.gather(*(self._lane(token, per_lane) for token in self._tokens))
        return [status for statuses in results for status in statuses]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class _GcPauses:
    """``gc.callbacks`` entry: how many collections of each generation ran, and their time on the loop's thread."""

    def __init__(self) -> None:
        self._started = 0.0
        self.counts = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        generation = info["generation"]
        self.counts[generation] += 1
        self.seconds[generation] += took
        self.longest = max(self.longest, took)

    def summary(self) -> dict[str, Any]:
        return {"counts": self.counts, "ms": [s * 1e3 for s in self.seconds], "longest_ms": self.longest * 1e3}


def _thread_cpu() -> dict[int, tuple[str, float]]:
    """Each thread of this process: its Python name and CPU seconds (user + system) so far, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    found: dict[int, tuple[str, float]] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        name = names.get(int(task.name), stat[stat.index("(") + 1 : stat.rindex(")")])
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / ticks)
    return found


def _thread_cpu_since(before: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per kind of thread (the name without its trailing number) since ``before``."""
    spent: dict[str, float] = {}
    for tid, (name, seconds) in _thread_cpu().items():
        # "asyncio_3" and "Thread-7 (_connection_worker_thread)" are one kind each
        kind = re.sub(r"[-_ ]?\d+", "", name)
        spent[kind] = spent.get(kind, 0.0) + seconds - before.get(tid, (name, 0.0))[1]
    return dict(sorted(spent.items(), key=lambda item: -item[1]))


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=300, help="measured uploads (after 20 of warm-up)")
    parser.add_argument("--receipts", type=int, default=200, help="receipts seeded before the uploads")
    parser.add_argument("--concurrency", type=int, default=1, help="uploads in flight at once (one user each)")
    parser.add_argument("--chunk", type=int, default=65536, help="bytes per ASGI body message")
    parser.add_argument("--profile", default="", help="write a cProfile of the measured uploads here")
    parser.add_argument(
        "--trim-seconds", type=float, default=0.0, help="run serve's heap trimmer at this interval (0: not at all)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _parse()
    with tempfile.TemporaryDirectory(prefix="receiptcore-upload-bench-") as tmp:
        seeded_dir = Path(tmp) / "data"
        seeded_store = seed_store(seeded_dir, arguments.receipts, flood_accounts=max(1, arguments.concurrency))
        with open(os.devnull, "w", encoding="utf-8") as devnull:
            # serve's own loop (uvloop when installed), as the upload row's server runs it
            result = run_serving(main(arguments, seeded_dir, seeded_store, devnull))
    print(
        f"{result['uploads']} uploads of {result['jpeg_bytes']} bytes (statuses {result['statuses']}, "
        f"concurrency {arguments.concurrency}, {arguments.chunk}-byte chunks): "
        f"{result['cpu_ms']:.2f} ms CPU per upload ({result['uploads_per_cpu_second']:.0f} per CPU-second), "
        f"{result['wall_ms']:.2f} ms wall per upload; RSS {result['rss_mib']:.0f} MiB at the end"
        + (f", {result['trims']} heap trims" if result["trims"] is not None else "")
    )
    gc_seen = result["gc"]
    print(
        "latency p50 / p99 / max: "
        + " / ".join(f"{ms:.1f}" for ms in result["latency_ms"].values())
        + f" ms; collections per generation {gc_seen['counts']}, "
        + "/".join(f"{ms:.1f}" for ms in gc_seen["ms"])
        + f" ms in all, longest {gc_seen['longest_ms']:.1f} ms"
    )
    print("CPU per upload by thread: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in result["threads_ms"].items()))
