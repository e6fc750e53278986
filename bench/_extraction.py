"""The rows where the extraction worker runs: reads during a backlog, and the backlog's own throughput.

- **Reads while the worker extracts a backlog.** The product served as ``make run`` serves it (``receiptcore
  serve``, worker on) over a seeded store in which nothing waits for extraction; ``GET /api/receipts/{id}`` is
  measured once the worker has loaded its models (idle), then again right after ``BACKLOG`` real receipts have
  been uploaded, while the worker extracts them. The report gives how many were still waiting at the end, so a
  backlog that ran dry during the measurement shows. The same again with the worker in its own process (``serve
  --no-worker`` + ``receiptcore worker`` at nice 10), for comparison.
- **Extraction backlog.** Every receipt of the development set (``/work/shared/data/receipts``: 150 real scans
  and photos) stored as pending in a fresh data dir, then ``receiptcore worker --once`` drains it, once with
  ``RECEIPTCORE_WORKER_CONCURRENCY=1`` and once with the settings' default. Receipts per minute come from the
  stored extraction attempts (first start to last finish: the model loading before the first claim is not
  counted, the warm-up is); the worker's peak RSS and CPU time from ``wait4`` on its process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from _seed import PASSWORD, seed_store
from _servers import ServerProcess, clean_environ

BACKLOG = 100
# where the development receipts are, first match wins (the issue's ../shared/data/receipts from the main checkout)
RECEIPT_DIRS = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "receipts",
    Path("/work/shared/data/receipts"),
)
WARM_TIMEOUT_S = 180.0

Measure = Callable[..., dict[str, Any]]


def development_receipts(folder: Path | None) -> list[Path]:
    """The development set's images in a fixed order (both subsets interleaved, so any prefix mixes them)."""
    candidates = [folder] if folder is not None else list(RECEIPT_DIRS)
    for candidate in candidates:
        if candidate.is_dir():
            subsets = [sorted(sub.glob("*.jpg")) for sub in sorted(p for p in candidate.iterdir() if p.is_dir())]
            mixed: list[Path] = []
            for index in range(max((len(s) for s in subsets), default=0)):
                mixed += [subset[index] for subset in subsets if index < len(subset)]
            if mixed:
                return mixed
    return []


def _login(base_url: str, email: str) -> dict[str, str]:
    response = httpx.post(base_url + "/auth/login", json={"email": email, "password": PASSWORD}, timeout=60)
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def upload_files(base_url: str, auth: dict[str, str], files: list[Path], per_request: int = 10) -> int:
    """POST ``files`` to ``/api/receipts`` (``per_request`` files a request); returns how many were created."""
    created = 0
    with httpx.Client(base_url=base_url, headers=auth, timeout=120) as client:
        for start in range(0, len(files), per_request):
            batch = files[start : start + per_request]
            parts = [("file", (path.name, path.read_bytes(), "image/jpeg")) for path in batch]
            response = client.post("/api/receipts", files=parts)
            if response.status_code not in (200, 202):
                raise RuntimeError(f"uploading the backlog answered {response.status_code}: {response.text[:300]}")
            created += sum(1 for item in response.json()["receipts"] if not item.get("duplicate"))
    return created


def _waiting(base_url: str, auth: dict[str, str]) -> int:
    """Receipts of the caller still pending or being extracted (at most 100 + 100 counted)."""
    total = 0
    with httpx.Client(base_url=base_url, headers=auth, timeout=60) as client:
        for status in ("pending", "processing"):
            response = client.get("/api/receipts", params={"status": status, "limit": "100"})
            response.raise_for_status()
            total += len(response.json()["items"])
    return total


def _wait_for_warm(log_path: Path, timeout_s: float) -> float | None:
    """Seconds until the worker logged the end of its warm-up, or None if it did not within ``timeout_s``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        if "extractor warmed up" in text or "extractor warm-up failed" in text:
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def run_reads_during_backlog(
    workdir: Path, args: Any, measure: Measure, env_for: Callable[[Path], dict[str, str]]
) -> dict[str, Any] | None:
    """The reads-while-extracting row (see the module docstring); None when the development set is missing.

    Measured twice: as ``make run`` serves (the worker inside ``serve``: the row the issue's target is about), and
    split, ``serve --no-worker`` beside a ``receiptcore worker`` process at ``nice 10`` on the same data dir (the
    documented multi-process setup), which shows how much of the slow-down is the one process sharing its event
    loop and interpreter with OCR.
    """
    files = development_receipts(args.receipts_dir)[:BACKLOG]
    if not files:
        print("  (no development receipts found: reads-during-backlog row skipped)")
        return None
    print(f"seeding {args.worker_store:,} receipts (none pending) for the worker rows ...", flush=True)
    template = workdir / "data-worker"
    seeded = seed_store(template, args.worker_store, quiet=True, cache=args.data_cache)
    result: dict[str, Any] = {}
    for variant in ("in-process", "split"):
        data = workdir / f"data-worker-{variant}"
        shutil.copytree(template, data)  # each variant its own fresh copy: the first one's backlog stays behind
        result[variant] = _reads_beside_worker(
            variant, seeded, files, workdir, args=args, measure=measure, env=env_for(data)
        )
        shutil.rmtree(data, ignore_errors=True)
    main = result["in-process"]
    return main | {"split": result["split"], "store_receipts": args.worker_store}


def _reads_beside_worker(
    variant: str, seeded: Any, files: list[Path], workdir: Path, *, args: Any, measure: Measure, env: dict[str, str]
) -> dict[str, Any]:
    worker: subprocess.Popen[bytes] | None = None
    if variant == "in-process":
        server = ServerProcess.start("product-worker", workdir / "product-worker.log", env)
        warm_log = server.log_path
    else:
        server = ServerProcess.start("product", workdir / "product-split.log", env)
        warm_log = workdir / "worker-split.log"
        with warm_log.open("wb") as log:
            worker = subprocess.Popen(
                ["nice", "-n", "10", sys.executable, "-m", "receiptcore", "worker"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean_environ() | env,
            )
    try:
        warmed = _wait_for_warm(warm_log, WARM_TIMEOUT_S)
        auth = _login(server.base_url, seeded.member_email)
        ids = list(seeded.member_receipt_ids)
        random.Random(13).shuffle(ids)
        paths = [f"/api/receipts/{receipt_id}" for receipt_id in ids[:2000]]
        tag = "worker in serve" if variant == "in-process" else "worker process at nice 10"
        idle = measure(f"GET /api/receipts/{{id}}, {tag}, idle", server, args, "GET", paths, headers=auth)
        created = upload_files(server.base_url, auth, files)
        waiting_before = _waiting(server.base_url, auth)
        during = measure(
            f"GET /api/receipts/{{id}}, {tag}, {created}-receipt backlog", server, args, "GET", paths, headers=auth
        )
        waiting_after = _waiting(server.base_url, auth)
        rss = server.rss_mib()
    finally:
        server.stop()
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=40)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    suffix = "" if variant == "in-process" else "_split"
    return {
        "variant": variant,
        "backlog": created,
        "waiting_before": waiting_before,
        "waiting_after": waiting_after,
        "warm_up_s": warmed,
        "idle": idle | {"pair": "GET", "key": f"worker_idle{suffix}"},
        "during": during | {"pair": "GET", "key": f"worker_backlog{suffix}"},
        "p99_ratio": during["p99_ms"] / idle["p99_ms"],
        "server_rss_mib": rss,
    }


async def _store_pending(data_dir: Path, owner_id: str, files: list[Path]) -> list[str]:
    """Store ``files`` as pending receipts of ``owner_id`` through ``ReceiptService.upload`` (no server)."""
    from receiptcore.domain.policy import Principal
    from receiptcore.domain.users import MEMBER, PERMISSIONS
    from receiptcore.entrypoints.container import build_container, close_container
    from receiptcore.services.receipts import Upload
    from receiptcore.settings import Settings

    container = build_container(Settings(_env_file=None, data_dir=data_dir))
    try:
        principal = Principal(user_id=owner_id, roles=frozenset({MEMBER}), permissions=PERMISSIONS)
        ids = []
        service = container.receipt_service()
        for path in files:
            outcomes = await service.upload(principal, [Upload(content=path.read_bytes(), filename=path.name)])
            ids += [outcome.receipt.id for outcome in outcomes]
        return ids
    finally:
        await close_container(container)


async def _attempt_window(data_dir: Path, ids: list[str]) -> dict[str, Any]:
    """From the stored receipts: first attempt start, last attempt finish, and the statuses reached."""
    from receiptcore.domain.policy import Scope
    from receiptcore.entrypoints.container import build_container, close_container
    from receiptcore.settings import Settings

    container = build_container(Settings(_env_file=None, data_dir=data_dir))
    try:
        store = container.receipt_store()
        starts: list[dt.datetime] = []
        ends: list[dt.datetime] = []
        statuses: dict[str, int] = {}
        for receipt_id in ids:
            receipt = await store.get(receipt_id, Scope.everyone())
            statuses[receipt.status.value] = statuses.get(receipt.status.value, 0) + 1
            for attempt in receipt.extraction_attempts:
                starts.append(attempt.started_at)
                if attempt.finished_at is not None:
                    ends.append(attempt.finished_at)
        window = (max(ends) - min(starts)).total_seconds() if starts and ends else float("nan")
        return {"window_s": window, "statuses": statuses, "attempts": len(starts)}
    finally:
        await close_container(container)


def _drain(data_dir: Path, concurrency: int | None, log_path: Path) -> dict[str, Any]:
    """``receiptcore worker --once`` on ``data_dir``; wall time, CPU time and peak RSS of that process."""
    env = clean_environ() | {"RECEIPTCORE_DATA_DIR": str(data_dir)}
    if concurrency is not None:
        env["RECEIPTCORE_WORKER_CONCURRENCY"] = str(concurrency)
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "receiptcore", "worker", "--once"], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if process.returncode != 0:
        raise RuntimeError(f"the worker exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall_s": wall, "cpu_s": cpu, "cpu_share": cpu / wall, "peak_rss_mib": usage.ru_maxrss / 1024}


def default_worker_concurrency() -> int:
    """The worker concurrency a process gets from the settings' default (no variable set)."""
    from receiptcore.settings import Settings

    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(clean_environ())
        return int(Settings(_env_file=None).worker_concurrency)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_extraction_backlog(workdir: Path, args: Any) -> dict[str, Any] | None:
    """The extraction-backlog row (see the module docstring); None when the development set is missing."""
    files = development_receipts(args.receipts_dir)[: args.backlog]
    if not files:
        print("  (no development receipts found: extraction-backlog row skipped)")
        return None
    template = workdir / "data-backlog"
    owner = seed_store(template, 0).member_id
    ids = asyncio.run(_store_pending(template, owner, files))
    default = default_worker_concurrency()
    runs: dict[str, Any] = {}
    for label, concurrency in (("one at a time", 1), (f"default ({default})", None)):
        data = workdir / f"data-backlog-{concurrency or 'default'}"
        shutil.copytree(template, data)
        print(f"  {f'extraction backlog, {label}':<44}", end="", flush=True)
        figures = _drain(data, concurrency, workdir / f"worker-{concurrency or 'default'}.log")
        figures |= asyncio.run(_attempt_window(data, ids))
        figures["concurrency"] = concurrency or default
        figures["receipts_per_minute"] = len(ids) / figures["window_s"] * 60
        runs[label] = figures
        print(
            f"{figures['receipts_per_minute']:9.1f} receipts/min  CPU {figures['cpu_share']:.0%}  "
            f"peak RSS {figures['peak_rss_mib']:.0f} MiB  {figures['statuses']}"
        )
        shutil.rmtree(data, ignore_errors=True)
    one, many = runs["one at a time"], runs[f"default ({default})"]
    return {
        "receipts": len(ids),
        "default_concurrency": default,
        "runs": runs,
        "speedup": many["receipts_per_minute"] / one["receipts_per_minute"],
    }
