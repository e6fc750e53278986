"""The baseline: a bare Litestar app whose handlers return a constant.

Served by the same ASGI server with the same settings as the product, it measures what the framework, the
server and the load generator cost on their own, so the product's figures can be read as ratios against it.
The POST handler reads and parses a small JSON body, like the login route does, so the POST row compares
like with like; nothing else happens in either handler.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, get, post

_CONSTANT = {"status": "ok"}


@get("/baseline", sync_to_thread=False)
def constant_get() -> dict[str, str]:
    """Return a constant JSON document."""
    return _CONSTANT


@post("/baseline", status_code=200, sync_to_thread=False)
def constant_post(data: dict[str, Any]) -> dict[str, str]:
    """Parse the JSON body (as a login route must) and return a constant JSON document."""
    del data
    return _CONSTANT


@get("/health/live", sync_to_thread=False)
def live() -> dict[str, str]:
    """Readiness probe used by the harness before it starts measuring."""
    return _CONSTANT


def create_baseline_app() -> Litestar:
    """The bare app: two constant handlers and a liveness route, Litestar defaults otherwise."""
    return Litestar(route_handlers=[constant_get, constant_post, live])
