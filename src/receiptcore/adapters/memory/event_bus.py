"""InProcessEventBus: the EventBus port inside one process (the embedded profile and unit tests).

Each subscriber gets its own bounded ``asyncio.Queue``. Publishing never waits: when a subscriber's queue is full
its oldest event is dropped, because the bus is a doorbell (DESIGN.md §4) and a slow browser tab must never hold
up an upload or a worker. ``dropped`` counts what was lost, for health reports.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from receiptcore.adapters.fanout import CLOSED, drain, offer
from receiptcore.domain.events import Event
from receiptcore.ports import EventBus

log = logging.getLogger(__name__)


class InProcessEventBus(EventBus):
    """Fan-out of events to every current subscriber of this process.

    Args:
        queue_size: events buffered per subscriber before the oldest is dropped.
    """

    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._queues: set[asyncio.Queue[object]] = set()
        self._closed = False
        self.dropped = 0

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open."""
        return len(self._queues)

    async def publish(self, event: Event) -> None:
        """Deliver ``event`` to every current subscriber without waiting; never raises."""
        try:
            for queue in list(self._queues):
                self._offer(queue, event)
        except Exception:  # a doorbell must not break the caller's use case
            log.exception("dropping event %s after an unexpected error", event.type)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[AsyncIterator[Event]]:
        """Yield an async iterator over every event published from now on (ends when the bus closes)."""
        queue: asyncio.Queue[object] = asyncio.Queue(maxsize=self._queue_size)
        if self._closed:
            queue.put_nowait(CLOSED)
        self._queues.add(queue)
        try:
            yield drain(queue)
        finally:
            self._queues.discard(queue)

    async def aclose(self) -> None:
        """End every subscription's iterator; later subscriptions end at once. Safe to call twice."""
        self._closed = True
        for queue in list(self._queues):
            self._offer(queue, CLOSED)

    def _offer(self, queue: asyncio.Queue[object], item: object) -> None:
        self.dropped += offer(queue, item)
