"""The web client in a real browser (Debian's Chromium) against a real ``receiptcore serve`` with the OCR extractor.

Each test makes its own people through the API (so tests run in any order) and signs them in through the login
form. Every page is guarded: a console error, an uncaught exception or a request to another host fails the test.
"""

from __future__ import annotations

import csv
import io
import re
import time
import uuid

import httpx
import pytest
from playwright.sync_api import expect

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
from tests.e2e.conftest import TOKEN_TTL_SECONDS, WebServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FINAL = re.compile("Extracted|Needs review|Failed|Confirmed")


def fresh_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}@example.com"


def open_receipt_with_total(web_server: WebServer, label: str) -> tuple[object, dict[str, object]]:
    """A new member with one extracted receipt whose total is set (through the API)."""
    user = make_user(web_server.url, web_server.admin_token(), fresh_email(label))
    [uploaded] = user.upload(small_receipts(1))
    [receipt] = user.wait_extracted([str(uploaded["id"])])
    return user, receipt


def test_upload_three_receipts_and_watch_them_turn_extracted_without_reloading(
    browsing: Browsing, web_server: WebServer
) -> None:
    user = make_user(web_server.url, web_server.admin_token(), fresh_email("upload"))
    page, _ = browsing.page()
    sign_in(page, user.email, user.password)
    expect(page.get_by_text("No receipts yet")).to_be_visible()
    page.evaluate("window.__sameDocument = true")
    files = small_receipts(3)
    page.locator("#file-picker").set_input_files([str(p) for p in files])
    uploads = page.locator("li.upload")
    expect(uploads).to_have_count(3)
    # each row turns from uploading/waiting into its result, driven by the event stream
    for row in uploads.all():
        expect(row.locator(".badge")).to_have_text(FINAL, timeout=180_000)
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    statuses = {t.strip() for t in uploads.locator(".badge").all_inner_texts()}
    assert statuses <= {"Extracted", "Needs review"}, statuses
    # the same file again is explained as a duplicate, nothing stored twice
    page.locator("#file-picker").set_input_files(str(files[0]))
    expect(page.get_by_text("Already in your vault")).to_be_visible()
    listed = httpx.get(f"{web_server.url}/api/receipts", headers=user.auth).json()["items"]
    assert len(listed) == 3


def test_a_refused_file_stays_in_the_inbox_with_its_reason(browsing: Browsing, web_server: WebServer) -> None:
    user = make_user(web_server.url, web_server.admin_token(), fresh_email("refused"))
    page, guard = browsing.page()
    guard.allow(r"status of 415")  # the browser logs the refused upload's answer
    sign_in(page, user.email, user.password)
    page.locator("#file-picker").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a receipt at all"}
    )
    row = page.locator("li.upload", has_text="notes.txt")
    expect(row.get_by_text("Refused:")).to_be_visible()
    expect(row.get_by_role("button", name="Dismiss")).to_be_visible()


def test_review_correct_total_confirm_then_list_and_dashboard_show_it(
    browsing: Browsing, web_server: WebServer
) -> None:
    user, receipt = open_receipt_with_total(web_server, "review")
    currency = receipt.get("currency") or "EUR"
    page, _ = browsing.page()
    sign_in(page, user.email, user.password, f"/receipts/{receipt['id']}")
    expect(page.locator(".sheet img")).to_have_js_property("complete", True)
    if not receipt.get("currency"):
        page.get_by_label("Currency").fill(currency)
    total = page.get_by_label("Total", exact=True)
    total.click()
    total.fill("1234.56")
    page.keyboard.press("Control+Enter")  # save, confirm, next
    expect(page.get_by_text("Confirmed").first).to_be_visible()
    stored = httpx.get(f"{web_server.url}/api/receipts/{receipt['id']}", headers=user.auth).json()
    assert stored["total"] == "1234.56"
    assert stored["status"] == "confirmed"
    assert any(c["field"] == "total" and c["to"] == "1234.56" for c in stored["corrections"])

    page.get_by_role("link", name="Receipts", exact=True).click()
    row = page.locator(f"tr[data-receipt-id='{receipt['id']}']")
    expect(row).to_contain_text("1,234.56")
    expect(row).to_contain_text("Confirmed")
    expect(page.locator(".totals")).to_contain_text("1,234.56")

    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("#kpi-total")).to_contain_text("1,234.56")
    expect(page.locator("#chart-category")).to_be_visible()


def test_review_page_keyboard_and_history(browsing: Browsing, web_server: WebServer) -> None:
    user, receipt = open_receipt_with_total(web_server, "keys")
    page, _ = browsing.page()
    sign_in(page, user.email, user.password, f"/receipts/{receipt['id']}")
    merchant = page.get_by_label("Merchant", exact=True)
    merchant.focus()
    page.keyboard.press("j")  # next field: the address
    expect(page.get_by_role("textbox", name="Address")).to_be_focused()
    page.keyboard.press("k")
    expect(merchant).to_be_focused()
    page.keyboard.press("Enter")  # edit
    merchant.fill("Corner Grocer")
    page.keyboard.press("Escape")  # cancel: the old value is back
    expect(merchant).to_have_value(str((receipt.get("merchant") or {}).get("name") or ""))
    page.keyboard.press("Enter")
    merchant.fill("Corner Grocer")
    page.keyboard.press("Enter")
    page.keyboard.press("Control+s")
    expect(page.locator(".history")).to_contain_text("Corner Grocer")
    # the correction taught the merchant directory: the printed name is now a spelling of "Corner Grocer"
    printed = str((receipt.get("merchant") or {}).get("name") or "")
    listed = httpx.get(f"{web_server.url}/api/merchants", headers=user.auth).json()["items"]
    [taught] = [m for m in listed if m["name"] == "Corner Grocer"]
    if printed:
        assert printed in taught["variants"], taught
    expect(page.locator("#field-merchant-name-origin")).to_contain_text("Set by you.")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()


def test_export_csv_has_a_row_per_receipt(browsing: Browsing, web_server: WebServer) -> None:
    user = make_user(web_server.url, web_server.admin_token(), fresh_email("export"))
    uploaded = user.upload(small_receipts(2))
    receipts = user.wait_extracted([str(r["id"]) for r in uploaded])
    page, _ = browsing.page()
    sign_in(page, user.email, user.password, "/receipts")
    expect(page.locator("tbody tr")).to_have_count(2)
    with page.expect_download() as info:
        page.get_by_role("button", name="Export CSV").click()
    download = info.value
    assert download.suggested_filename == "receipts.csv"
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))  # noqa: SIM115
    assert sorted(r["id"] for r in rows) == sorted(str(r["id"]) for r in receipts)
    by_id = {str(r["id"]): r for r in receipts}
    for row in rows:
        assert row["total"] == (by_id[row["id"]]["total"] or "")
        assert row["filename"] == by_id[row["id"]]["source"]["filename"]  # type: ignore[index]


def test_admin_creates_a_member_who_sees_neither_admin_pages_nor_the_admins_receipts(
    browsing: Browsing, web_server: WebServer
) -> None:
    admin = make_user(web_server.url, web_server.admin_token(), fresh_email("boss"), roles=["admin"])
    admin.upload(small_receipts(1))
    page, _ = browsing.page()
    sign_in(page, admin.email, admin.password, "/admin/users")
    email = fresh_email("member")
    form = page.locator("form", has=page.get_by_role("button", name="Create user"))
    form.get_by_label("Email").fill(email)
    form.get_by_label("Name").fill("New Member")
    form.get_by_label("Initial password").fill("member password of some length")
    form.get_by_role("button", name="Create user").click()
    expect(page.locator("tbody")).to_contain_text(email)

    member, _ = browsing.page()
    sign_in(member, email, "member password of some length", "/receipts")
    expect(member.get_by_text("No receipts yet")).to_be_visible()
    nav = member.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    expect(nav.get_by_role("link", name="Roles")).to_have_count(0)
    member.goto("/admin/users")
    expect(member.get_by_role("heading", name="Not available")).to_be_visible()
    # and the API refuses anyway
    token = member.evaluate("async () => (await (await fetch('/auth/refresh', {method: 'POST'})).json()).access_token")
    assert httpx.get(f"{web_server.url}/users", headers={"Authorization": f"Bearer {token}"}).status_code == 403


def test_a_conflicting_edit_from_another_browser_shows_both_values(browsing: Browsing, web_server: WebServer) -> None:
    user, receipt = open_receipt_with_total(web_server, "conflict")
    first, _ = browsing.page()
    second, guard = browsing.page()
    guard.allow(r"status of 412")  # the browser logs the refused save
    for page in (first, second):
        sign_in(page, user.email, user.password, f"/receipts/{receipt['id']}")
        expect(page.get_by_label("Notes")).to_be_visible()
    # both start editing; the first saves, then the second (whose edit is older) saves
    notes_second = second.get_by_label("Notes")
    notes_second.click()
    notes_second.fill("from the second browser")
    notes_first = first.get_by_label("Notes")
    notes_first.click()
    notes_first.fill("from the first browser")
    first.get_by_role("button", name="Save changes").click()
    expect(first.locator(".history")).to_contain_text("from the first browser")
    expect(second.get_by_text("This receipt was changed elsewhere")).to_be_visible()
    second.get_by_role("button", name="Save changes").click()
    conflict = second.get_by_role("alert").filter(has_text="Someone else changed this receipt")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("from the first browser")
    expect(conflict).to_contain_text("from the second browser")
    conflict.get_by_role("button", name="Save my choices").click()
    expect(second.locator(".history")).to_contain_text("from the second browser")
    stored = httpx.get(f"{web_server.url}/api/receipts/{receipt['id']}", headers=user.auth).json()
    assert stored["notes"] == "from the second browser"


def test_an_expired_access_token_is_renewed_without_the_user_noticing(
    browsing: Browsing, web_server: WebServer
) -> None:
    user = make_user(web_server.url, web_server.admin_token(), fresh_email("idle"))
    page, _ = browsing.page()
    refreshes: list[int] = []
    page.on("response", lambda r: refreshes.append(r.status) if r.url.endswith("/auth/refresh") else None)
    sign_in(page, user.email, user.password, "/receipts")
    expect(page.get_by_text("No receipts yet")).to_be_visible()
    time.sleep(TOKEN_TTL_SECONDS + 2)  # the first access token has expired by now
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_text("No receipts in this period yet")).to_be_visible()
    page.get_by_role("link", name="Receipts", exact=True).click()
    expect(page.get_by_text("No receipts yet")).to_be_visible()
    expect(page.locator("#topbar")).to_be_visible()
    assert page.url.endswith("/receipts")
    assert refreshes, "no silent refresh happened"
    assert all(status == 200 for status in refreshes), refreshes


def test_a_throttled_sign_in_says_how_long_to_wait(browsing: Browsing, web_server: WebServer) -> None:
    page, guard = browsing.page()
    guard.allow(r"status of (401|429)")
    page.goto("/login")
    email = fresh_email("nobody")
    # after 5 failures each try must wait 1 s, 2 s, 4 s... after the previous one; a try inside the wait is 429
    for _ in range(15):
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill("wrong password, many times")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).not_to_be_empty()
        if page.get_by_role("button", name="Sign in").is_disabled():
            break
    expect(page.get_by_role("alert")).to_contain_text(re.compile(r"Try again in \d+ (minutes|seconds?)"))


def test_the_default_currency_is_kept_by_the_server_and_a_bad_code_is_explained(
    browsing: Browsing, web_server: WebServer
) -> None:
    user = make_user(web_server.url, web_server.admin_token(), fresh_email("currency"))
    page, guard = browsing.page()
    guard.allow(r"status of 422")  # the browser logs the refused code's answer
    sign_in(page, user.email, user.password)
    page.goto("/settings")
    code = page.get_by_label("Default currency")
    code.fill("chf")
    page.get_by_role("button", name="Save").last.click()
    expect(page.get_by_text("Receipts that print no currency are read as CHF")).to_be_visible()
    preferences = httpx.get(f"{web_server.url}/auth/me/preferences", headers=user.auth).json()
    assert (preferences["default_currency"], preferences["default_currency_source"]) == ("CHF", "user")
    code.fill("XYZ")
    page.get_by_role("button", name="Save").last.click()
    expect(page.get_by_role("alert").filter(has_text="XYZ is not an ISO 4217 currency code")).to_be_visible()
    assert httpx.get(f"{web_server.url}/auth/me/preferences", headers=user.auth).json()["default_currency"] == "CHF"
    # another browser (or device) signed in as the same person sees the server's value, not a local one
    other, _ = browsing.page()
    sign_in(other, user.email, user.password)
    other.goto("/settings")
    expect(other.get_by_label("Default currency")).to_have_value("CHF")


def test_the_api_documentation_loads_from_the_server_only(browsing: Browsing, web_server: WebServer) -> None:
    page, _ = browsing.page()
    page.goto("/schema/swagger")
    expect(page.get_by_text("receiptcore").first).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    page.goto("/schema/redoc")
    expect(page.get_by_role("heading", name=re.compile("receiptcore"))).to_be_visible(timeout=30_000)


def test_phone_layout_has_no_horizontal_scroll(browsing: Browsing, web_server: WebServer) -> None:
    user, receipt = open_receipt_with_total(web_server, "phone")
    page, _ = browsing.page(PHONE)
    for path in ("/", "/receipts", f"/receipts/{receipt['id']}", "/dashboard", "/merchants", "/settings"):
        if path == "/":
            sign_in(page, user.email, user.password)
            assert page.get_attribute("#camera-picker", "capture") == "environment"
        else:
            page.goto(path)
            page.locator(".page-title").wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width} px wide"


@pytest.fixture(scope="module")
def tour(web_server: WebServer) -> tuple[ApiUser, list[dict[str, object]]]:
    """An admin with three extracted receipts, shared by the page tour (one OCR run for all its cases)."""
    admin = make_user(web_server.url, web_server.admin_token(), fresh_email("tour"), roles=["admin"])
    uploaded = admin.upload(small_receipts(3))
    return admin, admin.wait_extracted([str(r["id"]) for r in uploaded])


@pytest.mark.parametrize(
    ("viewport", "scheme"),
    [(DESKTOP, "light"), (PHONE, "light"), (DESKTOP, "dark")],
    ids=["1280x800", "375x812", "1280x800-dark"],
)
def test_every_page_passes_axe_and_is_screenshotted(
    browsing: Browsing,
    tour: tuple[ApiUser, list[dict[str, object]]],
    viewport: dict[str, int],
    scheme: str,
) -> None:
    admin, receipts = tour
    page, _ = browsing.page(viewport, color_scheme=scheme)
    suffix = "" if scheme == "light" else "-dark"
    page.goto("/login")
    page.get_by_label("Email").wait_for()
    check_accessibility(page, "login")
    screenshot(page, f"login{suffix}")
    sign_in(page, admin.email, admin.password)
    pages = [
        ("inbox", "/"),
        ("receipts", "/receipts"),
        ("review", f"/receipts/{receipts[0]['id']}"),
        ("review-queue", "/review"),
        ("dashboard", "/dashboard"),
        ("merchants", "/merchants"),
        ("settings", "/settings"),
        ("admin-users", "/admin/users"),
        ("admin-roles", "/admin/roles"),
    ]
    for name, path in pages:
        page.goto(path)
        page.locator(".page-title").first.wait_for()
        if name.startswith("review") and page.locator(".sheet img").count():
            expect(page.locator(".sheet img")).to_have_js_property("complete", True)
        if name == "dashboard":
            page.locator(".kpis .kpi").first.wait_for()
        if name in ("receipts", "inbox", "merchants"):
            page.locator("tbody tr, .receipt-cards li").first.wait_for()
        check_accessibility(page, name)
        screenshot(page, f"{name}{suffix}")
