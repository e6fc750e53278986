"""The merchant API (/api/merchants): the directory filled by extraction, stats by canonical merchant, rename and
merge, category learning through corrections, isolation between users and problem documents on bad input."""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

from receiptcore.adapters.memory.extractor import MemoryExtractor
from receiptcore.domain import categories
from receiptcore.domain.receipt import ExtractedReceipt, Merchant
from tests.api.conftest import Api, jpeg

MISSING_ID = "01234567-89ab-7def-8123-456789abcdef"


async def receipt(api: Api, extractor: MemoryExtractor, headers: dict[str, str], name: str, total: str = "9.99") -> Any:
    """Upload a receipt whose extractor reads merchant ``name``, extract it, return its API representation."""
    content = jpeg()
    output = ExtractedReceipt(
        merchant=Merchant(name=name), purchase_date=dt.date(2026, 2, 1), currency="EUR", total=Decimal(total)
    )
    extractor.script(output, sha256=hashlib.sha256(content).hexdigest())
    uploaded = await api.upload(headers, ("r.jpg", content))
    assert uploaded.status_code == 202, uploaded.text
    await api.extract_all()
    response = await api.client.get(f"/api/receipts/{uploaded.json()['receipts'][0]['id']}", headers=headers)
    assert response.status_code == 200
    return response.json()


async def merchants(api: Api, headers: dict[str, str]) -> dict[str, Any]:
    response = await api.client.get("/api/merchants", headers=headers)
    assert response.status_code == 200, response.text
    return {m["name"]: m for m in response.json()["items"]}


async def test_partial_and_ocr_spellings_count_under_one_merchant_in_stats(
    api: Api, extractor: MemoryExtractor
) -> None:
    _, me = await api.user()
    await receipt(api, extractor, me, "The Wild Restaurant", "20.00")
    partial = await receipt(api, extractor, me, "Restaurant", "5.50")
    assert partial["merchant"]["name"] == "The Wild Restaurant"
    assert partial["provenance"]["merchant.name"]["text"] == "Restaurant"
    assert partial["provenance"]["merchant.name"]["method"] == "merchant_directory"
    assert partial["category"] == "restaurants"
    assert list(await merchants(api, me)) == ["The Wild Restaurant"]

    stats = (await api.client.get("/api/stats", headers=me)).json()
    assert [(b["key"], b["count"], b["total"]) for b in stats["by_merchant"]] == [("The Wild Restaurant", 2, "25.50")]
    assert [(b["key"], b["count"]) for b in stats["by_category"]] == [("restaurants", 2)]


async def test_rename_and_merge_relabel_receipts_and_guard_versions(api: Api, extractor: MemoryExtractor) -> None:
    _, me = await api.user()
    await receipt(api, extractor, me, "Netto")
    await receipt(api, extractor, me, "Netto Marken-Discount")
    known = await merchants(api, me)
    target, other = known["Netto"], known["Netto Marken-Discount"]

    taken = await api.client.patch(f"/api/merchants/{other['id']}", json={"name": "NETTO"}, headers=me)
    assert taken.status_code == 409
    assert taken.headers["content-type"].startswith("application/problem+json")

    stale = await api.client.post(
        f"/api/merchants/{target['id']}/merge", json={"merge": [other["id"]]}, headers={**me, "If-Match": '"99"'}
    )
    assert stale.status_code == 412
    merged = await api.client.post(
        f"/api/merchants/{target['id']}/merge",
        json={"merge": [other["id"]]},
        headers={**me, "If-Match": f'"{target["version"]}"'},
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["receipts_updated"] == 1
    assert merged.json()["merchant"]["variants"] == ["Netto Marken-Discount"]
    assert (await api.client.get(f"/api/merchants/{other['id']}", headers=me)).status_code == 404

    renamed = await api.client.patch(f"/api/merchants/{target['id']}", json={"name": "Netto Supermarkt"}, headers=me)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["receipts_updated"] == 2
    listed = (await api.client.get("/api/receipts", headers=me)).json()["items"]
    assert {r["merchant"]["name"] for r in listed} == {"Netto Supermarkt"}
    assert (await api.client.get("/api/receipts?q=supermarkt", headers=me)).json()["items"] != []


async def test_a_category_correction_teaches_only_its_owner(api: Api, extractor: MemoryExtractor) -> None:
    _, me = await api.user()
    _, you = await api.user()
    mine = await receipt(api, extractor, me, "Kiosk Ahmed")
    await receipt(api, extractor, you, "Kiosk Ahmed")
    corrected = await api.client.patch(
        f"/api/receipts/{mine['id']}", json={"category": "groceries", "version": mine["version"]}, headers=me
    )
    assert corrected.status_code == 200, corrected.text
    assert (await receipt(api, extractor, me, "KIOSK AHMED"))["category"] == "groceries"
    assert (await receipt(api, extractor, you, "KIOSK AHMED"))["category"] is None
    assert (await merchants(api, me))["Kiosk Ahmed"]["category"] == "groceries"
    assert (await merchants(api, you))["Kiosk Ahmed"]["category"] is None


async def test_another_users_merchants_are_not_found(api: Api, extractor: MemoryExtractor) -> None:
    _, me = await api.user()
    _, you = await api.user()
    await receipt(api, extractor, me, "Netto")
    await receipt(api, extractor, you, "Lidl")
    mine = (await merchants(api, me))["Netto"]
    theirs = (await merchants(api, you))["Lidl"]
    assert list(await merchants(api, you)) == ["Lidl"]
    assert (await api.client.get(f"/api/merchants/{mine['id']}", headers=you)).status_code == 404
    rename = await api.client.patch(f"/api/merchants/{mine['id']}", json={"name": "Mine now"}, headers=you)
    assert rename.status_code == 404
    steal = await api.client.post(f"/api/merchants/{theirs['id']}/merge", json={"merge": [mine["id"]]}, headers=you)
    assert steal.status_code == 404
    assert (await merchants(api, me))["Netto"] == mine

    _, auditor = await api.user(["auditor"])
    assert set(await merchants(api, auditor)) >= {"Netto", "Lidl"}  # receipts:read:any reads every owner's
    denied = await api.client.patch(f"/api/merchants/{mine['id']}", json={"name": "X"}, headers=auditor)
    assert denied.status_code == 403
    assert (await api.client.get("/api/merchants")).status_code == 401


async def test_bad_input_gets_a_problem_document(api: Api, extractor: MemoryExtractor) -> None:
    _, me = await api.user()
    await receipt(api, extractor, me, "Netto")
    await receipt(api, extractor, me, "Lidl")
    known = await merchants(api, me)
    mid = known["Netto"]["id"]
    # every refused value (body or query) is a 422 validation-failed problem; unknown ids are 404
    cases = [
        ("patch", f"/api/merchants/{mid}", {"nickname": "x"}, 422),
        ("patch", f"/api/merchants/{mid}", {"name": ""}, 422),
        ("patch", f"/api/merchants/{mid}", {"name": 42}, 422),
        ("patch", f"/api/merchants/{mid}", {"name": "x" * 501}, 422),
        ("patch", f"/api/merchants/{mid}", {}, 422),
        ("patch", f"/api/merchants/{mid}", ["name"], 422),
        ("patch", "/api/merchants/not-an-id", {"name": "x"}, 404),
        ("patch", f"/api/merchants/{MISSING_ID}", {"name": "x"}, 404),
        ("post", f"/api/merchants/{mid}/merge", {"merge": []}, 422),
        ("post", f"/api/merchants/{mid}/merge", {"merge": ["nope"]}, 422),
        ("post", f"/api/merchants/{mid}/merge", {"merge": [mid]}, 422),
        ("post", f"/api/merchants/{mid}/merge", {"merge": [known["Lidl"]["id"]] * 2}, 422),
        ("post", f"/api/merchants/{mid}/merge", {"merge": [MISSING_ID]}, 404),
        ("post", f"/api/merchants/{mid}/merge", {"into": []}, 422),
        ("get", "/api/merchants?limit=0", None, 422),
        ("get", "/api/merchants?limit=501", None, 422),
        ("get", "/api/merchants?after=garbage", None, 422),
        ("get", f"/api/merchants/{MISSING_ID}", None, 404),
    ]
    for method, url, body, status in cases:
        kwargs = {"json": body} if body is not None else {}
        response = await getattr(api.client, method)(url, headers=me, **kwargs)
        assert response.status_code == status, (method, url, body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), (url, body)
    assert await merchants(api, me) == known  # nothing changed


async def test_listing_pages_by_id(api: Api, extractor: MemoryExtractor) -> None:
    _, me = await api.user()
    for name in ("Netto", "Lidl", "Pharmacie du Centre"):
        await receipt(api, extractor, me, name)
    first = (await api.client.get("/api/merchants?limit=2", headers=me)).json()
    assert len(first["items"]) == 2
    rest = (await api.client.get(f"/api/merchants?limit=2&after={first['next_cursor']}", headers=me)).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    names = {m["name"] for m in first["items"] + rest["items"]}
    assert names == {"Netto", "Lidl", "Pharmacie du Centre"}


async def test_a_merchant_name_as_long_as_a_receipt_allows_is_learned(api: Api, extractor: MemoryExtractor) -> None:
    _, me = await api.user()
    mine = await receipt(api, extractor, me, "Nettooy")
    long_name = "Netto " + "x" * 494
    corrected = await api.client.patch(
        f"/api/receipts/{mine['id']}", json={"merchant": {"name": long_name}, "version": mine["version"]}, headers=me
    )
    assert corrected.status_code == 200, corrected.text
    assert (await merchants(api, me))[long_name]["variants"] == ["Nettooy"]


async def test_a_merchants_receipts_are_listed_by_id_or_name_a_page_at_a_time(
    api: Api, extractor: MemoryExtractor
) -> None:
    _, me = await api.user()
    _, you = await api.user()
    mine = {(await receipt(api, extractor, me, "Netto", total))["id"] for total in ("1.00", "2.00", "3.00")}
    await receipt(api, extractor, me, "Aldi")
    yours = (await receipt(api, extractor, you, "NETTO"))["id"]
    netto = (await merchants(api, me))["Netto"]

    seen: list[str] = []
    cursor = ""
    while True:
        page = await api.client.get(
            "/api/receipts", params={"merchant_id": netto["id"], "limit": 2, "cursor": cursor}, headers=me
        )
        assert page.status_code == 200, page.text
        seen += [r["id"] for r in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(mine)
    by_name = await api.client.get("/api/receipts", params={"merchant": "nEtTo"}, headers=me)
    assert {r["id"] for r in by_name.json()["items"]} == mine
    stats = (await api.client.get("/api/stats", params={"merchant_id": netto["id"]}, headers=me)).json()
    assert (stats["receipt_count"], [b["total"] for b in stats["by_merchant"]]) == (3, ["6.00"])

    _, auditor = await api.user(["auditor"])
    everyone = await api.client.get("/api/receipts", params={"merchant": "Netto"}, headers=auditor)
    assert {r["id"] for r in everyone.json()["items"]} == {*mine, yours}
    one_owner = await api.client.get("/api/receipts", params={"merchant_id": netto["id"]}, headers=auditor)
    assert {r["id"] for r in one_owner.json()["items"]} == mine


async def test_a_bad_merchant_filter_is_a_problem_naming_it(api: Api, extractor: MemoryExtractor) -> None:
    _, me = await api.user()
    _, you = await api.user()
    await receipt(api, extractor, you, "Lidl")
    theirs = (await merchants(api, you))["Lidl"]["id"]
    for params in (
        {"merchant_id": "not-an-id"},
        {"merchant_id": MISSING_ID},
        {"merchant_id": theirs},
        {"merchant_id": theirs, "merchant": "Lidl"},
        {"merchant": "x" * 501},
    ):
        for path in ("/api/receipts", "/api/stats", "/api/receipts/export"):
            response = await api.client.get(path, params=params, headers=me)
            assert response.status_code == 422, (path, params, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "merchant" in response.text


async def test_merchants_come_with_their_receipts_and_spend_per_currency(api: Api, extractor: MemoryExtractor) -> None:
    _, me = await api.user()
    await receipt(api, extractor, me, "The Wild Restaurant", "20.00")
    await receipt(api, extractor, me, "Restaurant", "5.50")
    content = jpeg()  # a receipt of it without a total still counts as one of its receipts
    extractor.script(
        ExtractedReceipt(merchant=Merchant(name="The Wild Restaurant")), sha256=hashlib.sha256(content).hexdigest()
    )
    assert (await api.upload(me, ("r.jpg", content))).status_code == 202
    await api.extract_all()
    wild = (await merchants(api, me))["The Wild Restaurant"]
    assert wild["receipts"] == 3
    assert wild["spend"] == [{"currency": "EUR", "total": "25.50", "count": 2}]
    one = (await api.client.get(f"/api/merchants/{wild['id']}", headers=me)).json()
    assert (one["receipts"], one["spend"]) == (3, wild["spend"])


async def test_someone_who_sees_everyones_receipts_gets_each_persons_merchant_apart(
    api: Api, extractor: MemoryExtractor
) -> None:
    _, me = await api.user()
    _, you = await api.user()
    await receipt(api, extractor, me, "Netto", "2.00")
    await receipt(api, extractor, you, "NETTO", "3.00")
    mine, yours = (await merchants(api, me))["Netto"], (await merchants(api, you))["NETTO"]
    _, auditor = await api.user(["auditor"])
    stats = (await api.client.get("/api/stats", headers=auditor)).json()
    netto = sorted(
        (b["owner_id"], b["merchant_id"], b["total"]) for b in stats["by_merchant"] if b["key"].casefold() == "netto"
    )
    assert netto == sorted([(mine["owner_id"], mine["id"], "2.00"), (yours["owner_id"], yours["id"], "3.00")])
    receipts = {(m["owner_id"], m["count"]) for m in stats["merchant_receipts"] if m["key"].casefold() == "netto"}
    assert receipts == {(mine["owner_id"], 1), (yours["owner_id"], 1)}
    listed = {m["id"]: m for m in (await api.client.get("/api/merchants", headers=auditor)).json()["items"]}
    assert (listed[mine["id"]]["receipts"], listed[yours["id"]]["receipts"]) == (1, 1)
    # the member's own stats carry their own owner id and merchant id
    own = (await api.client.get("/api/stats", headers=me)).json()["by_merchant"]
    assert [(b["key"], b["owner_id"], b["merchant_id"]) for b in own] == [("Netto", mine["owner_id"], mine["id"])]


async def test_categories_are_the_bundled_map_and_only_the_callers_own(api: Api, extractor: MemoryExtractor) -> None:
    _, me = await api.user()
    _, you = await api.user()
    mine = await receipt(api, extractor, me, "Kiosk Ahmed")
    corrected = await api.client.patch(
        f"/api/receipts/{mine['id']}", json={"category": "Haushalt", "version": mine["version"]}, headers=me
    )
    assert corrected.status_code == 200, corrected.text
    lidl = await receipt(api, extractor, you, "Lidl")
    patched = await api.client.patch(
        f"/api/receipts/{lidl['id']}", json={"category": "Geheim", "version": lidl["version"]}, headers=you
    )
    assert patched.status_code == 200, patched.text
    netto = (await merchants(api, you))["Lidl"]
    await api.client.patch(f"/api/merchants/{netto['id']}", json={"category": "Groceries"}, headers=you)

    response = await api.client.get("/api/categories", headers=me)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    bundled = tomllib.loads((Path(categories.__file__).parent / "categories.toml").read_text(encoding="utf-8"))
    assert sorted(c["name"] for c in items if c["bundled"]) == sorted(bundled)
    assert [c["name"] for c in items if c["yours"]] == ["Haushalt"]  # as the merchant learned it
    assert "Geheim" not in {c["name"] for c in items}
    assert "geheim" not in {c["name"] for c in items}
    yours = {c["name"]: c for c in (await api.client.get("/api/categories", headers=you)).json()["items"]}
    assert yours["groceries"] == {"name": "groceries", "bundled": True, "yours": True}  # one, in the map's spelling
    assert yours["geheim"]["yours"]
    assert not yours["geheim"]["bundled"]
    assert (await api.client.get("/api/categories")).status_code == 401
