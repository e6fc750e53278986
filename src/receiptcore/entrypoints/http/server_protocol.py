"""The HTTP protocol ``serve`` runs uvicorn with: each response in one socket write, refused logins before ASGI.

uvicorn's httptools protocol, with two changes measured under the login flood (docs/benchmarks.md, "Login flood,
2026-12-07 night"):

- **One write per response.** uvicorn writes a response's header block and then its body, two ``send`` calls on
  the socket, each waking the client: on the 2-core machine a third of the event loop's samples under the flood
  were in those writes (a loopback send that wakes the client hands it the CPU). Here the header block is held
  until the body's first write and goes out with it in one; a response whose body does not follow at once (a
  stream, server-sent events) gets its header block on the next loop turn, as a write of its own. The bytes on
  the wire are the same.
- **A login refused before ASGI.** While the login admission is full (``shedding.LoginShedding.full``), a
  ``POST /auth/login`` is refused as soon as its headers are parsed: no request-response cycle, no ASGI task,
  no body read; the answer (the same 429 problem document and headers, byte for byte, ``X-Request-ID`` and
  uvicorn's ``date`` included) is written in one call, after the repeat offender's pause of the same refusal
  line, and logged and counted by ``LoginShedding.refuse`` like every refusal. The client address is the one
  uvicorn's proxy-headers middleware resolves (the same middleware, run on the parsed scope). Every case that
  is not the plain one (another answer still in hand on the connection, ``Expect: 100-continue``, an upgrade, a
  query string or an escaped path, a ``root_path``, uvicorn's own access log or concurrency limit) goes the ASGI
  way, where ``LoginShedding`` refuses it as before.

While a refusal waits out its pause it stands in for the connection's request-response cycle, so what uvicorn
does with a cycle in hand holds for it: a pipelined request queues behind it, a lost connection drops it, and
on shutdown (SIGTERM) it is answered and the connection closed, as a request in hand is finished.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from receiptcore.entrypoints.http.shedding import (
    LOGIN_PATH,
    REFUSAL_BODY,
    REFUSAL_STATUS,
    LoginShedding,
    answered_headers,
    login_shedding,
)

_LOGIN_URL = LOGIN_PATH.encode("ascii")
# uvicorn writes this from the cycle's receive(), before any response: never held back
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# a body longer than this goes with its header block as two buffers of one writelines call, not copied into one
_JOIN_LIMIT = 64 * 1024


def _header_lines(request_id: bytes) -> bytes:
    """The refusal's header lines after uvicorn's default headers, as uvicorn writes them (lower-case names)."""
    return b"".join(name.lower() + b": " + value + b"\r\n" for name, value in answered_headers(request_id))


# the lines before and after the request id, which is all that differs from one refusal to the next
_PLACEHOLDER = b"\x00request-id\x00"
_BEFORE_ID, _AFTER_ID = _header_lines(_PLACEHOLDER).split(_PLACEHOLDER)


class _HeldHead:
    """The transport as a request-response cycle sees it: its header block waits for the body's first write.

    Args:
        transport: the connection's transport.
        loop: the event loop (the next turn's flush of a header block whose body did not follow).
    """

    __slots__ = ("_flush", "_head", "_loop", "_transport", "expect_head")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None
        self._flush: asyncio.Handle | None = None
        self.expect_head = False

    def write(self, data: bytes) -> None:
        head = self._take_head()
        if head is not None:
            if len(data) > _JOIN_LIMIT:  # one call still, without copying a large body behind its head
                self._transport.writelines((head, data))
            else:
                self._transport.write(head + data)
        elif self.expect_head and data != _CONTINUE:
            self.expect_head = False
            self._head = data
            self._flush = self._loop.call_soon(self._write_head)
        else:
            self._transport.write(data)

    def _take_head(self) -> bytes | None:
        head, self._head = self._head, None
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        return head

    def _write_head(self) -> None:
        """The next turn's flush: the body did not follow (a stream), so the header block goes alone."""
        self._flush = None
        head, self._head = self._head, None
        if head is not None and not self._transport.is_closing():
            self._transport.write(head)

    def close(self) -> None:
        head = self._take_head()
        if head is not None and not self._transport.is_closing():
            self._transport.write(head)
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()


class _NoEvent:
    """What a refusal has for a cycle's ``message_event``: nothing waits on it."""

    def set(self) -> None:
        """Nothing to wake."""


class _Refusal:
    """A refused login waiting for its answer, in the place of the connection's request-response cycle."""

    __slots__ = ("disconnected", "keep_alive", "response_complete")
    message_event: ClassVar[_NoEvent] = _NoEvent()

    def __init__(self, keep_alive: bool) -> None:
        self.keep_alive = keep_alive
        self.disconnected = False
        self.response_complete = False


async def _resolved(scope: Any, receive: Any, send: Any) -> None:
    """The app behind the proxy-headers middleware when only the scope it resolves is wanted."""


class ServerProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, each response in one write, a login refused before ASGI while the admission
    is full (see the module docstring)."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any], _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        shedding = login_shedding(config.app)
        plain = not self.access_log and not self.root_path and self.limit_concurrency is None
        self._shedding: LoginShedding | None = shedding if plain else None
        self._proxy = ProxyHeadersMiddleware(_resolved, config.forwarded_allow_ips) if config.proxy_headers else None
        self._held: _HeldHead | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._held = _HeldHead(transport, self.loop)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        held = self._held
        if held is not None:
            held.expect_head = True
            cycle.transport = held  # type: ignore[assignment]
        super()._start_asgi_task(cycle, app)

    def on_headers_complete(self) -> None:
        if self._shedding is None or not self._refused():
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refusing():  # a refused login's body is never read
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refusing():
            super().on_message_complete()

    def _refusing(self) -> bool:
        cycle: object = self.cycle
        return type(cycle) is _Refusal

    def _refused(self) -> bool:
        """Refuse the login just parsed when the admission is full and nothing else is in hand (see above)."""
        shedding = self._shedding
        cycle = self.cycle
        if (
            shedding is None
            or self.url != _LOGIN_URL
            or self.parser.get_method() != b"POST"
            or self.expect_100_continue
            or (cycle is not None and not cycle.response_complete)
            or self.parser.should_upgrade()
            or not shedding.full
        ):
            return False
        scope: Any = self.scope
        scope["method"] = "POST"
        http_version = self.parser.get_http_version()
        if http_version != "1.1":
            scope["http_version"] = http_version
        scope["path"] = LOGIN_PATH
        scope["raw_path"] = _LOGIN_URL
        scope["query_string"] = b""
        if self._proxy is not None:
            _run_at_once(self._proxy(scope, None, None))  # type: ignore[arg-type]
        refusal = _Refusal(keep_alive=http_version != "1.0" and self.parser.should_keep_alive())
        self.cycle = refusal  # type: ignore[assignment]
        shedding.refuse(scope, lambda rid: self._answer(refusal, rid))
        return True

    def _answer(self, refusal: _Refusal, rid: bytes) -> bool:
        """Write the refusal in one call and finish its cycle as uvicorn finishes one; False if the client left."""
        if refusal.disconnected or self.transport.is_closing():
            return False
        parts = [STATUS_LINE[REFUSAL_STATUS]]
        for name, value in self.server_state.default_headers:
            parts += (name.lower(), b": ", value, b"\r\n")
        parts += (_BEFORE_ID, rid, _AFTER_ID)
        if not refusal.keep_alive:
            parts.append(b"connection: close\r\n")
        parts += (b"\r\n", REFUSAL_BODY)
        self.transport.write(b"".join(parts))
        refusal.response_complete = True
        if not refusal.keep_alive:
            self.transport.close()
        self.on_response_complete()
        return True


def _run_at_once(coroutine: Any) -> None:
    """Run a coroutine that never suspends (the proxy-headers middleware in front of ``_resolved``) to its end."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    msg = "the proxy-headers middleware suspended"
    raise RuntimeError(msg)
