"""Calling the ASGI app directly, in the test's own event loop, for the tests that compare the answers given
before routing (``shedding.py``, ``fastpath.py``, ``listing_fastpath.py``) with the routed ones byte for byte."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx

from receiptcore.entrypoints.http.app import create_app
from receiptcore.settings import Settings
from tests.api.conftest import Api, make_container
from tests.api.streaming import _lifespan

if TYPE_CHECKING:
    from receiptcore.entrypoints.container import Container


async def asgi_call(
    app: Any, method: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]], *, query: bytes = b""
) -> list[Any]:
    """The messages ``app`` sends for one request (``body`` delivered once: reading past it fails the test)."""
    sent: list[Any] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        assert not delivered, "the app read past the end of the body"
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 4242),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    return sent


def comparable(messages: list[Any]) -> tuple[int, dict[bytes, bytes], bytes]:
    """Status, headers (all but the request id) and body bytes of an answer."""
    start = messages[0]
    assert start["type"] == "http.response.start"
    headers = {name.lower(): value for name, value in start["headers"] if name.lower() != b"x-request-id"}
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return start["status"], headers, body


def bearer(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """The raw Authorization header of a test client's headers."""
    return [(b"authorization", headers["Authorization"].encode())]


@asynccontextmanager
async def served_directly(settings: Settings, container: Container | None = None) -> AsyncIterator[Api]:
    """The app of ``container`` (default: a new one for ``settings``) in the test's own event loop (direct ASGI
    calls share its SQLite connections), as ``Api`` with the app itself as ``.app``."""
    container = container if container is not None else make_container(settings)
    app = create_app(container)
    async with (
        _lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
    ):
        served = Api(client=client, container=container, settings=settings)  # type: ignore[arg-type]
        served.app = app  # type: ignore[attr-defined]
        yield served
