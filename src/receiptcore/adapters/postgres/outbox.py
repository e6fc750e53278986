"""The transactional outbox of the PostgreSQL user repo, and the relay that publishes it.

A role change, a disable or a password change (a ``token_version`` bump) must never be committed without its
event, or other instances would keep trusting the old token until their cache TTL. So the repo writes the event
row in the same transaction as the user row (``record``), and ``OutboxRelay`` publishes unsent rows to the
EventBus after commit and marks them sent: at least once. A crash after the commit and before the publish leaves
the row unsent; the next relay run, in this process or any other, publishes it. A ``NOTIFY`` in the transaction
wakes every relay as soon as it commits; a poll interval covers a missed notification.

The use cases publish the same events directly as well (the fast path, and all the embedded profile has), so a
subscriber can see one event twice: every consumer of ``user.*`` events only drops caches, which is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Sequence

import asyncpg
from pydantic import ValidationError

from receiptcore.adapters.postgres.database import PostgresDatabase
from receiptcore.adapters.postgres.errors import DRIVER_ERRORS
from receiptcore.domain.events import Event
from receiptcore.domain.users import User
from receiptcore.errors import StorageUnavailable
from receiptcore.ports import EventBus

log = logging.getLogger(__name__)

SENT_ROWS_KEPT = dt.timedelta(days=7)
_PURGE_EVERY = dt.timedelta(hours=1)
_MAX_BACKOFF_SECONDS = 30.0
_RETRIED: tuple[type[BaseException], ...] = (StorageUnavailable, *DRIVER_ERRORS)


def _user_event(kind: str, user: User, **extra: object) -> Event:
    # the payload every instance's cache invalidation reads (services.auth.user_event makes the same shape)
    payload: dict[str, object] = {"user_id": user.id, "token_version": user.token_version, **extra}
    return Event.model_validate({"type": kind, "payload": payload})


def change_events(before: User | None, after: User) -> list[Event]:
    """The events a write of ``after`` over ``before`` (None: a new user) must publish.

    Roles changed → ``user.roles_changed``; disabled flag changed → ``user.disabled``; otherwise a bumped
    ``token_version`` (a password change, a forced sign-out) → ``user.tokens_revoked``. A profile edit or a
    password rehash at login changes nothing another instance caches, and records nothing.
    """
    if before is None:
        return [_user_event("user.created", after)]
    events: list[Event] = []
    if before.roles != after.roles:
        events.append(_user_event("user.roles_changed", after, roles=list(after.roles)))
    if before.disabled != after.disabled:
        events.append(_user_event("user.disabled", after, disabled=after.disabled))
    if not events and before.token_version != after.token_version:
        events.append(_user_event("user.tokens_revoked", after))
    return events


async def record(conn: asyncpg.Connection, events: Sequence[Event], channel: str) -> None:
    """Insert ``events`` into the outbox inside the caller's transaction and notify relays on commit."""
    if not events:
        return
    await conn.executemany("INSERT INTO outbox (event) VALUES ($1::jsonb)", [(e.model_dump_json(),) for e in events])
    await conn.execute("SELECT pg_notify($1, '')", channel)


class OutboxRelay:
    """Publishes unsent outbox rows to ``bus`` and marks them sent; runs as a background task.

    Args:
        db: the database holding the outbox.
        bus: where events go.
        batch_size: rows taken per transaction.
    """

    def __init__(self, db: PostgresDatabase, bus: EventBus, *, batch_size: int = 100) -> None:
        self._db = db
        self._bus = bus
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_purge: dt.datetime | None = None

    async def relay_once(self) -> int:
        """Publish one batch of unsent events, oldest first, and mark them sent; returns how many.

        Rows another relay is publishing right now are skipped (``SKIP LOCKED``), so relays in several instances
        share the work. If this process dies while publishing, the transaction rolls back and the rows stay
        unsent: they are published again (at least once). Raises StorageUnavailable.
        """
        async with self._db.transaction() as conn:
            rows = await conn.fetch(
                "SELECT id, event::text AS event FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1 "
                "FOR UPDATE SKIP LOCKED",
                self._batch_size,
            )
            for row in rows:
                try:
                    event = Event.model_validate_json(row["event"])
                except ValidationError:
                    # written by a newer or older version with another event shape: skip it rather than stall
                    log.warning("outbox row %s holds no valid event; marking it sent unpublished", row["id"])
                    continue
                await self._bus.publish(event)
            if rows:
                await conn.execute(
                    "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
                )
        return len(rows)

    async def drain(self) -> int:
        """Relay batches until no unsent row is left; returns how many events were published."""
        total = 0
        while (count := await self.relay_once()) > 0:
            total += count
        return total

    async def purge_sent(self, older_than: dt.timedelta = SENT_ROWS_KEPT) -> int:
        """Delete rows sent more than ``older_than`` ago; returns how many."""
        async with self._db.connection() as conn:
            status = await conn.execute("DELETE FROM outbox WHERE sent_at < now() - $1::interval", older_than)
        return int(status.split()[-1])

    def start(self) -> None:
        """Start the background task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="receiptcore-outbox-relay")

    async def aclose(self) -> None:
        """Stop the background task. Safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self) -> None:
        """Relay forever: at once on a notification, else every poll interval; back off while the database is
        unavailable."""
        listener: asyncpg.Connection | None = None
        failures = 0
        try:
            while True:
                try:
                    if listener is None or listener.is_closed():
                        listener = await self._listen()
                    await self.drain()
                    await self._purge_now_and_then()
                    failures = 0
                except _RETRIED as exc:
                    failures += 1
                    if listener is not None:
                        listener.terminate()
                        listener = None
                    delay = min(_MAX_BACKOFF_SECONDS, 0.5 * 2**failures)
                    log.warning("outbox relay: %s; retrying in %.1f s", exc, delay)
                    await asyncio.sleep(delay)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._db.config.outbox_poll_seconds)
                self._wake.clear()
        finally:
            if listener is not None:
                listener.terminate()

    async def _listen(self) -> asyncpg.Connection:
        config = self._db.config
        conn = await asyncpg.connect(config.dsn, timeout=config.connect_timeout)
        await conn.add_listener(config.outbox_channel, lambda *_: self._wake.set())
        return conn

    async def _purge_now_and_then(self) -> None:
        now = dt.datetime.now(dt.UTC)
        if self._last_purge is None or now - self._last_purge >= _PURGE_EVERY:
            self._last_purge = now
            removed = await self.purge_sent()
            if removed:
                log.info("outbox relay: purged %d sent event(s)", removed)
