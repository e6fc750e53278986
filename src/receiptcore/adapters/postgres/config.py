"""PostgresConfig: the settings of the PostgreSQL adapters, and nothing else (no ``Settings`` in here).

Kept free of the driver import so that the composition root can build it without the ``postgres`` extra.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PostgresConfig:
    """How to reach PostgreSQL and how big the pool may grow.

    Attributes:
        dsn: a libpq connection URL (``postgresql://user@host:5432/db``); it may hold a password, so it is never
            logged or put in an error message.
        min_pool_size: connections opened with the pool and kept open.
        max_pool_size: most connections of this process at once.
        connect_timeout: seconds to wait for a new connection before the store counts as unavailable.
        command_timeout: seconds one statement may run before it is cancelled (then: unavailable).
        migrate_on_start: apply pending migrations when the pool opens (``receiptcore db migrate`` does it
            explicitly; both are idempotent and safe to run concurrently).
        outbox_channel: the ``LISTEN``/``NOTIFY`` channel that wakes the outbox relay after a commit.
        outbox_poll_seconds: how often the relay looks for unsent events when no notification arrives.
    """

    dsn: str
    min_pool_size: int = 1
    max_pool_size: int = 10
    connect_timeout: float = 5.0
    command_timeout: float = 10.0
    migrate_on_start: bool = True
    outbox_channel: str = "receiptcore_outbox"
    outbox_poll_seconds: float = 2.0
