"""Login overload shed in front of routing: a refusal costs a few microseconds instead of a whole Litestar request.

``LoginAdmission`` bounds the logins in progress; a login past the bound is refused with ``429 overloaded``
before any read or write. Refused by the route, the request has still been routed, its body read, decoded and
validated, its dependencies resolved and its exception turned into a problem document: about a millisecond of
the event loop each (docs/benchmarks.md), so a flood of clients that ignore ``Retry-After`` turns the refusals
themselves into the load that starves the admitted logins and every other route. This layer answers
``POST /auth/login`` with the very same problem document while the admission is full, without reading the body,
and otherwise **takes the login's place here**, before routing, for the whole request (the route's own ticket is
then that same place). Taking it only at the route let every login that arrived while a place was free be
routed, and all but the first few be refused there at the full price: under a flood, a routed refusal for each
place that came free.

A refusal that cheap still costs the event loop something, and a client that ignores ``Retry-After`` sends the
next login the moment it has the answer: in a closed loop its refusals alone would keep the loop busy. So a
client address refused again within ``Retry-After`` (a repeat offender) gets its refusal after a pause of
``REPEAT_PAUSE_SECONDS``: a timer, no CPU, and well inside the 50 ms a refusal may take (issue 10). The first
refusal of an address is immediate, and a login that finds a free place is never paused. The addresses are the
ones the server resolved (behind the gateway, its forwarded address); at most ``REMEMBERED_CLIENTS`` are
remembered, the oldest forgotten first.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from receiptcore.entrypoints.http.raw import json_headers, problem_body, send_answer
from receiptcore.errors import Overloaded
from receiptcore.services.admission import OVERLOADED_DETAIL, RETRY_AFTER_SECONDS, LoginAdmission

LOGIN_PATH = "/auth/login"
_BODY = problem_body(429, Overloaded.code, OVERLOADED_DETAIL, LOGIN_PATH)
_HEADERS = json_headers(
    _BODY, b"application/problem+json", [(b"retry-after", str(max(1, math.ceil(RETRY_AFTER_SECONDS))).encode())]
)


REPEAT_PAUSE_SECONDS = 0.025
REMEMBERED_CLIENTS = 4096


class RepeatOffenders:
    """Which client addresses were refused within the last ``window`` seconds (bounded, oldest forgotten first).

    Args:
        window: how long a refusal is remembered (the ``Retry-After`` the client was given).
        size: how many addresses are remembered at most.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        window: float = RETRY_AFTER_SECONDS,
        size: int = REMEMBERED_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window
        self._size = size
        self._clock = clock
        self._refused: OrderedDict[str, float] = OrderedDict()

    def refused(self, address: str | None) -> bool:
        """Record a refusal of ``address``; whether it had been refused within the window already."""
        if address is None:
            return False
        now = self._clock()
        last = self._refused.pop(address, None)
        self._refused[address] = now
        if len(self._refused) > self._size:
            self._refused.popitem(last=False)
        return last is not None and now - last < self._window


def shed_logins(
    app: Any,
    admission: Callable[[], LoginAdmission],
    *,
    offenders: RepeatOffenders | None = None,
    pause: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> Any:
    """Wrap ``app`` (Litestar's ``asgi_handler``): a login while ``admission()`` is full is answered 429 here,
    after ``REPEAT_PAUSE_SECONDS`` when its client address was refused within ``Retry-After`` already; any other
    login holds its admission place from here to the end of its response."""
    repeat = offenders or RepeatOffenders()

    async def shedding(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != LOGIN_PATH or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        places = admission()
        if not places.full:
            with places.ticket():  # nothing awaited since the check: the place is free
                await app(scope, receive, send)
            return
        scope["path_template"] = LOGIN_PATH  # the access log and the metrics name the route
        client = scope.get("client")
        if repeat.refused(str(client[0]) if client else None):
            await pause(REPEAT_PAUSE_SECONDS)
        await send_answer(send, 429, list(_HEADERS), _BODY)

    return shedding
