"""The EventBus contract (ports.EventBus docstrings), one test body run against every adapter (``EVENT_BUSES`` in
conftest.py: the in-process bus and the Redis bus on the real server, with a key prefix of its own per test).

Redis delivers through a reader task, so a test that needs every published event to have reached the subscriber
queues first waits for that (``_delivered``), with a generous bound that is a hang guard, not a stopwatch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from receiptcore.domain.events import Event
from tests.contract.conftest import BUS_QUEUE_SIZE, CountingBus

# hang guards only: a loaded machine may be slow, a broken bus never answers
PATIENCE_SECONDS = 10.0


async def _next(events: AsyncIterator[Event]) -> Event:
    return await asyncio.wait_for(anext(events), timeout=PATIENCE_SECONDS)


async def _delivered(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - the reader task offers no signal to wait on
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout=PATIENCE_SECONDS)


async def test_publish_without_subscribers_does_not_raise(bus: CountingBus) -> None:
    await bus.publish(Event(type="receipt.uploaded"))


async def test_every_subscriber_gets_every_event_in_order(bus: CountingBus) -> None:
    async with bus.subscribe() as first, bus.subscribe() as second:
        sent = [Event(type="receipt.uploaded", owner_id="o", payload={"n": i}) for i in range(BUS_QUEUE_SIZE)]
        for event in sent:
            await bus.publish(event)
        assert [await _next(first) for _ in sent] == sent
        assert [await _next(second) for _ in sent] == sent


async def test_subscriber_sees_only_events_after_subscribing(bus: CountingBus) -> None:
    await bus.publish(Event(type="user.created", payload={"n": "before"}))
    async with bus.subscribe() as events:
        after = Event(type="user.created", payload={"n": "after"})
        await bus.publish(after)
        assert await _next(events) == after


async def test_slow_subscriber_never_blocks_publishers_and_drops_oldest(bus: CountingBus) -> None:
    async with bus.subscribe() as events:
        sent = [Event(type="receipt.updated", payload={"n": i}) for i in range(10)]

        async def publish_all() -> None:
            for event in sent:
                await bus.publish(event)

        # all ten publishes complete although nobody reads: the doorbell never waits
        await asyncio.wait_for(publish_all(), timeout=PATIENCE_SECONDS)
        await _delivered(lambda: bus.dropped == len(sent) - BUS_QUEUE_SIZE)
        assert [await _next(events) for _ in range(BUS_QUEUE_SIZE)] == sent[-BUS_QUEUE_SIZE:]
        assert bus.dropped == len(sent) - BUS_QUEUE_SIZE


async def test_leaving_the_context_unsubscribes(bus: CountingBus) -> None:
    async with bus.subscribe():
        assert bus.subscriber_count == 1
    assert bus.subscriber_count == 0
    await bus.publish(Event(type="role.changed"))


async def test_closing_the_bus_ends_subscriptions(bus: CountingBus) -> None:
    async with bus.subscribe() as events:
        reader = asyncio.create_task(anext(events, None))
        await asyncio.sleep(0)
        await bus.aclose()
        assert await asyncio.wait_for(reader, timeout=PATIENCE_SECONDS) is None
    async with bus.subscribe() as late:
        assert await anext(late, None) is None
