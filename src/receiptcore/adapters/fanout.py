"""Per-subscriber queues of the event buses: offer without waiting (the oldest event gives way), drain until closed.

The in-process bus and the Redis bus hand events to their local subscribers the same way, so the doorbell rule of
DESIGN.md §4 (a slow subscriber never holds up a publisher) is written once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from receiptcore.domain.events import Event

CLOSED = object()  # queued to wake iterators when the bus closes


def offer(queue: asyncio.Queue[object], item: object) -> int:
    """Put ``item`` on ``queue`` without waiting, dropping the oldest entries while it is full; returns how many
    were dropped."""
    dropped = 0
    while True:
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            try:
                queue.get_nowait()
                dropped += 1
            except asyncio.QueueEmpty:  # pragma: no cover - another consumer emptied it meanwhile
                pass
        else:
            return dropped


async def drain(queue: asyncio.Queue[object]) -> AsyncIterator[Event]:
    """The events put on ``queue``, until ``CLOSED`` arrives."""
    while True:
        item = await queue.get()
        if item is CLOSED:
            return
        if isinstance(item, Event):
            yield item
