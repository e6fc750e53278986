"""Another user's receipt is 404 on every receipt route; export and stats simply do not include it.
(Events are covered in test_events_api.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, jpeg


@pytest.fixture
async def foreign(api: Api) -> dict[str, Any]:
    """Alice's extracted receipt, and Bob's headers (Bob has receipts of his own)."""
    _, alice = await api.user()
    _, bob = await api.user()
    receipt = (await api.upload(alice, ("alice.jpg", jpeg()))).json()["receipts"][0]
    mine = (await api.upload(bob, ("bob.jpg", jpeg()))).json()["receipts"][0]
    await api.extract_all()
    return {"alice": alice, "bob": bob, "id": receipt["id"], "bobs": mine["id"]}


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("GET", "/file", None),
        ("GET", "/extractions", None),
        ("PATCH", "", {"notes": "mine now", "version": 2}),
        ("POST", "/confirm", None),
        ("POST", "/reextract", None),
        ("DELETE", "", None),
    ],
)
async def test_another_users_receipt_is_404(
    api: Api, foreign: dict[str, Any], method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    url = f"/api/receipts/{foreign['id']}{suffix}"
    response = await api.client.request(method, url, json=body, headers=foreign["bob"])
    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")
    # and it is untouched: Alice still sees it as it was
    still = await api.client.get(f"/api/receipts/{foreign['id']}", headers=foreign["alice"])
    assert still.status_code == 200
    assert still.json()["notes"] is None
    assert still.json()["status"] != "confirmed"


async def test_listing_export_and_stats_leave_it_out(api: Api, foreign: dict[str, Any]) -> None:
    bob = foreign["bob"]
    listed = await api.client.get("/api/receipts", headers=bob)
    assert [r["id"] for r in listed.json()["items"]] == [foreign["bobs"]]
    exported = await api.client.get("/api/receipts/export", params={"format": "json"}, headers=bob)
    assert [r["id"] for r in exported.json()] == [foreign["bobs"]]
    as_csv = await api.client.get("/api/receipts/export", params={"format": "csv"}, headers=bob)
    assert foreign["id"] not in as_csv.text
    assert foreign["bobs"] in as_csv.text
    stats = await api.client.get("/api/stats", headers=bob)
    assert stats.json()["receipt_count"] == 1


async def test_an_auditor_reads_everyones_receipts_but_changes_none(api: Api, foreign: dict[str, Any]) -> None:
    _, auditor = await api.user(roles=["auditor"])
    url = f"/api/receipts/{foreign['id']}"
    assert (await api.client.get(url, headers=auditor)).status_code == 200
    assert (await api.client.get(f"{url}/file", headers=auditor)).status_code == 200
    assert (await api.client.get("/api/stats", headers=auditor)).json()["receipt_count"] == 2
    assert (await api.client.delete(url, headers=auditor)).status_code == 403
    assert (await api.client.post(f"{url}/reextract", headers=auditor)).status_code == 403
