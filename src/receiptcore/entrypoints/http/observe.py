"""Around every HTTP request: a request id, one access-log line, and the request metrics.

The request id is the client's ``X-Request-ID`` when it is a sane token (1-64 of ``A-Z a-z 0-9 . _ : -``, so a
gateway's id is kept end to end), else a new random one. It is echoed in the response's ``X-Request-ID`` and put
on every log record written while the request is served (``logs.request_id_var``), so one id finds every line
of one request across the gateway and the services.

The access line is logged at INFO by ``receiptcore.http`` with ``method``, ``path`` (never the query string: a
client may put a token there), ``route`` (the path template, e.g. ``/api/receipts/{receipt_id}``),
``status``, ``duration_ms`` and ``request_id``. ``/health/*`` probes are logged at DEBUG only, so a load
balancer polling every second does not drown the log.

This wraps Litestar's own ASGI handler (outside routing and the exception handlers), so 404s and 405s that
never reach a route are observed too.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from receiptcore.entrypoints.logs import client_var, log_direct, request_id_var

logger = logging.getLogger("receiptcore.http")

REQUEST_ID_HEADER = b"x-request-id"
_VALID_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")
UNMATCHED_ROUTE = "<unmatched>"
ACCESS_MESSAGE = "%s %s %s %s ms"

# (method, route template, status, seconds) for each finished request
RequestObserver = Callable[[str, str, int, float], None]


def _incoming_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER and _VALID_ID.match(value):
            return value.decode("ascii")
    return os.urandom(16).hex()  # secrets.token_hex(16) without its three layers of calls


def observe_requests(app: ASGIApp, observers: list[RequestObserver] | None = None) -> ASGIApp:
    """Wrap ``app`` (Litestar's ``asgi_handler``) with request ids, the access log and ``observers``."""
    listeners = list(observers or [])

    async def observed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]  # websocket and lifespan pass through
            await app(scope, receive, send)
            return
        rid = _incoming_id(scope)
        token = request_id_var.set(rid)
        peer = scope.get("client")
        client_token = client_var.set(str(peer[0]) if peer else None)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID_HEADER]
                headers.append((REQUEST_ID_HEADER, rid.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            method = str(scope.get("method", ""))
            route = str(scope.get("path_template") or UNMATCHED_ROUTE)
            _log_access(scope, (method, route, status), elapsed, rid)
            for listener in listeners:
                listener(method, route, status, elapsed)
            request_id_var.reset(token)
            client_var.reset(client_token)

    return observed


def _log_access(scope: Scope, answer: tuple[str, str, int], elapsed: float, rid: str) -> None:
    method, route, status = answer
    path = str(scope.get("path", ""))
    level = logging.DEBUG if path.startswith("/health") and status < 500 else logging.INFO
    if not logger.isEnabledFor(level):
        return
    duration_ms = round(elapsed * 1000, 1)
    extra: dict[str, Any] = {
        "method": method,
        "path": path[:300],
        "route": route,
        "status": status,
        "duration_ms": duration_ms,
        "request_id": rid,
    }
    args = (method, path[:300], status, duration_ms)
    # the line straight from the formatter when our handler is all that would see the record (logs.log_direct)
    if log_direct(logger, level, ACCESS_MESSAGE, args, extra):
        return
    # makeRecord + handle is what logger.log does, less the walk up the stack for the caller's file and line,
    # which no formatter of ours prints (~2 µs of every request)
    record = logger.makeRecord(logger.name, level, __file__, 0, ACCESS_MESSAGE, args, None, extra=extra)
    logger.handle(record)
