"""Liveness and readiness.

``/health/live`` is 200 while the process serves at all. ``/health/ready`` asks each critical store a cheap
question under a short timeout: any failure is 503 with Retry-After (the gateway stops routing here). The event
bus is not critical (the store is the queue, the bus only a doorbell), and neither is the extractor (jobs wait and
retry), so either in trouble is reported as "degraded" while the service stays ready.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from litestar import Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec

from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery
from receiptcore.entrypoints.http.security import CONTAINER_KEY
from receiptcore.ports import ReportsHealth

logger = logging.getLogger(__name__)

SERVICE_KEY = "service"
CHECK_TIMEOUT_SECONDS = 2.0
RETRY_AFTER_SECONDS = 5
# a scope no receipt can be in: the probe reads an index, never data
_PROBE_SCOPE = Scope.only("00000000-0000-0000-0000-000000000000")


async def _probe_users(container: Any) -> None:
    await container.user_repo().count_users()


async def _probe_receipts(container: Any) -> None:
    store = container.receipt_store()
    await store.list(ReceiptQuery(limit=1), _PROBE_SCOPE)
    # a store on local disk also says whether it can take a file (read-only or full disk: not ready)
    check_writable = getattr(store, "check_writable", None)
    if check_writable is not None:
        await check_writable()


async def _probe_keys(container: Any) -> None:
    # a receipts service holding no verifying key cannot authenticate anyone; one that holds keys stays ready
    # while the auth service is away (refresh_keys raises only when no key is held)
    await container.token_verifier().refresh_keys()


async def adapter_state(adapter: object) -> str:
    """``ok`` or ``degraded`` for a non-critical adapter (the event bus, an extractor): one that implements the
    ``ReportsHealth`` port is asked; one that does not has nothing to report and is ``ok``."""
    if not isinstance(adapter, ReportsHealth):
        return "ok"
    try:
        problem = await asyncio.wait_for(adapter.health(), CHECK_TIMEOUT_SECONDS)
    except Exception:  # a plugin breaking the "never raises" rule, or too slow: degraded, never a 500
        return "degraded"
    return "ok" if problem is None else "degraded"


@get("/health/live", security=[{}], tags=["health"])
async def live() -> dict[str, str]:
    """The process is up."""
    return {"status": "live"}


@get(
    "/health/ready",
    security=[{}],
    tags=["health"],
    responses={
        503: ResponseSpec(
            data_container=dict[str, Any],
            description="A store does not answer: the status, each check, and Retry-After.",
            generate_examples=False,
        )
    },
)
async def ready(state: State) -> Response[dict[str, Any]]:
    """Whether this instance can serve requests: its stores answer within a short timeout."""
    container = state[CONTAINER_KEY]
    service = state.get(SERVICE_KEY, "all")
    probes = {"users": _probe_users}  # every service authenticates callers against the user store
    if service in ("all", "receipts"):
        probes["receipts"] = _probe_receipts
    if container.backends()["tokens"] == "jwks":
        probes["keys"] = _probe_keys  # the auth service's public keys (JWKS)
    checks: dict[str, str] = {}
    for name, probe in probes.items():
        try:
            await asyncio.wait_for(probe(container), CHECK_TIMEOUT_SECONDS)
            checks[name] = "ok"
        except Exception as exc:  # readiness reports every failure as "unavailable"
            logger.warning("readiness: %s store unavailable: %s", name, exc.__class__.__name__)
            checks[name] = "unavailable"
    checks["events"] = await adapter_state(container.event_bus())
    if service in ("all", "receipts"):
        # an extractor whose API is down makes jobs wait and retry: degraded, never unready
        checks["extractor"] = await adapter_state(container.extractor())
    if any(v == "unavailable" for v in checks.values()):
        return Response(
            {"status": "unavailable", "checks": checks},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    degraded = sorted(k for k, v in checks.items() if v == "degraded")
    return Response({"status": "ready", "checks": checks, "degraded": degraded})


HEALTH_HANDLERS = [live, ready]
