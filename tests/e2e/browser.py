"""Browser test support: Debian's Chromium driven by Playwright, a guard per page, axe-core, screenshots, API setup.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium``, which ``ensure_chromium`` installs
from Debian when missing (under ``CI=true`` a failed install fails the run instead of skipping). Every page a test
opens gets a ``PageGuard`` that records console errors, uncaught exceptions and requests to any host but the
server under test (those are aborted, so a stray CDN reference cannot succeed by accident).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Route

from tests.cli.server_process import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
SCREENSHOTS = REPO / "test-output" / "screenshots"
RECEIPTS = REPO.parent / "shared" / "data" / "receipts"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
PASSWORD = "correct horse battery staple 42"


def ensure_chromium() -> Path:
    """Debian's Chromium, installed with apt-get when missing; skip (fail under CI=true) when it cannot be."""
    if CHROMIUM.exists():
        return CHROMIUM
    problem = ""
    if shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
            done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
            if done.returncode != 0:
                problem = f"{' '.join(cmd)} failed: {done.stderr[-500:]}"
                break
    else:
        problem = "apt-get is not available"
    if CHROMIUM.exists():
        return CHROMIUM
    message = f"Chromium is missing and could not be installed ({problem or 'no /usr/bin/chromium after install'})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
    return CHROMIUM


def small_receipts(n: int) -> list[Path]:
    """The ``n`` smallest wildreceipt images (fast to read), in name order; skip when the data set is absent."""
    folder = RECEIPTS / "wildreceipt"
    images = sorted(folder.glob("*.jpg"), key=lambda p: (p.stat().st_size, p.name))[:n]
    if len(images) < n:
        pytest.skip(f"fewer than {n} receipts under {folder}")
    return sorted(images)


@dataclass
class PageGuard:
    """What a page did wrong: console errors, page errors, requests to other hosts."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Accept console errors matching ``pattern`` (e.g. the browser's log of an expected 412 answer)."""
        self.allowed.append(re.compile(pattern))

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not any(p.search(message.text) for p in self.allowed):
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def on_request(self, route: Route, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob") or f"{parts.scheme}://{parts.netloc}" == self.origin:
            route.continue_()
            return
        self.foreign_requests.append(request.url)
        route.abort()

    def check(self) -> None:
        """Fail on anything recorded."""
        assert self.foreign_requests == [], f"requests to other hosts: {self.foreign_requests}"
        assert self.page_errors == [], f"uncaught errors: {self.page_errors}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"


class Browsing:
    """Contexts and pages on one browser against one server, each page guarded; ``close()`` checks the guards."""

    def __init__(self, browser: Browser, origin: str) -> None:
        self.browser = browser
        self.origin = origin
        self.contexts: list[BrowserContext] = []
        self.guards: list[PageGuard] = []

    def page(self, viewport: dict[str, int] | None = None, *, color_scheme: str = "light") -> tuple[Page, PageGuard]:
        """A new page in a fresh context (own cookies: another person or another browser)."""
        context = self.browser.new_context(
            viewport=viewport or DESKTOP,  # type: ignore[arg-type]
            base_url=self.origin,
            color_scheme=color_scheme,  # type: ignore[arg-type]
            accept_downloads=True,
            locale="en-GB",
            timezone_id="UTC",
        )
        guard = PageGuard(self.origin)
        context.route("**/*", guard.on_request)
        page = context.new_page()
        page.on("console", guard.on_console)
        page.on("pageerror", lambda error: guard.page_errors.append(str(error)))
        page.set_default_timeout(15_000)
        self.contexts.append(context)
        self.guards.append(guard)
        return page, guard

    def close(self) -> None:
        """Close every context, then fail on what any guard recorded."""
        for context in self.contexts:
            context.close()
        for guard in self.guards:
            guard.check()


def sign_in(page: Page, email: str, password: str, path: str = "/") -> None:
    """Open ``path`` (the client sends a signed-out visitor to /login) and sign in through the form."""
    page.goto(path)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#topbar").wait_for(state="visible")


def check_accessibility(page: Page, name: str) -> None:
    """Run the vendored axe-core (WCAG 2 A/AA rules) on the page; fail listing each violation."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # evaluated through the DevTools protocol: the page's CSP (no inline script) still holds for the page
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
    result: dict[str, Any] = page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
            resultTypes: ['violations'],
        })"""
    )
    problems = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
    ]
    assert problems == [], f"accessibility violations on {name}: {problems}"


def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot under test-output/screenshots/ (git-ignored) and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or DESKTOP
    path = SCREENSHOTS / f"{name}-{size['width']}x{size['height']}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


@dataclass
class ApiUser:
    """A user made through the API for a test, with an access token."""

    base: str
    email: str
    password: str
    token: str
    id: str
    signed_in_at: float = field(default_factory=time.monotonic)

    @property
    def auth(self) -> dict[str, str]:
        """The bearer header, signing in again before the (short, in these tests) token expires."""
        if time.monotonic() - self.signed_in_at > 20:
            self.token = login_token(self.base, self.email, self.password)
            self.signed_in_at = time.monotonic()
        return {"Authorization": f"Bearer {self.token}"}

    def upload(self, files: Iterable[Path]) -> list[dict[str, Any]]:
        """Upload files (one request) and return the receipt documents."""
        parts = [("file", (p.name, p.read_bytes(), "application/octet-stream")) for p in files]
        response = httpx.post(f"{self.base}/api/receipts", files=parts, headers=self.auth, timeout=60)
        assert response.status_code in (200, 202), response.text
        receipts: list[dict[str, Any]] = response.json()["receipts"]
        return receipts

    def wait_extracted(self, ids: Iterable[str], timeout: float = 180.0) -> list[dict[str, Any]]:
        """Poll until every receipt is out of pending/processing; return them."""
        deadline = time.monotonic() + timeout
        done: dict[str, dict[str, Any]] = {}
        wanted = list(ids)
        while len(done) < len(wanted):
            assert time.monotonic() < deadline, f"not extracted in {timeout} s: {set(wanted) - set(done)}"
            for rid in wanted:
                if rid not in done:
                    receipt = httpx.get(f"{self.base}/api/receipts/{rid}", headers=self.auth).json()
                    if receipt["status"] not in ("pending", "processing"):
                        done[rid] = receipt
            time.sleep(0.5)
        return [done[rid] for rid in wanted]


def login_token(base: str, email: str, password: str) -> str:
    """An access token through POST /auth/login."""
    response = httpx.post(f"{base}/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def make_user(base: str, admin_token: str, email: str, roles: list[str] | None = None) -> ApiUser:
    """Create a user through ``POST /users`` (as the admin) and sign them in."""
    roles = roles or ["member"]
    response = httpx.post(
        f"{base}/users",
        json={
            "email": email,
            "password": PASSWORD,
            "display_name": email.split("@", maxsplit=1)[0],
            "roles": roles or ["member"],
        },
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert response.status_code == 201, response.text
    return ApiUser(base, email, PASSWORD, login_token(base, email, PASSWORD), response.json()["id"])
