"""The HTTP protocol ``serve`` runs uvicorn with (``entrypoints/http/server_protocol.py``), driven over a fake
transport in the test's loop: one write per response, and a login refused before ASGI while the admission is full,
with the very bytes the app's own refusal gets, in order with whatever else the connection sends.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from uvicorn.server import ServerState

from receiptcore.entrypoints.http.app import create_app
from receiptcore.entrypoints.http.server_protocol import ServerProtocol, _HeldHead
from receiptcore.entrypoints.http.shedding import REPEAT_PAUSE_SECONDS
from receiptcore.entrypoints.serve import _make_server
from tests.api.conftest import make_container, make_settings
from tests.api.streaming import _lifespan
from tests.api.test_login_refusals_api import _app_with_no_login_place

_BODY = b'{"email": "someone@example.com", "password": "whatever it is"}'
_DATE = (b"date", b"Mon, 07 Dec 2026 23:00:00 GMT")


def _login(target: bytes = b"/auth/login", *, extra: bytes = b"", close: bool = False) -> bytes:
    return (
        b"POST " + target + b" HTTP/1.1\r\nhost: testserver\r\ncontent-type: application/json\r\n"
        b"x-request-id: test-id-1\r\ncontent-length: "
        + str(len(_BODY)).encode()
        + b"\r\n"
        + extra
        + (b"connection: close\r\n" if close else b"")
        + b"\r\n"
        + _BODY
    )


_LIVE = b"GET /health/live HTTP/1.1\r\nhost: testserver\r\n\r\n"


class _Transport:
    """What the protocol needs of a connection's transport; keeps every write."""

    def __init__(self, peer: str = "127.0.0.1") -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.paused = False
        self._peer = peer

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def writelines(self, parts: Any) -> None:
        self.write(b"".join(parts))  # one call: one write

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": (self._peer, 5555)}.get(name, default)


class _Server:
    """The protocol of ``serve``'s uvicorn configuration for ``app``, one connection at a time."""

    def __init__(self, app: Any, tmp_path: Path) -> None:
        config = _make_server(app, make_settings(tmp_path)).config
        config.load()
        assert config.http_protocol_class is ServerProtocol
        self.config = config
        self.state = ServerState()
        self.state.default_headers = [_DATE]

    def connect(self, peer: str = "127.0.0.1") -> tuple[ServerProtocol, _Transport]:
        protocol = ServerProtocol(self.config, self.state, {})
        transport = _Transport(peer)
        protocol.connection_made(transport)  # type: ignore[arg-type]
        return protocol, transport


async def _until(predicate: Any) -> None:
    async with asyncio.timeout(5):
        while not predicate():  # noqa: ASYNC110 - a fake transport's writes offer no signal to wait on
            await asyncio.sleep(0.001)


def _answers(writes: list[bytes]) -> list[bytes]:
    """The responses in ``writes``, split at each status line."""
    return [b"HTTP/1.1 " + part for part in b"".join(writes).split(b"HTTP/1.1 ") if part]


async def test_a_login_refused_before_asgi_is_one_write_of_the_apps_own_refusal(tmp_path: Path) -> None:
    _, app = _app_with_no_login_place(tmp_path)
    server = _Server(app, tmp_path)
    async with _lifespan(app):
        early, early_out = server.connect("127.0.0.1")
        early.data_received(_login())
        # answered there and then: no ASGI task was started for it
        assert len(early_out.writes) == 1
        assert not server.state.tasks
        # the same login with a query string goes the ASGI way and is refused by the app's shedding layer
        routed, routed_out = server.connect("127.0.0.2")
        routed.data_received(_login(b"/auth/login?next=1"))
        await _until(lambda: routed_out.writes)
        await _until(lambda: not server.state.tasks)
    assert early_out.writes == [b"".join(routed_out.writes)]
    assert early_out.writes[0].startswith(b"HTTP/1.1 429 Too Many Requests\r\ndate: ")
    assert b"\r\nretry-after: 1\r\n" in early_out.writes[0]
    assert b"\r\nx-request-id: test-id-1\r\n" in early_out.writes[0]
    assert not early_out.closed  # keep-alive, as uvicorn keeps it


async def test_a_repeat_offender_waits_its_pause_and_what_follows_on_the_connection_waits_behind_it(
    tmp_path: Path,
) -> None:
    _, app = _app_with_no_login_place(tmp_path)
    server = _Server(app, tmp_path)
    async with _lifespan(app):
        protocol, out = server.connect()
        protocol.data_received(_login())
        assert len(out.writes) == 1  # the first refusal of an address: at once
        loop = asyncio.get_running_loop()
        sent = loop.time()
        # a repeat offender's refusal and, pipelined behind it, a read of another route
        protocol.data_received(_login() + _LIVE)
        assert len(out.writes) == 1
        await _until(lambda: len(_answers(out.writes)) == 3)
        waited = loop.time() - sent
        await _until(lambda: not server.state.tasks)
    answers = _answers(out.writes)
    assert [answer.split(b"\r\n", 1)[0] for answer in answers] == [
        b"HTTP/1.1 429 Too Many Requests",
        b"HTTP/1.1 429 Too Many Requests",
        b"HTTP/1.1 200 OK",
    ]
    assert waited >= REPEAT_PAUSE_SECONDS * 0.9
    assert server.state.total_requests == 3


async def test_shutdown_answers_a_paused_refusal_then_closes_the_connection(tmp_path: Path) -> None:
    _, app = _app_with_no_login_place(tmp_path)
    server = _Server(app, tmp_path)
    async with _lifespan(app):
        protocol, out = server.connect()
        protocol.data_received(_login())
        protocol.data_received(_login())  # paused: a repeat offender
        protocol.shutdown()  # what uvicorn does to every connection on SIGTERM
        assert not out.closed  # the request in hand is finished first
        await _until(lambda: out.closed)
    last = _answers(out.writes)[-1]
    assert last.startswith(b"HTTP/1.1 429 ")
    assert b"\r\nconnection: close\r\n" in last
    assert last.endswith(b'"instance":"/auth/login"}')


async def test_a_refusal_whose_client_left_during_its_pause_writes_nothing(tmp_path: Path) -> None:
    _, app = _app_with_no_login_place(tmp_path)
    server = _Server(app, tmp_path)
    async with _lifespan(app):
        protocol, out = server.connect()
        protocol.data_received(_login())
        protocol.data_received(_login())
        out.closed = True
        protocol.connection_lost(None)
        await asyncio.sleep(REPEAT_PAUSE_SECONDS * 2)
        # the line went on: a refusal of another address still comes at once
        other, other_out = server.connect("127.0.0.9")
        other.data_received(_login())
    assert len(out.writes) == 1
    assert len(other_out.writes) == 1


@pytest.mark.parametrize(
    ("request_bytes", "why"),
    [
        (_login(extra=b"expect: 100-continue\r\n"), "expect 100-continue"),
        (_login(b"/auth/%6cogin"), "an escaped path"),
    ],
)
async def test_what_is_not_the_plain_case_is_refused_the_asgi_way(
    tmp_path: Path, request_bytes: bytes, why: str
) -> None:
    _, app = _app_with_no_login_place(tmp_path)
    server = _Server(app, tmp_path)
    async with _lifespan(app):
        protocol, out = server.connect()
        protocol.data_received(request_bytes)
        assert server.state.tasks, why  # an ASGI task took it
        await _until(lambda: not server.state.tasks)
    assert re.match(rb"HTTP/1.1 (100 Continue\r\n\r\nHTTP/1.1 )?429 ", b"".join(out.writes)), why


async def test_a_login_with_a_free_place_goes_to_the_app(tmp_path: Path) -> None:
    app = create_app(make_container(make_settings(tmp_path)))
    server = _Server(app, tmp_path)
    async with _lifespan(app):
        protocol, out = server.connect()
        protocol.data_received(_login())
        assert server.state.tasks
        await _until(lambda: not server.state.tasks)
    # the account does not exist: the app checked it (401), nobody refused it for load
    assert b"".join(out.writes).startswith(b"HTTP/1.1 401 ")


async def test_a_response_goes_out_in_one_write(tmp_path: Path) -> None:
    _, app = _app_with_no_login_place(tmp_path)
    server = _Server(app, tmp_path)
    async with _lifespan(app):
        protocol, out = server.connect()
        protocol.data_received(_LIVE + _LIVE)
        await _until(lambda: len(out.writes) == 2)
        await _until(lambda: not server.state.tasks)
    for write in out.writes:
        head, body = write.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert body  # the body in the same write as its header block


async def test_a_header_block_whose_body_does_not_follow_goes_on_the_next_turn() -> None:
    out = _Transport()
    held = _HeldHead(out, asyncio.get_running_loop())  # type: ignore[arg-type]
    held.expect_head = True
    held.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # never held: the client waits for it to send its body
    assert out.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    held.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    assert len(out.writes) == 1
    await asyncio.sleep(0)
    assert out.writes[1] == b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    held.write(b"5\r\nhello\r\n")  # a stream's later chunks go as they come
    assert out.writes[2] == b"5\r\nhello\r\n"


async def test_a_held_header_block_goes_before_the_connection_closes() -> None:
    out = _Transport()
    held = _HeldHead(out, asyncio.get_running_loop())  # type: ignore[arg-type]
    held.expect_head = True
    held.write(b"HTTP/1.1 500 Internal Server Error\r\n\r\n")
    held.close()
    assert out.writes == [b"HTTP/1.1 500 Internal Server Error\r\n\r\n"]
    assert out.closed
    await asyncio.sleep(0)
    assert len(out.writes) == 1  # the flush scheduled for it finds nothing left to write


async def test_a_large_body_goes_with_its_header_block_in_one_call() -> None:
    out = _Transport()
    held = _HeldHead(out, asyncio.get_running_loop())  # type: ignore[arg-type]
    held.expect_head = True
    body = b"x" * (1024 * 1024)
    held.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n")
    held.write(body)
    assert out.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n" + body]


async def test_a_held_header_block_is_dropped_when_the_client_left_before_its_flush() -> None:
    out = _Transport()
    held = _HeldHead(out, asyncio.get_running_loop())  # type: ignore[arg-type]
    held.expect_head = True
    held.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    out.closed = True  # the connection was lost meanwhile
    await asyncio.sleep(0)
    assert out.writes == []  # nothing written to a closed transport


def test_without_httptools_serve_leaves_the_protocol_to_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    from receiptcore.entrypoints import serve

    assert serve._http_protocol() is ServerProtocol
    # the protocol module imports httptools' protocol; where that import fails, uvicorn picks (h11)
    monkeypatch.setitem(sys.modules, "receiptcore.entrypoints.http.server_protocol", None)
    assert serve._http_protocol() == "auto"
