"""The product routes the benchmark drives, and a check that each answers 2xx before it is measured."""

from __future__ import annotations

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
        measure("GET /auth/me", server, args, "GET", ["/auth/me"], headers=auth) | {"pair": "GET"},
        measure("GET /api/receipts/{id}", server, args, "GET", receipt_paths, headers=auth) | {"pair": "GET"},
        measure("GET /api/receipts (filtered, 50/page)", server, args, "GET", list_paths, headers=auth)
        | {"pair": "GET", "items_per_page": list_counts},
        measure("GET /api/receipts?q= (text search)", server, args, "GET", search_paths, headers=auth)
        | {"pair": "GET", "items_per_page": search_counts},
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
        | {"pair": "POST"}
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
