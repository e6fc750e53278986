"""PostgresThrottleStore: login attempt counters in PostgreSQL, shared by every instance of the auth service.

The schema is ``migrations/0003_login_throttle.sql``. Each acquisition is one transaction that row-locks the key
(an upsert that creates its row if needed), decides with the back-off policy, and writes: so
concurrent attempts on one key, on any instance, are counted one after the other, and at most the allowed
number pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from receiptcore.adapters.postgres.database import PostgresDatabase
from receiptcore.domain.backoff import Backoff
from receiptcore.ports import ThrottleState, ThrottleStore

# Forgotten rows are deleted every this many acquisitions of this process (an indexed range delete).
_SWEEP_EVERY = 256


class PostgresThrottleStore(ThrottleStore):
    """The ThrottleStore port over PostgreSQL.

    Args:
        db: the pool shared by the PostgreSQL adapters.
    """

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self._since_sweep = 0

    async def acquire(self, key: str, now: dt.datetime, policy: Backoff) -> float:
        """See ``ThrottleStore.acquire``."""
        return (await self.acquire_all([(key, policy)], now))[0]

    async def acquire_all(self, tries: Sequence[tuple[str, Backoff]], now: dt.datetime) -> list[float]:
        """See ``ThrottleStore.acquire_all``: one transaction, whatever the number of keys."""
        self._since_sweep += len(tries)
        sweep, self._since_sweep = self._since_sweep >= _SWEEP_EVERY, self._since_sweep % _SWEEP_EVERY
        async with self._db.transaction() as conn:
            # a counter lost in a server crash costs an attacker's last few tries, not data: skip the WAL flush
            await conn.execute("SET LOCAL synchronous_commit = off")
            if sweep:
                await conn.execute("DELETE FROM login_throttle WHERE forget_at <= $1", now)
            states: dict[str, tuple[int, dt.datetime | None]] = {}
            # rows locked in key order, so two transactions locking the same keys cannot deadlock
            for key in sorted(key for key, _policy in tries):
                # one statement creates the row of a new key (attempts 0 and forget_at = now read as "no record"),
                # or locks the existing one (the no-op update), and returns it
                row = await conn.fetchrow(
                    "INSERT INTO login_throttle (key, attempts, last_at, forget_at) VALUES ($1, 0, $2, $2) "
                    "ON CONFLICT (key) DO UPDATE SET key = excluded.key RETURNING attempts, last_at, forget_at",
                    key.encode(),
                    now,
                )
                live = row is not None and now < row["forget_at"]
                states[key] = (int(row["attempts"]), row["last_at"].astimezone(dt.UTC)) if live else (0, None)
            waits = [policy.wait(*states[key], now) for key, policy in tries]
            if any(wait > 0 for wait in waits):
                # change nothing: drop the rows just created for keys never seen (only they have 0 attempts)
                for key, _policy in tries:
                    await conn.execute("DELETE FROM login_throttle WHERE key = $1 AND attempts = 0", key.encode())
                return waits
            for key, policy in tries:
                await conn.execute(
                    "UPDATE login_throttle SET attempts = $2, last_at = $3, forget_at = $4 WHERE key = $1",
                    key.encode(),
                    states[key][0] + 1,
                    now,
                    now + dt.timedelta(seconds=policy.forget_after_seconds),
                )
            return [0.0] * len(tries)

    async def release(self, key: str) -> None:
        """See ``ThrottleStore.release``."""
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM login_throttle WHERE key = $1 AND attempts <= 1", key.encode())
            await conn.execute("UPDATE login_throttle SET attempts = attempts - 1 WHERE key = $1", key.encode())

    async def reset(self, key: str) -> int:
        """See ``ThrottleStore.reset``."""
        async with self._db.connection() as conn:
            attempts = await conn.fetchval("DELETE FROM login_throttle WHERE key = $1 RETURNING attempts", key.encode())
        return 0 if attempts is None else int(attempts)

    async def settle(self, reset_key: str, release_key: str | None) -> None:
        """See ``ThrottleStore.settle``: one transaction instead of a reset's and a release's."""
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM login_throttle WHERE key = $1", reset_key.encode())
            if release_key is not None:
                released = release_key.encode()
                await conn.execute("DELETE FROM login_throttle WHERE key = $1 AND attempts <= 1", released)
                await conn.execute("UPDATE login_throttle SET attempts = attempts - 1 WHERE key = $1", released)

    async def peek(self, key: str, now: dt.datetime, policy: Backoff) -> ThrottleState | None:
        """See ``ThrottleStore.peek``."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow("SELECT attempts, last_at FROM login_throttle WHERE key = $1", key.encode())
        if row is None or row["attempts"] <= 0:
            return None
        last_at = row["last_at"].astimezone(dt.UTC)
        if policy.forgets(last_at, now):
            return None
        return ThrottleState(attempts=int(row["attempts"]), last_at=last_at)

    async def count(self) -> int:
        """How many rows the table holds (forgotten ones not yet swept included)."""
        async with self._db.connection() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM login_throttle"))
