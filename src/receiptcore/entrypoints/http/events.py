"""``GET /api/events``: the caller's receipt events as server-sent events.

Each event carries an ``id:`` line (the domain event id), an ``event:`` line (its type) and the event as JSON.
A comment line every ``keepalive`` seconds keeps proxies from closing an idle stream; at each one the access
token is checked again, so a revoked or expired session's stream ends (the client reconnects with a new token).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import ServerSentEvent, ServerSentEventMessage

from receiptcore.domain.events import Event
from receiptcore.domain.policy import Principal
from receiptcore.domain.users import RECEIPTS_READ
from receiptcore.entrypoints.http.security import CONTAINER_KEY, PERMISSION_OPT, bearer_token
from receiptcore.errors import ReceiptcoreError
from receiptcore.ports import EventBus
from receiptcore.services.authentication import Authenticator
from receiptcore.services.receipts import ReceiptService

logger = logging.getLogger(__name__)

SSE_KEEPALIVE_KEY = "sse_keepalive_seconds"
DEFAULT_KEEPALIVE_SECONDS = 15.0
_BACKLOG = 256  # events buffered for one slow client; older ones are dropped first
_CLOSED = None


async def _pump(events: AsyncIterator[Event], queue: asyncio.Queue[Event | None]) -> None:
    # a separate task owns the bus iterator so that timing out a wait never cancels the iterator itself
    try:
        async for event in events:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)
    finally:
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(_CLOSED)


async def event_stream(
    bus: EventBus,
    *,
    principal: Principal,
    token: str,
    receipts: ReceiptService,
    auth: Authenticator,
    keepalive: float = DEFAULT_KEEPALIVE_SECONDS,
) -> AsyncIterator[ServerSentEventMessage]:
    """The SSE messages for one client: a ``connected`` comment once subscribed, then visible receipt events
    and keep-alive comments, until the bus closes or the token stops being valid."""
    async with bus.subscribe() as events:
        queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=_BACKLOG)
        pump = asyncio.create_task(_pump(events, queue))
        try:
            yield ServerSentEventMessage(data=None, comment="connected", retry=3000)
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=keepalive)
                except TimeoutError:
                    try:
                        await auth.authenticate(token)
                    except ReceiptcoreError:
                        return
                    yield ServerSentEventMessage(data=None, comment="keep-alive")
                    continue
                if event is _CLOSED:
                    return
                if event.type.startswith("receipt.") and receipts.can_see_event(principal, event):
                    yield ServerSentEventMessage(data=event.model_dump_json(), event=event.type, id=event.id)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump


@get("/api/events", opt={PERMISSION_OPT: RECEIPTS_READ}, tags=["receipts"])
async def receipt_events(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    receipt_service: NamedDependency[ReceiptService],
) -> ServerSentEvent:
    """Server-sent events about the receipts the caller can read (uploaded, extracted, updated, deleted...)."""
    container = request.app.state[CONTAINER_KEY]
    keepalive = float(request.app.state.get(SSE_KEEPALIVE_KEY, DEFAULT_KEEPALIVE_SECONDS))
    stream = event_stream(
        container.event_bus(),
        principal=principal,
        token=bearer_token(request),
        receipts=receipt_service,
        auth=container.authenticator(),
        keepalive=keepalive,
    )
    return ServerSentEvent(stream, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
