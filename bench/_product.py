"""The product routes the benchmark drives, and a check that each answers 2xx before it is measured."""

from __future__ import annotations

import random
from collections.abc import Callable
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
    credentials = {"email": seeded.member_email, "password": seeded.password}
    results.append(
        measure("POST /auth/login (Argon2id)", server, args, "POST", ["/auth/login"], json=credentials)
        | {"pair": "POST"}
    )
    return results
