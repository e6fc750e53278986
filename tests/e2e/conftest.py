"""Fixtures of the browser tests: one Chromium per test, one real ``receiptcore serve`` per module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.server_process import ServerProcess
from tests.e2e.browser import CHROMIUM_ARGS, Browsing, ensure_chromium, login_token

# Playwright must never fetch a browser of its own: we drive Debian's Chromium
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
# the shortest access-token lifetime the settings allow, so one test can outlive a token
TOKEN_TTL_SECONDS = 30


@dataclass
class WebServer:
    """The server under test and its first admin."""

    process: ServerProcess
    admin_email: str
    admin_password: str

    @property
    def url(self) -> str:
        return self.process.url

    def admin_token(self) -> str:
        return login_token(self.url, self.admin_email, self.admin_password)


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, for one test.

    Playwright's sync API keeps an asyncio loop running in its thread while it is started; a browser shared across
    tests would leave that loop running under the async tests that xdist schedules on the same worker, so each test
    starts (about a second) and stops its own.
    """
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    """``receiptcore serve`` on embedded defaults (real OCR) with a temp data dir and a 30 s access token."""
    root: Path = tmp_path_factory.mktemp("web")
    env = {"RECEIPTCORE_ACCESS_TOKEN_TTL_SECONDS": str(TOKEN_TTL_SECONDS)}
    process = ServerProcess(root / "data", cwd=root, env=env).start()
    try:
        admin = process.admin
        assert admin is not None, process.output
        yield WebServer(process, *admin)
    finally:
        process.stop()


@pytest.fixture
def browsing(browser: object, web_server: WebServer) -> Iterator[Browsing]:
    """Guarded pages against the module's server; the guards are checked when the test ends."""
    session = Browsing(browser, web_server.url)  # type: ignore[arg-type]
    try:
        yield session
    finally:
        session.close()
