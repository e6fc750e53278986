"""RedisEventBus beyond the shared contract: events cross instances, prefixes isolate installs, a killed
connection is resubscribed with the subscribe hooks run (caches dropped), and an outage never raises."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from receiptcore.adapters.redis.config import RedisConfig
from receiptcore.adapters.redis.event_bus import RedisEventBus
from receiptcore.domain.events import Event
from tests.servers import REDIS_URL, redis_prefix

__all__ = ["redis_prefix"]

pytestmark = pytest.mark.xdist_group("redis")


def make_bus(prefix: str, **overrides: float) -> RedisEventBus:
    return RedisEventBus(RedisConfig(url=REDIS_URL, prefix=prefix, reconnect_min_seconds=0.05, **overrides))  # type: ignore[arg-type]


@pytest.fixture
async def raw_redis() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def _next(events: AsyncIterator[Event]) -> Event:
    return await asyncio.wait_for(anext(events), timeout=5)


async def test_an_event_published_by_one_instance_reaches_every_other(redis_prefix: str) -> None:
    instances = [make_bus(redis_prefix) for _ in range(3)]
    try:
        async with instances[1].subscribe() as second, instances[2].subscribe() as third:
            sent = Event(type="user.disabled", payload={"user_id": "u1", "token_version": 2, "disabled": True})
            await instances[0].publish(sent)
            assert await _next(second) == sent
            assert await _next(third) == sent
    finally:
        for bus in instances:
            await bus.aclose()


async def test_installs_with_different_prefixes_do_not_hear_each_other(redis_prefix: str) -> None:
    ours, theirs = make_bus(redis_prefix), make_bus(f"{redis_prefix}-other")
    try:
        async with ours.subscribe() as events:
            await theirs.publish(Event(type="role.changed", payload={"n": "theirs"}))
            mine = Event(type="role.changed", payload={"n": "ours"})
            await ours.publish(mine)
            assert await _next(events) == mine
    finally:
        await ours.aclose()
        await theirs.aclose()


async def test_a_foreign_message_on_the_channel_is_ignored(redis_prefix: str, raw_redis: aioredis.Redis) -> None:
    bus = make_bus(redis_prefix)
    try:
        async with bus.subscribe() as events:
            await raw_redis.publish(f"{redis_prefix}:events", b"not json at all")
            await raw_redis.publish(f"{redis_prefix}:events", b'{"type": "no.such.event"}')
            good = Event(type="receipt.deleted", owner_id="o")
            await bus.publish(good)
            assert await _next(events) == good
    finally:
        await bus.aclose()


async def test_a_killed_connection_is_resubscribed_and_the_hooks_drop_caches(
    redis_prefix: str, raw_redis: aioredis.Redis
) -> None:
    bus = make_bus(redis_prefix)
    resets: list[int] = []
    bus.add_subscribe_hook(lambda: resets.append(bus.subscriptions))
    try:
        async with bus.subscribe() as events:
            assert resets == [1]  # the first subscription runs the hooks too
            clients = await raw_redis.client_list(_type="pubsub")
            ours = [c for c in clients if c.get("name") == f"{redis_prefix}:bus:{os.getpid()}"]
            assert len(ours) == 1
            await raw_redis.client_kill_filter(_id=ours[0]["id"])  # what CLIENT KILL does to an instance
            for _ in range(200):
                if len(resets) >= 2 and bus.connected:
                    break
                await asyncio.sleep(0.05)
            assert resets == [1, 2], "the bus did not resubscribe, or did not run the hooks when it did"
            after = Event(type="user.tokens_revoked", payload={"user_id": "u", "token_version": 3})
            await bus.publish(after)
            assert await _next(events) == after
    finally:
        await bus.aclose()


async def test_an_unreachable_redis_never_raises_and_reports_unhealthy() -> None:
    bus = RedisEventBus(RedisConfig(url="redis://127.0.0.1:1/0", prefix="nowhere", connect_timeout=0.2))
    try:
        await bus.publish(Event(type="receipt.uploaded"))  # logs and drops
        assert await bus.healthy() is False
        async with bus.subscribe() as events:  # goes on unconfirmed instead of hanging start-up
            assert bus.connected is False
            waiting = asyncio.create_task(anext(events, None))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            await bus.aclose()
            assert await asyncio.wait_for(waiting, 2) is None  # closing ends the iterator
    finally:
        await bus.aclose()


async def test_a_reachable_redis_reports_healthy(redis_prefix: str) -> None:
    bus = make_bus(redis_prefix)
    try:
        assert await bus.healthy() is True
    finally:
        await bus.aclose()


async def test_the_subscription_closes_when_the_last_local_subscriber_leaves(
    redis_prefix: str, raw_redis: aioredis.Redis
) -> None:
    bus = make_bus(redis_prefix)
    try:
        async with bus.subscribe(), bus.subscribe():
            assert bus.subscriber_count == 2
            assert await raw_redis.pubsub_numsub(f"{redis_prefix}:events") == [(f"{redis_prefix}:events".encode(), 1)]
        assert bus.subscriber_count == 0
        assert await raw_redis.pubsub_numsub(f"{redis_prefix}:events") == [(f"{redis_prefix}:events".encode(), 0)]
    finally:
        await bus.aclose()
