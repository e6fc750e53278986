"""RedisConfig: the settings of the Redis adapters, and nothing else (no ``Settings`` in here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RedisConfig:
    """How to reach Redis and how to name things there.

    Attributes:
        url: a redis-py URL (``redis://host:6379/0``, ``rediss://`` for TLS); it may hold a password, so it is
            never logged or put in an error message.
        prefix: the first part of every key and channel name (``<prefix>:events``), so that several installs, or
            parallel tests, can share one Redis.
        socket_timeout: seconds one command may wait for Redis (a publish never waits longer than this).
        connect_timeout: seconds to wait for a connection; also how long the first subscription waits to be
            confirmed before the caller goes on without it.
        reconnect_min_seconds: first wait before resubscribing after a lost connection; doubles per failure.
        reconnect_max_seconds: longest wait between resubscription attempts.
        health_check_seconds: an idle subscription is pinged this often, so a dead link is noticed.
        queue_size: events buffered per local subscriber before the oldest is dropped.
    """

    url: str
    prefix: str = "receiptcore"
    socket_timeout: float = 2.0
    connect_timeout: float = 2.0
    reconnect_min_seconds: float = 0.1
    reconnect_max_seconds: float = 5.0
    health_check_seconds: int = 5
    queue_size: int = 1000

    @property
    def events_channel(self) -> str:
        """The pub/sub channel that carries domain events."""
        return f"{self.prefix}:events"
