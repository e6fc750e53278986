"""The product routes the benchmark drives, and a check that each answers 2xx before it is measured."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from _seed import Seeded
from _servers import ServerProcess

# Filtered listings a person's receipt page sends: each combines several filters with a sort, 50 per page.
LIST_FILTERS: list[dict[str, str]] = [
    {"status": "extracted", "date_from": "2024-01-01", "date_to": "2024-12-31", "sort": "-purchase_date"},
    {"min_total": "50", "max_total": "200", "sort": "-total"},
    {"category": "groceries", "date_from": "2023-06-01", "sort": "-created_at"},
    {"tag": "work", "status": "confirmed", "sort": "purchase_date"},
]
# Text search over merchant, items and raw text: a scan rather than an index lookup, so it has its own row.
SEARCH_TERMS = ["tesco", "coffee", "nasi", "shell", "pharmacy", "ikea"]

Measure = Callable[..., dict[str, Any]]
BENCH_DIR = Path(__file__).resolve().parent
FLOOD_CONNECTIONS = 64
FLOOD_READ_CONNECTIONS = 4


def login(base_url: str, seeded: Seeded) -> str:
    """Log the member in once (httpx, like any client) and return the access token."""
    response = httpx.post(
        base_url + "/auth/login", json={"email": seeded.member_email, "password": seeded.password}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def check_paths(base_url: str, headers: dict[str, str], paths: list[str], *, items: bool = False) -> list[int]:
    """GET each distinct path once and fail unless it answers 2xx; returns the item counts of listings."""
    counts = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for path in dict.fromkeys(paths):
            response = client.get(path)
            if not response.is_success:
                raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text[:300]}")
            if items:
                counts.append(len(response.json()["items"]))
    return counts


def run_product_rows(server: ServerProcess, seeded: Seeded, args: Any, measure: Measure) -> list[dict[str, Any]]:
    """Measure every product route; each result carries the baseline it pairs with (GET or POST)."""
    token = login(server.base_url, seeded)
    auth = {"Authorization": f"Bearer {token}"}
    ids = list(seeded.member_receipt_ids)
    random.Random(7).shuffle(ids)
    receipt_paths = [f"/api/receipts/{receipt_id}" for receipt_id in ids[:2000]]
    list_paths = [f"/api/receipts?{urlencode({**query, 'limit': '50'})}" for query in LIST_FILTERS]
    search_paths = [f"/api/receipts?{urlencode({'q': term, 'limit': '50'})}" for term in SEARCH_TERMS]

    check_paths(server.base_url, auth, ["/auth/me", *receipt_paths[:50]])
    list_counts = check_paths(server.base_url, auth, list_paths, items=True)
    search_counts = check_paths(server.base_url, auth, search_paths, items=True)

    results = [
        measure("GET /auth/me", server, args, "GET", ["/auth/me"], headers=auth) | {"pair": "GET", "key": "me"},
        measure("GET /api/receipts/{id}", server, args, "GET", receipt_paths, headers=auth)
        | {"pair": "GET", "key": "one"},
        measure("GET /api/receipts (filtered, 50/page)", server, args, "GET", list_paths, headers=auth)
        | {"pair": "GET", "key": "list", "items_per_page": list_counts},
        measure("GET /api/receipts?q= (text search)", server, args, "GET", search_paths, headers=auth)
        | {"pair": "GET", "key": "search", "items_per_page": search_counts},
    ]
    # one account per connection, each from its own address: 16 people signing in, not one person 16 times
    # (the login throttle counts a try until it ends, so 16 at once on one account would be throttled)
    people = [{"email": email, "password": seeded.password} for email in seeded.flood_emails]
    results.append(
        measure(
            "POST /auth/login (Argon2id, OWASP floor)",
            server,
            args,
            "POST",
            ["/auth/login"],
            json_per_connection=people[: args.concurrency],
            distinct_clients=True,
        )
        | {"pair": "POST", "key": "login"}
    )
    return results


def _job(server: ServerProcess, args: Any, **job: Any) -> dict[str, Any]:
    return {
        "base_url": server.base_url,
        "server_pid": server.pid,
        "warmup_s": args.warmup,
        "duration_s": args.duration,
        "client": "raw",
        **job,
    }


def _start_load(job: dict[str, Any]) -> subprocess.Popen[str]:
    """Start a load generator on ``job`` without waiting for it (two run side by side in the flood row)."""
    with tempfile.TemporaryFile("w+") as spec:
        spec.write(json.dumps(job))
        spec.seek(0)
        return subprocess.Popen(
            [sys.executable, str(BENCH_DIR / "_loadgen.py")],
            stdin=spec,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def _finish_load(load: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, err = load.communicate(timeout=timeout)
    if load.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{err[-4000:]}")
    return dict(json.loads(out))


def run_login_flood(server: ServerProcess, seeded: Seeded, args: Any) -> dict[str, Any]:
    """64 connections logging in as 64 people from 64 addresses, and a few reading receipts beside them.

    The reads are measured alone first (idle), then at the same time as the flood.
    """
    token = login(server.base_url, seeded)
    auth = {"Authorization": f"Bearer {token}"}
    ids = list(seeded.member_receipt_ids)
    random.Random(11).shuffle(ids)
    reads = [f"/api/receipts/{receipt_id}" for receipt_id in ids[:2000]]
    read_job = _job(server, args, method="GET", paths=reads, headers=auth, concurrency=FLOOD_READ_CONNECTIONS)
    timeout = args.warmup + args.duration + 120
    print(f"  {'GET /api/receipts/{id} idle (4 conns)':<44}", end="", flush=True)
    idle = _finish_load(_start_load(read_job), timeout)
    print(f"{idle['rps']:9.1f} req/s  p99 {idle['p99_ms']:8.2f} ms")
    people = [{"email": email, "password": seeded.password} for email in seeded.flood_emails]
    flood_job = _job(
        server,
        args,
        method="POST",
        paths=["/auth/login"],
        concurrency=FLOOD_CONNECTIONS,
        json_per_connection=people,
        distinct_clients=True,
    )
    print(f"  {'login flood (64 conns) + reads (4 conns)':<44}", end="", flush=True)
    flood_load, read_load = _start_load(flood_job), _start_load(read_job)
    flood, during = _finish_load(flood_load, timeout), _finish_load(read_load, timeout)
    print(f"{flood['rps']:9.1f} logins answered/s  {flood['statuses']}  read p99 {during['p99_ms']:.2f} ms")
    return {
        "connections": FLOOD_CONNECTIONS,
        "read_connections": FLOOD_READ_CONNECTIONS,
        "login": flood,
        "read_idle": idle,
        "read_during": during,
    }


def run_listing_only(server: ServerProcess, seeded: Seeded, args: Any, measure: Measure, label: str) -> dict[str, Any]:
    """The filtered 50/page listing row alone (the scale row measures it at several store sizes)."""
    token = login(server.base_url, seeded)
    auth = {"Authorization": f"Bearer {token}"}
    list_paths = [f"/api/receipts?{urlencode({**query, 'limit': '50'})}" for query in LIST_FILTERS]
    counts = check_paths(server.base_url, auth, list_paths, items=True)
    return measure(label, server, args, "GET", list_paths, headers=auth) | {"pair": "GET", "items_per_page": counts}


UPLOAD_CONNECTIONS_PER_USER = 1
UPLOAD_TARGET_RATE = 150.0  # uploads/s the open-loop run offers (the throughput target)
UPLOAD_JPEG_BYTES = 300 * 1024


def bench_jpeg(target_bytes: int = UPLOAD_JPEG_BYTES) -> bytes:
    """A deterministic receipt-like JPEG of about ``target_bytes`` (a phone photo of a till slip).

    Grey paper with a fixed pseudo-random grain (what makes a photo weigh 300 KB rather than 30), dark text
    lines; the JPEG quality is searched so the file lands within a few percent of the target.
    """
    from PIL import Image, ImageDraw

    rng = random.Random(300)
    width, height = 1000, 1800
    paper = bytes(200 + value * 55 // 255 for value in range(256))  # any byte -> a light grey 200..255
    grain = rng.randbytes(width * height).translate(paper)
    image = Image.frombytes("L", (width, height), grain)
    draw = ImageDraw.Draw(image)
    for row in range(60):
        words = " ".join(rng.choice(["TOTAL", "RM", "12.90", "MILK", "QTY", "1", "x", "CASH"]) for _ in range(8))
        draw.text((60, 40 + row * 28), words, fill=rng.randrange(0, 60))
    best = b""
    low, high = 5, 95
    while low <= high:
        quality = (low + high) // 2
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        data = buffer.getvalue()
        if not best or abs(len(data) - target_bytes) < abs(len(best) - target_bytes):
            best = data
        if len(data) < target_bytes:
            low = quality + 1
        else:
            high = quality - 1
    return best


def run_upload_rows(
    server: ServerProcess, seeded: Seeded, args: Any, measure: Measure, workdir: Path
) -> list[dict[str, Any]]:
    """``POST /api/receipts`` with one ~300 KB JPEG per request, every upload a new receipt.

    One user per connection (the first of the flood accounts): a user has ``max_concurrent_uploads_per_user``
    (4) upload slots on an instance, so 16 connections of one user would mostly measure that limit's 429. The
    instance's own limit (``max_concurrent_uploads``, 16) is what 16 connections meet at worst. Two runs: the
    closed loop (as many uploads as the server acknowledges) and an open loop offering 150 uploads/s, whose p99
    is the acknowledgement latency at the target rate. Every 429 is counted and reported.
    """
    jpeg = workdir / "upload.jpg"
    jpeg.write_bytes(bench_jpeg())
    people = seeded.flood_emails[: args.concurrency]
    if len(people) < args.concurrency:
        raise RuntimeError(f"the upload row needs {args.concurrency} accounts, {len(people)} were seeded")
    tokens = []
    for email in people:
        response = httpx.post(
            server.base_url + "/auth/login", json={"email": email, "password": seeded.password}, timeout=60
        )
        response.raise_for_status()
        tokens.append({"Authorization": f"Bearer {response.json()['access_token']}"})
    upload = {"file": str(jpeg), "filename": "till-slip.jpg"}
    size = len(jpeg.read_bytes())
    common: dict[str, Any] = {"headers_per_connection": tokens, "upload": upload}
    closed = measure(f"POST /api/receipts ({size // 1024} KB JPEG)", server, args, "POST", ["/api/receipts"], **common)
    opened = measure(
        f"POST /api/receipts at {UPLOAD_TARGET_RATE:.0f}/s offered",
        server,
        args,
        "POST",
        ["/api/receipts"],
        rate=UPLOAD_TARGET_RATE,
        **common,
    )
    extra = {"pair": "POST", "jpeg_bytes": size, "users": len(tokens)}
    return [
        closed | extra | {"key": "upload"},
        opened | extra | {"key": "upload_rate", "offered_rps": UPLOAD_TARGET_RATE},
    ]
