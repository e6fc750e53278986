"""SqliteThrottleStore: login attempt counters in the embedded SQLite database, shared by every process on it.

Persisted so that a restart does not hand an attacker a fresh budget, and shared so that the CLI's
``users unlock`` reaches a running server at once. Each acquisition is one ``BEGIN IMMEDIATE`` transaction
(read, decide, write), which SQLite serialises across processes; a login's two (count the tries, settle them)
each run in one call on the writer's thread (``SqliteDatabase.write``), not one awaited call per statement.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.domain.backoff import Backoff, waits
from receiptcore.ports import ThrottleState, ThrottleStore

THROTTLE_V1 = """
CREATE TABLE login_throttle (
    key        TEXT PRIMARY KEY,
    attempts   INTEGER NOT NULL,
    last_at    TEXT NOT NULL,
    forget_at  TEXT NOT NULL
);
CREATE INDEX login_throttle_forget_at ON login_throttle (forget_at);
"""

# Forgotten rows are deleted every this many acquisitions (an indexed range delete; cheap, but not per request).
_SWEEP_EVERY = 256


def _ts(value: dt.datetime) -> str:
    # lexical order is time order (fixed-width UTC ISO 8601), so forget_at can be compared as text
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


class SqliteThrottleStore(ThrottleStore):
    """The ThrottleStore port over the shared SQLite database (migration ``throttle_v1``).

    Args:
        db: the shared database of the embedded profile.
    """

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        self._since_sweep = 0
        db.register_migration("throttle_v1", THROTTLE_V1)

    async def acquire(self, key: str, now: dt.datetime, policy: Backoff) -> float:
        """See ``ThrottleStore.acquire``."""
        return (await self.acquire_all([(key, policy)], now))[0]

    async def acquire_all(self, tries: Sequence[tuple[str, Backoff]], now: dt.datetime) -> list[float]:
        """See ``ThrottleStore.acquire_all``: one transaction, whatever the number of keys, in one hop."""
        await self._db.migrate()
        self._since_sweep += len(tries)
        sweep, self._since_sweep = self._since_sweep >= _SWEEP_EVERY, self._since_sweep % _SWEEP_EVERY
        return await self._db.write(lambda conn: _acquire_all(conn, tries, now, sweep=sweep))

    async def release(self, key: str) -> None:
        """See ``ThrottleStore.release``."""
        await self._db.migrate()
        async with self._db.transaction() as conn:
            await conn.execute("DELETE FROM login_throttle WHERE key = ? AND attempts <= 1", (key,))
            await conn.execute("UPDATE login_throttle SET attempts = attempts - 1 WHERE key = ?", (key,))

    async def reset(self, key: str) -> int:
        """See ``ThrottleStore.reset``."""
        await self._db.migrate()
        async with self._db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM login_throttle WHERE key = ? RETURNING attempts", (key,))
            row = await cursor.fetchone()
            return 0 if row is None else int(row[0])

    async def settle(self, reset_key: str, release_key: str | None) -> None:
        """See ``ThrottleStore.settle``: one transaction instead of a reset's and a release's, in one hop."""
        await self._db.migrate()
        await self._db.write(lambda conn: _settle(conn, reset_key, release_key))

    async def peek(self, key: str, now: dt.datetime, policy: Backoff) -> ThrottleState | None:
        """See ``ThrottleStore.peek``."""
        await self._db.migrate()
        row = await self._db.fetchone("SELECT attempts, last_at FROM login_throttle WHERE key = ?", (key,))
        if row is None:
            return None
        last_at = dt.datetime.fromisoformat(row[1])
        if policy.forgets(last_at, now):
            return None
        return ThrottleState(attempts=int(row[0]), last_at=last_at)

    async def count(self) -> int:
        """How many rows the table holds (forgotten ones not yet swept included)."""
        await self._db.migrate()
        row = await self._db.fetchone("SELECT count(*) FROM login_throttle")
        return 0 if row is None else int(row[0])


def _acquire_all(
    conn: sqlite3.Connection, tries: Sequence[tuple[str, Backoff]], now: dt.datetime, *, sweep: bool
) -> list[float]:
    """``acquire_all``'s read-decide-write, inside ``SqliteDatabase.write``'s transaction."""
    if sweep:
        conn.execute("DELETE FROM login_throttle WHERE forget_at <= ?", (_ts(now),))
    states: list[tuple[int, dt.datetime | None]] = []
    for key, _policy in tries:
        row = conn.execute("SELECT attempts, last_at, forget_at FROM login_throttle WHERE key = ?", (key,)).fetchone()
        live = row is not None and _ts(now) < row[2]
        states.append((int(row[0]), dt.datetime.fromisoformat(row[1])) if row is not None and live else (0, None))
    pending = waits(tries, states, now)
    if any(wait > 0 for wait in pending):
        return pending
    for (key, policy), (attempts, _last_at) in zip(tries, states, strict=True):
        forget_at = now + dt.timedelta(seconds=policy.forget_after_seconds)
        conn.execute(
            "INSERT INTO login_throttle (key, attempts, last_at, forget_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET attempts = excluded.attempts, last_at = excluded.last_at, "
            "forget_at = excluded.forget_at",
            (key, attempts + 1, _ts(now), _ts(forget_at)),
        )
    return [0.0] * len(tries)


def _settle(conn: sqlite3.Connection, reset_key: str, release_key: str | None) -> None:
    """``settle``'s writes, inside ``SqliteDatabase.write``'s transaction."""
    conn.execute("DELETE FROM login_throttle WHERE key = ?", (reset_key,))
    if release_key is not None:
        conn.execute("DELETE FROM login_throttle WHERE key = ? AND attempts <= 1", (release_key,))
        conn.execute("UPDATE login_throttle SET attempts = attempts - 1 WHERE key = ?", (release_key,))
