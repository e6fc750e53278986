"""The EventBus contract (ports.EventBus docstrings), one test body run against every adapter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from receiptcore.adapters.memory.event_bus import InProcessEventBus
from receiptcore.adapters.redis.config import RedisConfig
from receiptcore.adapters.redis.event_bus import RedisEventBus
from receiptcore.domain.events import Event
from receiptcore.ports import EventBus
from tests.servers import REDIS_URL, redis_prefix

__all__ = ["redis_prefix"]


@pytest.fixture
async def inprocess_bus() -> AsyncIterator[EventBus]:
    adapter = InProcessEventBus(queue_size=8)
    yield adapter
    await adapter.aclose()


@pytest.fixture
async def redis_bus(redis_prefix: str) -> AsyncIterator[EventBus]:
    adapter = RedisEventBus(RedisConfig(url=REDIS_URL, prefix=redis_prefix, queue_size=8))
    yield adapter
    await adapter.aclose()


@pytest.fixture(
    params=[
        pytest.param("inprocess_bus", id="inprocess"),
        pytest.param("redis_bus", id="redis", marks=pytest.mark.xdist_group("redis")),
    ]
)
def bus(request: pytest.FixtureRequest) -> EventBus:
    adapter: EventBus = request.getfixturevalue(request.param)
    return adapter


async def _next(events: AsyncIterator[Event]) -> Event:
    return await asyncio.wait_for(anext(events), timeout=2)


async def test_publish_without_subscribers_does_not_raise(bus: EventBus) -> None:
    await bus.publish(Event(type="receipt.uploaded"))


async def test_every_subscriber_gets_every_event_in_order(bus: EventBus) -> None:
    async with bus.subscribe() as first, bus.subscribe() as second:
        sent = [Event(type="receipt.uploaded", owner_id="o", payload={"n": i}) for i in range(3)]
        for event in sent:
            await bus.publish(event)
        assert [await _next(first) for _ in sent] == sent
        assert [await _next(second) for _ in sent] == sent


async def test_subscriber_sees_only_events_after_subscribing(bus: EventBus) -> None:
    await bus.publish(Event(type="user.created", payload={"n": "before"}))
    async with bus.subscribe() as events:
        after = Event(type="user.created", payload={"n": "after"})
        await bus.publish(after)
        assert await _next(events) == after


async def test_slow_subscriber_never_blocks_publishers_and_drops_oldest() -> None:
    bus = InProcessEventBus(queue_size=3)
    async with bus.subscribe() as events:
        sent = [Event(type="receipt.updated", payload={"n": i}) for i in range(10)]
        # all ten publishes complete although nobody reads: the doorbell never waits
        await asyncio.wait_for(asyncio.gather(*(bus.publish(e) for e in sent)), timeout=1)
        assert [await _next(events) for _ in range(3)] == sent[-3:]
        assert bus.dropped == 7
    await bus.aclose()


async def test_leaving_the_context_unsubscribes() -> None:
    bus = InProcessEventBus()
    async with bus.subscribe():
        assert bus.subscriber_count == 1
    assert bus.subscriber_count == 0
    await bus.publish(Event(type="role.changed"))


async def test_closing_the_bus_ends_subscriptions() -> None:
    bus = InProcessEventBus()
    async with bus.subscribe() as events:
        reader = asyncio.create_task(anext(events, None))
        await asyncio.sleep(0)
        await bus.aclose()
        assert await asyncio.wait_for(reader, timeout=1) is None
    async with bus.subscribe() as late:
        assert await anext(late, None) is None
