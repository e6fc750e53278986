"""RedisEventBus: the EventBus port over Redis pub/sub, shared by every instance and worker.

One Redis connection per process carries the subscription (``<prefix>:events``); local subscribers each get a
bounded queue fed from it, as in ``InProcessEventBus``. Pub/sub is at-most-once: an event published while an
instance is disconnected never reaches it. So every (re)subscription, including the first, runs the subscribe
hooks (``add_subscribe_hook``): the composition root registers the auth service's cache reset there, and an
instance that may have missed revocations forgets its cached user state and roles at once instead of waiting
for their TTL. The TTL stays the bound when messages are lost without a reconnect; the bus only speeds
revocation up.

A lost connection is retried with exponential backoff (``reconnect_min_seconds`` doubling up to
``reconnect_max_seconds``, with jitter); publishing during an outage logs and drops, as the port requires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import RedisError

from receiptcore.adapters.fanout import CLOSED, drain, offer
from receiptcore.adapters.redis.config import RedisConfig
from receiptcore.domain.events import Event
from receiptcore.ports import EventBus

log = logging.getLogger(__name__)

_DRIVER_ERRORS = (RedisError, OSError)
SubscribeHook = Callable[[], object]


class RedisEventBus(EventBus):
    """Domain events over Redis pub/sub.

    Args:
        config: URL, prefix, timeouts and backoff.
    """

    def __init__(self, config: RedisConfig) -> None:
        self.config = config
        self._client = aioredis.Redis.from_url(
            config.url,
            socket_timeout=config.socket_timeout,
            socket_connect_timeout=config.connect_timeout,
            health_check_interval=config.health_check_seconds,
            # CLIENT LIST names each process's connections, so an operator (or a test) can find one instance's
            client_name=f"{config.prefix}:bus:{os.getpid()}",
        )
        self._queues: set[asyncio.Queue[object]] = set()
        self._hooks: list[SubscribeHook] = []
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._closed = False
        self.dropped = 0
        self.subscriptions = 0  # how many times the channel was (re)subscribed

    @property
    def subscriber_count(self) -> int:
        """How many local subscriptions are open."""
        return len(self._queues)

    @property
    def connected(self) -> bool:
        """Whether the shared subscription is live right now."""
        return self._subscribed.is_set()

    def add_subscribe_hook(self, hook: SubscribeHook) -> None:
        """Call ``hook()`` after every (re)subscription: events may have been missed while disconnected."""
        self._hooks.append(hook)

    async def publish(self, event: Event) -> None:
        """Publish ``event`` to every instance; logs and drops it when Redis cannot be reached (never raises)."""
        try:
            await self._client.publish(self.config.events_channel, event.model_dump_json())
        except _DRIVER_ERRORS as exc:
            log.warning("Redis unavailable, dropping event %s: %s", event.type, exc.__class__.__name__)
        except Exception:  # a doorbell must not break the caller's use case
            log.exception("dropping event %s after an unexpected error", event.type)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[AsyncIterator[Event]]:
        """Yield an async iterator over every event published from now on, by any instance.

        The first subscription waits up to ``connect_timeout`` for Redis to confirm it; when Redis is down it
        goes on unconfirmed (events arrive once the connection is back), so start-up never hangs on the bus.
        """
        queue: asyncio.Queue[object] = asyncio.Queue(maxsize=self.config.queue_size)
        if self._closed:
            queue.put_nowait(CLOSED)
        self._queues.add(queue)
        try:
            if not self._closed:
                if self._reader is None or self._reader.done():
                    self._reader = asyncio.create_task(self._read_forever(), name="receiptcore-redis-events")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._subscribed.wait(), self.config.connect_timeout)
            yield drain(queue)
        finally:
            self._queues.discard(queue)
            if not self._queues:
                await self._stop_reader()

    async def healthy(self) -> bool:
        """Whether Redis answers a PING within the socket timeout (readiness reports "degraded" if not)."""
        try:
            return bool(await self._client.ping())
        except _DRIVER_ERRORS:
            return False

    async def health(self) -> str | None:
        """The ``ReportsHealth`` port: None while Redis answers a PING, else why the bus is degraded."""
        return None if await self.healthy() else "Redis does not answer; events wait for it (the store is the queue)"

    async def aclose(self) -> None:
        """End every subscription's iterator and close the connections. Safe to call twice."""
        self._closed = True
        for queue in list(self._queues):
            self._offer(queue, CLOSED)
        await self._stop_reader()
        with contextlib.suppress(*_DRIVER_ERRORS):
            await self._client.aclose()

    async def _stop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        self._subscribed.clear()

    async def _read_forever(self) -> None:
        failures = 0
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self.config.events_channel)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        failures = 0
                        self._on_subscribed()
                    elif message["type"] == "message":
                        self._deliver(message["data"])
            except Exception as exc:  # whatever ends the subscription, the next one must still come
                self._subscribed.clear()
                delay = self._backoff(failures)
                failures += 1
                if isinstance(exc, _DRIVER_ERRORS):
                    log.warning("Redis subscription lost (%s); resubscribing in %.2f s", exc.__class__.__name__, delay)
                else:
                    log.exception("Redis subscription failed; resubscribing in %.2f s", delay)
            finally:
                with contextlib.suppress(*_DRIVER_ERRORS):
                    await pubsub.aclose()
            await asyncio.sleep(delay)

    def _backoff(self, failures: int) -> float:
        ceiling = min(self.config.reconnect_max_seconds, self.config.reconnect_min_seconds * 2.0**failures)
        # jitter, so that every instance does not come back at the same instant after a Redis restart
        return ceiling * (0.5 + random.random() / 2)  # noqa: S311 - not cryptographic

    def _on_subscribed(self) -> None:
        self.subscriptions += 1
        self._subscribed.set()
        for hook in list(self._hooks):
            try:
                hook()
            except Exception:
                log.exception("Redis subscribe hook failed")

    def _deliver(self, data: bytes | str) -> None:
        try:
            event = Event.model_validate_json(data)
        except ValidationError:
            # another program on a shared Redis, or a newer version: not ours to act on
            log.warning("ignoring a message on %s that is not a receiptcore event", self.config.events_channel)
            return
        for queue in list(self._queues):
            self._offer(queue, event)

    def _offer(self, queue: asyncio.Queue[object], item: object) -> None:
        self.dropped += offer(queue, item)
