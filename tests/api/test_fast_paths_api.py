"""The answers given before (or instead of) Litestar's routing are the ones Litestar gives, header for header.

``entrypoints/http/shedding.py`` refuses a login while the admission is full without routing it. Each test here
puts the same request through both ways and compares status, headers (all but the request id) and body bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dependency_injector import providers

from receiptcore.entrypoints.http.app import create_app
from receiptcore.errors import Overloaded
from receiptcore.services.admission import OVERLOADED_DETAIL, LoginAdmission
from tests.api.conftest import make_container, make_settings
from tests.api.streaming import _lifespan


class _RouteOnly(LoginAdmission):
    """Looks free to the layer in front of routing, refuses at the route's ticket: Litestar answers."""

    @property
    def full(self) -> bool:
        return False

    @contextmanager
    def ticket(self) -> Iterator[None]:
        raise Overloaded(OVERLOADED_DETAIL, retry_after=1.0, key="overloaded")
        yield  # pragma: no cover


async def _call(app: Any, method: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> list[Any]:
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
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 4242),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    return sent


def _comparable(messages: list[Any]) -> tuple[int, dict[bytes, bytes], bytes]:
    start = messages[0]
    assert start["type"] == "http.response.start"
    headers = {name.lower(): value for name, value in start["headers"] if name.lower() != b"x-request-id"}
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return start["status"], headers, body


async def _login_answer(tmp_path: Any, admission: LoginAdmission) -> tuple[int, dict[bytes, bytes], bytes]:
    container = make_container(make_settings(tmp_path))
    container.login_admission.override(providers.Object(admission))
    app = create_app(container)
    async with _lifespan(app):
        body = b'{"email": "someone@example.com", "password": "whatever it is"}'
        return _comparable(await _call(app, "POST", "/auth/login", body, [(b"content-type", b"application/json")]))


async def test_a_login_shed_before_routing_gets_the_answer_the_route_gives(tmp_path: Any) -> None:
    full = LoginAdmission(1)
    full.in_progress = 1
    early = await _login_answer(tmp_path / "early", full)
    routed = await _login_answer(tmp_path / "routed", _RouteOnly(1))
    assert early == routed
    status, headers, _ = early
    assert status == 429
    assert headers[b"retry-after"] == b"1"
    assert headers[b"content-type"] == b"application/problem+json"


async def test_the_early_refusal_reads_no_body_and_a_free_admission_lets_the_login_through(tmp_path: Any) -> None:
    container = make_container(make_settings(tmp_path))
    app = create_app(container)
    admission = container.login_admission()
    async with _lifespan(app):
        admission.in_progress = admission.limit
        sent = await _call(app, "POST", "/auth/login", b"not even json", [(b"content-type", b"application/json")])
        assert sent[0]["status"] == 429  # answered from the layer: a routed request would get a 400 for this body
        admission.in_progress = 0
        sent = await _call(app, "POST", "/auth/login", b"not even json", [(b"content-type", b"application/json")])
        assert sent[0]["status"] == 400
        # other methods and paths are never shed
        admission.in_progress = admission.limit
        sent = await _call(app, "GET", "/auth/login", b"", [])
        assert sent[0]["status"] == 405
        sent = await _call(app, "POST", "/auth/refresh", b"{}", [(b"content-type", b"application/json")])
        assert sent[0]["status"] == 401
