"""Login overload shed in front of everything else: a refusal costs the event loop a few microseconds of its own.

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

Under ``receiptcore serve`` most refusals do not even get here: the server's HTTP protocol
(``entrypoints/http/server_protocol.py``) asks this layer (``LoginShedding.full`` / ``refuse``) as soon as a
login's headers are parsed and writes the same answer itself, with no ASGI request, task or body read; this
layer answers the cases it leaves to ASGI, and any server that is not ``serve``'s.

It sits **outside** the request observer (``observe.py``): a refusal builds no per-request context, wrapper or
header list of its own. Its answer is encoded once (status, body, ``Retry-After`` and the security headers every
answer carries), and it gets what every request gets, from the same functions: a request id (the client's sane
``X-Request-ID``, else a new one: a per-process random prefix and a counter, no system call), echoed in
``X-Request-ID``; one access-log line (same logger, fields and client address); the request metrics.

A refusal that cheap still costs the event loop something, and a client that ignores ``Retry-After`` sends the
next login the moment it has the answer: in a closed loop its refusals alone would keep the loop busy. So a
client address refused again within ``Retry-After`` (a repeat offender) gets its refusal after a pause of
``REPEAT_PAUSE_SECONDS``: no CPU while it waits, and well inside the 50 ms a refusal may take (issue 10). The
paused refusals wait in one ``RefusalLine``, in arrival order, and at most ``REFUSALS_PER_TURN`` of them are
answered per event-loop turn: a burst of refusals that came due together is spread over several turns, so a
request of another route that arrives meanwhile waits behind a few of them, not dozens. A refusal already
``MAX_LATE_SECONDS`` past its time goes whatever the bound, so on a loop too busy to keep up the line never
holds refusals back. The first refusal of an
address is immediate, and a login that finds a free place is never paused. The addresses are the ones the server
resolved (behind the gateway, its forwarded address); at most ``REMEMBERED_CLIENTS`` are remembered, the oldest
forgotten first.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import math
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from receiptcore.entrypoints.http.observe import REQUEST_ID_HEADER, RequestObserver, _incoming_id, _log_access
from receiptcore.entrypoints.http.raw import json_headers, problem_body, with_security_headers
from receiptcore.entrypoints.logs import client_var
from receiptcore.errors import Overloaded
from receiptcore.services.admission import OVERLOADED_DETAIL, RETRY_AFTER_SECONDS, LoginAdmission

LOGIN_PATH = "/auth/login"
REFUSAL_STATUS = 429
REFUSAL_BODY = problem_body(REFUSAL_STATUS, Overloaded.code, OVERLOADED_DETAIL, LOGIN_PATH)
# what the app's before_send would make of the answer (it still runs; these are already its result)
REFUSAL_HEADERS = with_security_headers(
    json_headers(
        REFUSAL_BODY,
        b"application/problem+json",
        [(b"retry-after", str(max(1, math.ceil(RETRY_AFTER_SECONDS))).encode())],
    ),
    LOGIN_PATH,
)


def answered_headers(request_id: bytes) -> list[tuple[bytes, bytes]]:
    """The refusal's headers as the app sends them: ``REFUSAL_HEADERS`` and the ``X-Request-ID`` after the app's
    ``before_send`` (``raw.with_security_headers``, which moves the headers every answer carries to the end)."""
    return with_security_headers([*REFUSAL_HEADERS, (REQUEST_ID_HEADER, request_id)], LOGIN_PATH)


REPEAT_PAUSE_SECONDS = 0.025
REMEMBERED_CLIENTS = 4096
REFUSALS_PER_TURN = 4
MAX_LATE_SECONDS = 0.010


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


class RefusalLine:
    """Paused refusals, answered in arrival order ``seconds`` after they came, at most ``per_turn`` per loop turn.

    One timer for the whole line instead of one per refusal; when more than ``per_turn`` are due at once, the rest
    are let go on the next turns (``call_soon``), after whatever I/O the loop has polled meanwhile. A refusal
    already ``max_late`` seconds past its time goes whatever the bound: on a loop too busy to keep up the bound
    would only make every refusal later (the 50 ms a refusal may take), so it splits bunches, never holds a line.
    A refusal waits either as a coroutine (``wait``: the ASGI layer) or as a callback (``add``: the server's
    protocol, which answers a refusal without a task of its own); both wait in the same line.

    Args:
        per_turn: refusals let go per event-loop turn at most (those not yet ``max_late``).
        max_late: seconds past its time after which a refusal is let go on the next turn at the latest.
    """

    def __init__(self, per_turn: int = REFUSALS_PER_TURN, max_late: float = MAX_LATE_SECONDS) -> None:
        if per_turn < 1:
            msg = "a refusal line must let at least one refusal go per turn"
            raise ValueError(msg)
        self._per_turn = per_turn
        self._max_late = max_late
        self._waiting: deque[tuple[float, Callable[[], bool]]] = deque()
        self._wake: asyncio.Handle | None = None

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, seconds: float, answer: Callable[[], bool]) -> None:
        """Call ``answer`` ``seconds`` from now, or a few turns later when many refusals are due at the same time.

        ``answer`` returns whether it answered (False: its request went away meanwhile, and its place in the
        turn goes to the next). Every caller must pass the same ``seconds`` (the line is first in, first out).
        """
        loop = asyncio.get_running_loop()
        due = loop.time() + seconds
        self._waiting.append((due, answer))
        if self._wake is None:
            self._wake = loop.call_at(due, self._let_go, loop)

    async def wait(self, seconds: float) -> None:
        """Return ``seconds`` from now, or a few turns later when many refusals are due at the same time.

        Every caller must pass the same ``seconds`` (the line is first in, first out).
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.add(seconds, functools.partial(_resolve, done))
        await done

    def _let_go(self, loop: asyncio.AbstractEventLoop) -> None:
        self._wake = None
        now = loop.time()
        waiting = self._waiting
        let_go = 0
        late = now - self._max_late
        while waiting and waiting[0][0] <= now and (let_go < self._per_turn or waiting[0][0] <= late):
            _, answer = waiting.popleft()
            if answer():
                let_go += 1
        if waiting:
            due = waiting[0][0]
            self._wake = loop.call_soon(self._let_go, loop) if due <= now else loop.call_at(due, self._let_go, loop)


def _resolve(done: asyncio.Future[None]) -> bool:
    """Let a waiting refusal go; False when its request was cancelled meanwhile."""
    if done.done():
        return False
    done.set_result(None)
    return True


_ID_PREFIX = secrets.token_hex(8)
_ids = itertools.count(1)


def _request_id(scope: Any) -> str:
    """The client's sane ``X-Request-ID`` (as ``observe`` takes it), else this process's prefix and a counter:
    unique like a random one, without the system call for random bytes."""
    for name, _ in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            return _incoming_id(scope)
    return f"{_ID_PREFIX}{next(_ids):016x}"


def _observed(
    scope: Any, address: str | None, rid: str, *, status: int, elapsed: float, listeners: list[RequestObserver]
) -> None:
    """The access line and the metrics of a refusal, as ``observe`` writes them for every other request."""
    scope["path_template"] = LOGIN_PATH
    token = client_var.set(address)  # the access line names the client, as observe's does
    try:
        _log_access(scope, ("POST", LOGIN_PATH, status), elapsed, rid)
    finally:
        client_var.reset(token)
    for listener in listeners:
        listener("POST", LOGIN_PATH, status, elapsed)


class LoginShedding:
    """The outermost layer of the app's handler: refused logins answered here, admitted ones holding their place.

    As an ASGI app (``__call__``) it wraps the observed Litestar handler. The server's HTTP protocol
    (``entrypoints/http/server_protocol.py``) asks it first, before there is any ASGI request at all: while the
    admission is full (``full``) it hands a parsed login's scope to ``refuse``, which answers it (now, or after
    the repeat offender's pause, in the same ``RefusalLine``) through the protocol's ``answer`` callback, and logs
    and counts it as this layer does for the refusals it answers itself. Both paths remember the same offenders.

    Args:
        app: the observed Litestar handler.
        admission: the login admission (the container's provider).
        observers: the request metrics' listeners.
        offenders: the addresses refused within ``Retry-After``.
        pause: how the ASGI path pauses a repeat offender's refusal (tests); default: the refusal line.
    """

    def __init__(
        self,
        app: Any,
        admission: Callable[[], LoginAdmission],
        *,
        observers: list[RequestObserver] | None = None,
        offenders: RepeatOffenders | None = None,
        pause: Callable[[float], Awaitable[Any]] | None = None,
    ) -> None:
        self._app = app
        self._admission = admission
        self._repeat = offenders or RepeatOffenders()
        self._line = RefusalLine()
        self._wait = pause or self._line.wait
        self._listeners = list(observers or [])

    @property
    def full(self) -> bool:
        """Whether a login arriving now is refused."""
        return self._admission().full

    def refuse(self, scope: Any, answer: Callable[[bytes], bool]) -> None:
        """Refuse a login that the server has parsed up to its headers (``scope``: method, path, headers and the
        resolved client): ``answer(request_id)`` writes the 429 (``REFUSAL_STATUS``, ``REFUSAL_HEADERS``, the
        ``X-Request-ID``, ``REFUSAL_BODY``) and says whether the connection was still there to take it; now, or
        after ``REPEAT_PAUSE_SECONDS`` in the refusal line for a repeat offender. Logged and counted like a
        refusal of ``__call__``."""
        started = time.perf_counter()
        rid = _request_id(scope)
        client = scope.get("client")
        address = str(client[0]) if client else None

        def finish() -> bool:
            answered = answer(rid.encode("ascii"))
            _observed(
                scope,
                address,
                rid,
                status=REFUSAL_STATUS,
                elapsed=time.perf_counter() - started,
                listeners=self._listeners,
            )
            return answered

        if self._repeat.refused(address):
            self._line.add(REPEAT_PAUSE_SECONDS, finish)
        else:
            finish()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] != LOGIN_PATH or scope["type"] != "http" or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        places = self._admission()
        if not places.full:
            with places.ticket():  # nothing awaited since the check: the place is free
                await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = _request_id(scope)
        client = scope.get("client")
        address = str(client[0]) if client else None
        status = 500  # what observe logs for a request that ends without an answer (cancelled while paused)
        try:
            if self._repeat.refused(address):
                await self._wait(REPEAT_PAUSE_SECONDS)
            headers = [*REFUSAL_HEADERS, (REQUEST_ID_HEADER, rid.encode("ascii"))]
            await send({"type": "http.response.start", "status": REFUSAL_STATUS, "headers": headers})
            status = REFUSAL_STATUS
            await send({"type": "http.response.body", "body": REFUSAL_BODY, "more_body": False})
        finally:
            elapsed = time.perf_counter() - started
            _observed(scope, address, rid, status=status, elapsed=elapsed, listeners=self._listeners)


def shed_logins(
    app: Any,
    admission: Callable[[], LoginAdmission],
    *,
    observers: list[RequestObserver] | None = None,
    offenders: RepeatOffenders | None = None,
    pause: Callable[[float], Awaitable[Any]] | None = None,
) -> LoginShedding:
    """Wrap ``app`` (the observed Litestar handler): a login while ``admission()`` is full is answered 429 here,
    after ``REPEAT_PAUSE_SECONDS`` (in a ``RefusalLine``, unless ``pause`` says otherwise) when its client
    address was refused within ``Retry-After`` already, logged and counted (``observers``) as ``observe`` does;
    any other login holds its admission place from here to the end of its response."""
    return LoginShedding(app, admission, observers=observers, offenders=offenders, pause=pause)


def login_shedding(app: Any) -> LoginShedding | None:
    """The ``LoginShedding`` in front of ``app``'s handler (a Litestar app from ``create_app``), if it has one."""
    handler = getattr(app, "asgi_handler", None)
    return handler if isinstance(handler, LoginShedding) else None
