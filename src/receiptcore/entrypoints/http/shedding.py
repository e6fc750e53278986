"""Login overload shed in front of routing: a refusal costs a few microseconds instead of a whole Litestar request.

``LoginAdmission`` bounds the logins in progress; the login route takes its ticket and a login past the bound
is refused with ``429 overloaded`` before any read or write. Refused there, the request has still been routed,
its body read, decoded and validated, its dependencies resolved and its exception turned into a problem
document: about a millisecond of the event loop each (docs/benchmarks.md), so a flood of clients that ignore
``Retry-After`` turns the refusals themselves into the load that starves the admitted logins and every other
route. This layer answers ``POST /auth/login`` with the very same problem document while the admission is full,
without reading the body. The route's own ticket stays the one check that decides (a login let through here may
still be refused there, when another took the last place meanwhile); this is only the cheap early answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from receiptcore.entrypoints.http.raw import json_headers, problem_body, send_answer
from receiptcore.errors import Overloaded
from receiptcore.services.admission import OVERLOADED_DETAIL, RETRY_AFTER_SECONDS, LoginAdmission

LOGIN_PATH = "/auth/login"
_BODY = problem_body(429, Overloaded.code, OVERLOADED_DETAIL, LOGIN_PATH)
_HEADERS = json_headers(
    _BODY, b"application/problem+json", [(b"retry-after", str(max(1, math.ceil(RETRY_AFTER_SECONDS))).encode())]
)


def shed_logins(app: Any, admission: Callable[[], LoginAdmission]) -> Any:
    """Wrap ``app`` (Litestar's ``asgi_handler``): a login while ``admission()`` is full is answered 429 here."""

    async def shedding(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == LOGIN_PATH and scope["method"] == "POST" and admission().full:
            scope["path_template"] = LOGIN_PATH  # the access log and the metrics name the route
            await send_answer(send, 429, list(_HEADERS), _BODY)
            return
        await app(scope, receive, send)

    return shedding
