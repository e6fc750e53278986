"""The receipt API after upload: list and filters, read, download, correct, confirm, delete, re-extract,
attempts, export and stats."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import msgspec
import pytest

from receiptcore.adapters.memory.extractor import MemoryExtractor
from receiptcore.domain.policy import Principal
from receiptcore.domain.queries import ReceiptQuery
from receiptcore.domain.receipt import ExtractedReceipt, LineItem, Merchant
from receiptcore.domain.users import RECEIPTS_READ
from receiptcore.entrypoints.http.representation import receipt_to_api
from tests.api.conftest import Api, image_bytes, jpeg

MISSING_ID = "01900000-0000-7000-8000-000000000000"


def _yam_fresh() -> ExtractedReceipt:
    return ExtractedReceipt(
        merchant=Merchant(name="YAM FRESH", address="KUALA LUMPUR"),
        purchase_date=dt.date(2016, 7, 31),
        currency="MYR",
        line_items=[
            LineItem(description="SAWI", quantity=Decimal(1), unit_price=Decimal("2.10"), amount=Decimal("2.10")),
            LineItem(description="TAUHU", quantity=Decimal(2), unit_price=Decimal("3.10"), amount=Decimal("6.20")),
        ],
        subtotal=Decimal("8.30"),
        total=Decimal("8.30"),
        raw_text="YAM FRESH\nSAWI 2.10\nTAUHU 6.20\nTOTAL 8.30",
    )


@pytest.fixture
def extractor() -> MemoryExtractor:
    return MemoryExtractor(_yam_fresh())


async def _extracted(api: Api, headers: dict[str, str], content: bytes | None = None) -> dict:
    response = await api.upload(headers, ("r.jpg", content or jpeg()))
    assert response.status_code == 202
    await api.extract_all()
    got = await api.client.get(response.json()["receipts"][0]["location"], headers=headers)
    assert got.status_code == 200
    return got.json()


async def test_get_shows_the_extracted_fields_with_money_as_strings_and_an_etag(api: Api) -> None:
    _, headers = await api.user()
    receipt = await _extracted(api, headers)
    assert receipt["status"] in ("extracted", "needs_review")
    assert receipt["merchant"]["name"] == "YAM FRESH"
    assert receipt["purchase_date"] == "2016-07-31"
    assert receipt["total"] == "8.30"
    assert receipt["currency"] == "MYR"
    assert receipt["line_items"][1]["amount"] == "6.20"
    response = await api.client.get(f"/api/receipts/{receipt['id']}", headers=headers)
    assert response.headers["etag"] == f'"{receipt["version"]}"'
    assert response.headers["cache-control"] == "no-store"
    assert "lease_owner" not in response.json()


async def test_unknown_and_malformed_receipt_ids_are_404_problems(api: Api) -> None:
    _, headers = await api.user()
    for rid in (MISSING_ID, "nope", "1 OR 1=1", "..%2F..%2Fetc%2Fpasswd", "%00"):
        response = await api.client.get(f"/api/receipts/{rid}", headers=headers)
        assert response.status_code == 404, rid
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_listing_filters_sorts_and_pages_with_a_link_header(api: Api) -> None:
    _, headers = await api.user()
    ids = [(await api.upload(headers, (f"{i}.jpg", jpeg()))).json()["receipts"][0]["id"] for i in range(3)]
    await api.extract_all()
    first = await api.client.get("/api/receipts", params={"limit": 2, "sort": "created_at"}, headers=headers)
    assert first.status_code == 200
    page = first.json()
    assert [r["id"] for r in page["items"]] == ids[:2]
    assert page["next_cursor"]
    link = first.headers["link"]
    assert 'rel="next"' in link
    next_url = link[link.index("<") + 1 : link.index(">")]
    second = await api.client.get(next_url, headers=headers)
    assert [r["id"] for r in second.json()["items"]] == ids[2:]
    assert second.json()["next_cursor"] is None
    assert "link" not in second.headers
    found = await api.client.get("/api/receipts", params={"q": "tauhu"}, headers=headers)
    assert len(found.json()["items"]) == 3
    none = await api.client.get("/api/receipts", params={"q": "durian", "min_total": "1"}, headers=headers)
    assert none.json()["items"] == []
    ranged = await api.client.get(
        "/api/receipts", params={"date_from": "2016-07-01", "date_to": "2016-07-31", "max_total": "9"}, headers=headers
    )
    assert len(ranged.json()["items"]) == 3


async def test_a_list_page_is_the_bytes_of_its_receipts_representations(api: Api) -> None:
    # the page joins renderings stored when each receipt was written (representation.API_LISTING); the body must
    # be what Litestar wrote for the dict of receipt_to_api items, on a page with a cursor and on the last one
    owner_id, headers = await api.user()
    for i in range(3):
        await api.upload(headers, (f"{i}.jpg", jpeg()))
    await api.extract_all()
    corrected = (await api.client.get("/api/receipts", headers=headers)).json()["items"][0]
    await api.client.patch(
        f"/api/receipts/{corrected['id']}", json={"notes": "été", "version": corrected["version"]}, headers=headers
    )
    principal = Principal(user_id=owner_id, roles=frozenset({"member"}), permissions=frozenset({RECEIPTS_READ}))
    for params in ({"limit": "2"}, {"limit": "2", "q": "tauhu", "sort": "total"}):
        response = await api.client.get("/api/receipts", params=params, headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        query = ReceiptQuery.model_validate(params)
        page = await api.container.receipt_service().list(principal, query)
        items = [receipt_to_api(r) for r in page.items]
        assert response.content == msgspec.json.encode({"items": items, "next_cursor": response.json()["next_cursor"]})
        last = await api.client.get("/api/receipts", params={**params, "cursor": page.next_cursor}, headers=headers)
        rest = await api.container.receipt_service().list(
            principal, query.model_copy(update={"cursor": page.next_cursor})
        )
        assert last.content == msgspec.json.encode(
            {"items": [receipt_to_api(r) for r in rest.items], "next_cursor": None}
        )


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "yesterday"},
        {"date_to": "2016-13-45"},
        {"min_total": "abc"},
        {"max_total": "NaN"},
        {"status": "deleted"},
        {"sort": "password"},
        {"limit": "0"},
        {"limit": "100000"},
        {"limit": "ten"},
        {"cursor": "not-a-cursor"},
        {"q": "x" * 300},
        {"owner_id": "' OR 1=1 --"},
    ],
)
async def test_bad_filters_are_422_problems(api: Api, params: dict[str, str]) -> None:
    _, headers = await api.user(roles=["auditor"])
    response = await api.client.get("/api/receipts", params=params, headers=headers)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["status"] == 422
    assert problem["type"].endswith("/validation-failed")


async def test_owner_filter_needs_read_any(api: Api) -> None:
    owner_id, owner = await api.user()
    await api.upload(owner, ("a.jpg", jpeg()))
    _, member = await api.user()
    denied = await api.client.get("/api/receipts", params={"owner_id": owner_id}, headers=member)
    assert denied.status_code == 403
    _, auditor = await api.user(roles=["auditor"])
    seen = await api.client.get("/api/receipts", params={"owner_id": owner_id}, headers=auditor)
    assert seen.status_code == 200
    assert len(seen.json()["items"]) == 1


async def test_file_download_is_the_original_bytes_with_the_sniffed_type_and_a_safe_name(api: Api) -> None:
    _, headers = await api.user()
    content = image_bytes("PNG")
    upload = await api.client.post(
        "/api/receipts",
        files=[("file", ('../../etc/evil"name.html', content, "text/html"))],
        headers=headers,
    )
    rid = upload.json()["receipts"][0]["id"]
    response = await api.client.get(f"/api/receipts/{rid}/file", headers=headers)
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert disposition == 'attachment; filename="evil_name.png"'


async def test_patch_corrects_fields_with_if_match_and_keeps_the_audit(api: Api) -> None:
    _, headers = await api.user()
    receipt = await _extracted(api, headers)
    rid, version = receipt["id"], receipt["version"]
    response = await api.client.patch(
        f"/api/receipts/{rid}",
        json={"total": "8.35", "tags": ["household"], "notes": "rounded"},
        headers=headers | {"If-Match": f'"{version}"'},
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["total"] == "8.35"
    assert updated["tags"] == ["household"]
    assert updated["version"] == version + 1
    assert response.headers["etag"] == f'"{version + 1}"'
    assert {"field": "total", "from": "8.30", "to": "8.35"}.items() <= updated["corrections"][0].items()
    # the version may also travel in the body
    body_version = await api.client.patch(
        f"/api/receipts/{rid}", json={"notes": "again", "version": version + 1}, headers=headers
    )
    assert body_version.status_code == 200


async def test_patch_preconditions_and_bad_bodies(api: Api) -> None:
    _, headers = await api.user()
    receipt = await _extracted(api, headers)
    url = f"/api/receipts/{receipt['id']}"
    current = {"If-Match": f'"{receipt["version"]}"'}
    missing = await api.client.patch(url, json={"notes": "x"}, headers=headers)
    assert missing.status_code == 428
    assert missing.json()["type"].endswith("/precondition-required")
    stale = await api.client.patch(url, json={"notes": "x"}, headers=headers | {"If-Match": '"999"'})
    assert stale.status_code == 412
    assert stale.json()["type"].endswith("/version-conflict")
    garbage = await api.client.patch(url, json={"notes": "x"}, headers=headers | {"If-Match": "banana"})
    assert garbage.status_code == 412
    for body in (
        {"owner_id": "someone"},
        {"status": "confirmed"},
        {"total": "abc"},
        {"total": {"a": 1}},
        {"tags": "not-a-list"},
        {},
        {"purchase_date": "31/07/2016"},
    ):
        response = await api.client.patch(url, json=body, headers=headers | current)
        assert response.status_code == 422, body
        assert response.headers["content-type"].startswith("application/problem+json")
    not_object = await api.client.patch(url, json=[1, 2], headers=headers | current)
    assert not_object.status_code == 422
    bad_version = await api.client.patch(url, json={"notes": "x", "version": "one"}, headers=headers)
    assert bad_version.status_code == 422


async def test_patch_of_a_pending_receipt_is_409(api: Api) -> None:
    _, headers = await api.user()
    item = (await api.upload(headers, ("a.jpg", jpeg()))).json()["receipts"][0]
    response = await api.client.patch(
        item["location"], json={"notes": "x"}, headers=headers | {"If-Match": f'"{item["version"]}"'}
    )
    assert response.status_code == 409


async def test_confirm_an_extracted_receipt_but_not_a_pending_one(api: Api) -> None:
    _, headers = await api.user()
    pending = (await api.upload(headers, ("a.jpg", jpeg()))).json()["receipts"][0]
    assert (await api.client.post(f"{pending['location']}/confirm", headers=headers)).status_code == 409
    await api.extract_all()
    confirmed = await api.client.post(f"{pending['location']}/confirm", headers=headers)
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "confirmed"
    stale = await api.client.post(f"{pending['location']}/confirm", headers=headers | {"If-Match": '"1"'})
    assert stale.status_code == 412


async def test_delete_removes_the_receipt_and_its_file(api: Api) -> None:
    _, headers = await api.user()
    item = (await api.upload(headers, ("a.jpg", jpeg()))).json()["receipts"][0]
    response = await api.client.delete(item["location"], headers=headers)
    assert response.status_code == 204
    assert (await api.client.get(item["location"], headers=headers)).status_code == 404
    assert (await api.client.get(f"{item['location']}/file", headers=headers)).status_code == 404
    assert (await api.client.delete(item["location"], headers=headers)).status_code == 404
    files_dir = api.settings.files_dir
    assert not files_dir.exists() or not [p for p in files_dir.rglob("*") if p.is_file()]


async def test_reextract_queues_again_and_every_attempt_is_kept(api: Api) -> None:
    _, headers = await api.user()
    receipt = await _extracted(api, headers)
    url = f"/api/receipts/{receipt['id']}"
    response = await api.client.post(f"{url}/reextract", headers=headers)
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    await api.extract_all()
    attempts = await api.client.get(f"{url}/extractions", headers=headers)
    assert attempts.status_code == 200
    items = attempts.json()["items"]
    assert [a["attempt"] for a in items] == [1, 2]
    assert all(a["extractor"] == "memory" for a in items)
    assert items[0]["output"]["merchant"]["name"] == "YAM FRESH"


async def test_export_csv_and_json_are_attachments_with_every_receipt(api: Api) -> None:
    _, headers = await api.user()
    ids = {(await _extracted(api, headers))["id"] for _ in range(2)}
    as_csv = await api.client.get("/api/receipts/export", params={"format": "csv", "limit": 1}, headers=headers)
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.headers["content-disposition"] == 'attachment; filename="receipts.csv"'
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {r["id"] for r in rows} == ids
    as_json = await api.client.get("/api/receipts/export", params={"format": "json"}, headers=headers)
    assert as_json.headers["content-disposition"] == 'attachment; filename="receipts.json"'
    assert {r["id"] for r in as_json.json()} == ids
    filtered = await api.client.get("/api/receipts/export", params={"format": "json", "q": "durian"}, headers=headers)
    assert filtered.json() == []
    bad = await api.client.get("/api/receipts/export", params={"format": "xlsx"}, headers=headers)
    assert bad.status_code == 422


async def test_stats_sum_the_visible_receipts(api: Api) -> None:
    _, headers = await api.user()
    await _extracted(api, headers)
    await _extracted(api, headers)
    response = await api.client.get("/api/stats", headers=headers)
    assert response.status_code == 200
    stats = response.json()
    assert stats["receipt_count"] == 2
    (month,) = stats["by_month"]
    assert month["key"] == "2016-07"
    assert Decimal(month["total"]) == Decimal("16.60")
    assert month["currency"] == "MYR"
    assert (await api.client.get("/api/stats", params={"date_from": "x"}, headers=headers)).status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/receipts"),
        ("GET", f"/api/receipts/{MISSING_ID}"),
        ("GET", f"/api/receipts/{MISSING_ID}/file"),
        ("PATCH", f"/api/receipts/{MISSING_ID}"),
        ("POST", f"/api/receipts/{MISSING_ID}/confirm"),
        ("DELETE", f"/api/receipts/{MISSING_ID}"),
        ("POST", f"/api/receipts/{MISSING_ID}/reextract"),
        ("GET", f"/api/receipts/{MISSING_ID}/extractions"),
        ("GET", "/api/receipts/export"),
        ("GET", "/api/stats"),
        ("GET", "/api/events"),
    ],
)
async def test_receipt_routes_need_a_token_and_receipt_permissions(api: Api, method: str, path: str) -> None:
    anonymous = await api.client.request(method, path, json={"notes": "x"} if method == "PATCH" else None)
    assert anonymous.status_code == 401
    admin = await api.admin()
    await api.client.post("/roles", json={"name": "user-reader", "permissions": ["users:read"]}, headers=admin)
    _, reader = await api.user(roles=["user-reader"])
    response = await api.client.request(
        method, path, json={"notes": "x"} if method == "PATCH" else None, headers=reader
    )
    assert response.status_code == 403
