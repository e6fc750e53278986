"""The merchants page and the merchant/category parts of the review page and the dashboard, in a real browser
(Debian's Chromium) against a real ``receiptcore serve`` with the OCR extractor.

Three receipts are read by OCR, then given merchant names, totals and a category through the API (so the test does
not depend on what OCR makes of a shop's name); everything after that goes through the web client and is checked
against the API: merging, renaming (and the API's 409 said in words), a merchant's receipts, the dashboard grouped
by canonical merchant, the review page explaining a directory match and a learned category, and a category
correction there teaching the merchant.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import (
    DESKTOP,
    PHONE,
    ApiUser,
    Browsing,
    check_accessibility,
    make_user,
    screenshot,
    sign_in,
    small_receipts,
)
from tests.e2e.conftest import WebServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def correct(user: ApiUser, receipt: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    response = httpx.patch(
        f"{user.base}/api/receipts/{receipt['id']}",
        json=changes,
        headers={**user.auth, "If-Match": f'"{receipt["version"]}"'},
    )
    assert response.status_code == 200, response.text
    fixed: dict[str, Any] = response.json()
    return fixed


def merchants(user: ApiUser) -> dict[str, dict[str, Any]]:
    response = httpx.get(f"{user.base}/api/merchants", params={"limit": 500}, headers=user.auth)
    assert response.status_code == 200, response.text
    return {m["name"]: m for m in response.json()["items"]}


def receipt(user: ApiUser, rid: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{user.base}/api/receipts/{rid}", headers=user.auth).json()
    return found


def row(page: Page, name: str) -> Any:
    return page.locator("tbody tr").filter(has=page.get_by_role("link", name=name, exact=True))


def printed_name(r: dict[str, Any]) -> str:
    return str((r.get("merchant") or {}).get("name") or "")


def test_merge_rename_and_a_merchants_receipts_follow_through_to_the_dashboard_and_review(
    browsing: Browsing, web_server: WebServer
) -> None:
    user = make_user(web_server.url, web_server.admin_token(), f"merchants-{uuid.uuid4().hex[:8]}@example.com")
    uploaded = user.upload(small_receipts(3))
    read = user.wait_extracted([str(r["id"]) for r in uploaded])
    # the receipt re-read at the end must print a name the directory can match (four letters or more)
    read.sort(key=lambda r: len(re.sub(r"[^A-Za-z]", "", printed_name(r))))
    bakery, store, shop = read
    assert len(re.sub(r"[^A-Za-z]", "", printed_name(shop))) >= 4, [printed_name(r) for r in read]
    eur = {"currency": "EUR"}
    store = correct(
        user, store, {"merchant": {"name": "Corner Store"}, "total": "10.00", **eur, "category": "groceries"}
    )
    shop = correct(user, shop, {"merchant": {"name": "Korner Shop"}, "total": "5.50", **eur})
    bakery = correct(user, bakery, {"merchant": {"name": "Bakery Sunrise"}, "total": "3.00", **eur})
    known = merchants(user)
    assert {"Corner Store", "Korner Shop", "Bakery Sunrise"} <= set(known), sorted(known)
    assert known["Corner Store"]["category"] == "groceries"

    page, guard = browsing.page()
    guard.allow(r"status of 409")  # the browser logs the refused rename's answer
    sign_in(page, user.email, user.password, "/merchants")
    expect(page.get_by_role("heading", name="Merchants", level=1)).to_be_visible()
    expect(row(page, "Corner Store")).to_contain_text("groceries")
    expect(row(page, "Corner Store")).to_contain_text("€10.00")
    expect(row(page, "Korner Shop")).to_contain_text("€5.50")
    screenshot(page, "merchants")
    check_accessibility(page, "/merchants")

    # merge: two selected, the name to keep chosen in a dialog that says what will happen
    row(page, "Corner Store").get_by_role("checkbox").check()
    row(page, "Korner Shop").get_by_role("checkbox").check()
    page.get_by_role("button", name="Merge…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("radio", name=re.compile("^Corner Store")).check()
    expect(dialog).to_contain_text("“Korner Shop” will become known spellings of “Corner Store”")
    expect(dialog).to_contain_text("cannot be undone")
    check_accessibility(page, "/merchants merge dialog")
    dialog.get_by_role("button", name="Merge").click()
    expect(page.get_by_text("Merged into “Corner Store”: 1 receipt renamed.")).to_be_visible()
    expect(row(page, "Korner Shop")).to_have_count(0)
    expect(row(page, "Corner Store")).to_contain_text("€15.50")
    spellings = row(page, "Corner Store").get_by_role("list", name="Known spellings of Corner Store")
    expect(spellings).to_contain_text("Korner Shop")
    known = merchants(user)
    assert "Korner Shop" not in known
    assert "Korner Shop" in known["Corner Store"]["variants"]
    assert receipt(user, shop["id"])["merchant"]["name"] == "Corner Store"

    # a rename to a name another merchant has: the API's 409 in words, the dialog stays open; then a free name
    row(page, "Bakery Sunrise").get_by_role("button", name="Rename Bakery Sunrise").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("New name").fill("Corner Store")
    dialog.get_by_role("button", name="Rename").click()
    taken = "You already have a merchant called “Corner Store”. Merge the two instead."
    expect(dialog.get_by_role("alert")).to_have_text(taken)
    dialog.get_by_label("New name").fill("Sunrise Bakery")
    dialog.get_by_role("button", name="Rename").click()
    expect(page.get_by_text("Renamed to “Sunrise Bakery”: 1 receipt renamed.")).to_be_visible()
    assert receipt(user, bakery["id"])["merchant"]["name"] == "Sunrise Bakery"
    assert "Bakery Sunrise" in merchants(user)["Sunrise Bakery"]["variants"]

    # the filter is kept in the URL
    page.get_by_label("Find a merchant").fill("korner")
    expect(page.locator("tbody tr")).to_have_count(1)
    assert "q=korner" in page.url
    page.get_by_role("heading", name="Merchants", level=1).click()
    page.keyboard.press("/")
    expect(page.get_by_label("Find a merchant")).to_be_focused()

    # one merchant: its receipts, and a rename from its details
    row(page, "Corner Store").get_by_role("link", name="Corner Store", exact=True).click()
    expect(page.get_by_role("heading", name="Corner Store", level=1)).to_be_visible()
    expect(page.locator("#merchant-count")).to_have_text("2")
    receipts_table = page.get_by_role("table", name="Receipts of Corner Store")
    expect(receipts_table.locator("tbody tr")).to_have_count(2)
    page.get_by_label("Name", exact=True).fill("Corner Shop")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved: 2 receipts renamed.")).to_be_visible()
    expect(page.get_by_role("heading", name="Corner Shop", level=1)).to_be_visible()
    expect(page.get_by_role("table", name="Receipts of Corner Shop").locator("tbody tr")).to_have_count(2)
    assert {receipt(user, r["id"])["merchant"]["name"] for r in (store, shop)} == {"Corner Shop"}
    screenshot(page, "merchant")
    check_accessibility(page, "/merchants/{id}")

    # the dashboard groups by the canonical merchant; its rows lead to the merchant and the category's receipts
    page.goto("/dashboard?currency=EUR")
    merchant_card = page.locator("section", has=page.get_by_role("heading", name="Spend by merchant"))
    merchant_card.get_by_text("Show as a table").click()
    expect(merchant_card.locator("tbody tr", has_text="Corner Shop")).to_contain_text("€15.50")
    expect(merchant_card.locator("tbody tr", has_text="Corner Shop")).to_contain_text("2")
    category_card = page.locator("section", has=page.get_by_role("heading", name="Spend by category"))
    category_card.get_by_text("Show as a table").click()
    groceries = category_card.get_by_role("link", name="groceries")
    expect(groceries).to_have_attribute("href", "/receipts?category=groceries")
    stats = httpx.get(f"{user.base}/api/stats", headers=user.auth).json()
    assert {(b["key"], b["total"], b["count"]) for b in stats["by_merchant"]} == {
        ("Corner Shop", "15.50", 2),
        ("Sunrise Bakery", "3.00", 1),
    }
    corner = merchants(user)["Corner Shop"]
    assert {(b["key"], b["merchant_id"]) for b in stats["by_merchant"]} >= {("Corner Shop", corner["id"])}
    assert (corner["receipts"], corner["spend"]) == (2, [{"currency": "EUR", "total": "15.50", "count": 2}])
    merchant_card.get_by_role("link", name="Corner Shop").click()
    expect(page.get_by_role("heading", name="Corner Shop", level=1)).to_be_visible()
    assert page.url.endswith(f"/merchants/{corner['id']}")

    # read again: the printed name is now a known spelling, and the merchant's category is learned
    response = httpx.post(f"{user.base}/api/receipts/{shop['id']}/reextract", headers=user.auth)
    assert response.status_code in (200, 202), response.text
    [again] = user.wait_extracted([shop["id"]])
    assert again["merchant"]["name"] == "Corner Shop", again["merchant"]
    assert again["provenance"]["merchant.name"]["method"] == "merchant_directory"
    assert again["provenance"]["category"]["method"] == "category:learned"
    page.goto(f"/receipts/{shop['id']}")
    expect(page.locator("#field-merchant-name-origin")).to_contain_text("Matched to your merchant “Corner Shop”")
    expect(page.locator("#field-merchant-name-origin")).to_contain_text("% match")
    origin_link = page.locator("#field-merchant-name-origin").get_by_role("link", name="Your merchants")
    expect(origin_link).to_have_attribute("href", f"/merchants/{corner['id']}")
    learned = "Suggested from your last choice for this merchant, 95% sure"
    expect(page.locator("#field-category-origin")).to_contain_text(learned)
    screenshot(page, "review-merchant-match")

    # a category correction on the review page teaches the merchant (for this person)
    page.goto(f"/receipts/{store['id']}")
    expect(page.locator("#field-category-origin")).to_contain_text("Chosen by you")
    # typing suggests the person's merchants and categories
    expect(page.locator("#review-merchants option[value='Corner Shop']")).to_have_count(1)
    expect(page.locator("#review-categories option[value='groceries']")).to_have_count(1)
    category = page.get_by_label("Category")
    category.click()
    category.fill("restaurants")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#field-category-origin")).to_contain_text("Chosen by you")
    assert merchants(user)["Corner Shop"]["category"] == "restaurants"
    page.locator("#field-category").scroll_into_view_if_needed()
    screenshot(page, "review-origins")
    check_accessibility(page, "/receipts/{id} with origins")


def test_merchants_on_a_phone_and_in_dark_mode(browsing: Browsing, web_server: WebServer) -> None:
    user = make_user(web_server.url, web_server.admin_token(), f"phone-{uuid.uuid4().hex[:8]}@example.com")
    page, _ = browsing.page(PHONE)
    sign_in(page, user.email, user.password, "/merchants")
    expect(page.get_by_text("No merchants yet.")).to_be_visible()
    [uploaded] = user.upload(small_receipts(1))
    [done] = user.wait_extracted([str(uploaded["id"])])
    correct(user, done, {"merchant": {"name": "Late Night Pharmacy"}, "total": "7.25", "currency": "EUR"})
    page.reload()
    expect(row(page, "Late Night Pharmacy")).to_contain_text("€7.25")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "horizontal scroll at 375 px"
    screenshot(page, "merchants")
    check_accessibility(page, "/merchants at 375 px")
    row(page, "Late Night Pharmacy").get_by_role("link", name="Late Night Pharmacy", exact=True).click()
    expect(page.locator("#merchant-count")).to_have_text("1")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "horizontal scroll at 375 px"
    screenshot(page, "merchant")
    check_accessibility(page, "/merchants/{id} at 375 px")
    dark, _ = browsing.page(DESKTOP, color_scheme="dark")
    sign_in(dark, user.email, user.password, "/merchants")
    expect(row(dark, "Late Night Pharmacy")).to_be_visible()
    check_accessibility(dark, "/merchants dark")
    screenshot(dark, "merchants-dark")

    # an admin (receipts:read:any) sees their own merchants, and others' only when asked, each with its own figures
    admin = make_user(web_server.url, web_server.admin_token(), f"admin-{uuid.uuid4().hex[:8]}@example.com", ["admin"])
    desk, _ = browsing.page()
    sign_in(desk, admin.email, admin.password, "/merchants")
    expect(desk.get_by_text("No merchants yet.")).to_be_visible()
    desk.get_by_label("Show other people's merchants too").check()
    expect(row(desk, "Late Night Pharmacy")).to_contain_text("another person's")
    expect(row(desk, "Late Night Pharmacy")).to_contain_text("€7.25")
    assert "owners=all" in desk.url
