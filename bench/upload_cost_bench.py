"""CPU per upload through the product's ASGI app, in process: ``POST /api/receipts`` with one ~300 KB JPEG.

The same request as the upload row of ``make bench`` (``bench/_product.py``: the deterministic till-slip JPEG
made unique per request by a comment segment, one multipart part named ``file``), driven straight into
``create_app(container)`` on the embedded profile (SQLite + files under a temporary data dir on the same disk as
``/tmp``, seeded by ``bench/_seed.py``), the body delivered in chunks the way an ASGI server hands them over.
The figure is this process's CPU time (``time.process_time``: every thread, the SQLite and inspection threads
included) per upload, which holds on a busy machine where uploads per second do not; the wall time per upload
is shown too (it includes the fsyncs, which cost waiting, not CPU). ``--profile out.prof`` writes a cProfile of
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
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._loadgen import BOUNDARY, multipart_body, unique_jpeg
from bench._product import bench_jpeg
from bench._seed import seed_store


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
    tokens = [
        (await container.auth_service().login(email, seeded.password)).access_token
        for email in seeded.flood_emails[: args.concurrency]
    ]
    jpeg = bench_jpeg()
    nonce = f"{time.time_ns():x}"
    counter = 0

    def body() -> bytes:
        nonlocal counter
        counter += 1
        return multipart_body(unique_jpeg(jpeg, f"{nonce}-{counter}"), "file", "till-slip.jpg", "image/jpeg")

    async def lane(token: str, count: int) -> list[int]:
        return [await _upload(app, token, body(), args.chunk) for _ in range(count)]

    async def run(total: int) -> list[int]:
        per_lane = max(1, total // len(tokens))
        results = await asyncio.gather(*(lane(token, per_lane) for token in tokens))
        return [status for statuses in results for status in statuses]

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
    cpu, wall = time.process_time(), time.perf_counter()
    statuses = await run(args.uploads)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
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
        "jpeg_bytes": len(jpeg),
        "cpu_ms": cpu / done * 1e3,
        "wall_ms": wall / done * 1e3,
        "uploads_per_cpu_second": done / cpu,
        "trims": trimmer.trims if trimmer is not None else None,
        "rss_mib": _rss_mib(),
    }


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
            result = asyncio.run(main(arguments, seeded_dir, seeded_store, devnull))
    print(
        f"{result['uploads']} uploads of {result['jpeg_bytes']} bytes (statuses {result['statuses']}, "
        f"concurrency {arguments.concurrency}, {arguments.chunk}-byte chunks): "
        f"{result['cpu_ms']:.2f} ms CPU per upload ({result['uploads_per_cpu_second']:.0f} per CPU-second), "
        f"{result['wall_ms']:.2f} ms wall per upload; RSS {result['rss_mib']:.0f} MiB at the end"
        + (f", {result['trims']} heap trims" if result["trims"] is not None else "")
    )
