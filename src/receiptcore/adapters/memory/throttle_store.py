"""Login attempt counters in this process's memory (the memory profile and unit tests)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence

from receiptcore.domain.backoff import Backoff, waits
from receiptcore.ports import ThrottleState, ThrottleStore

# Forgotten records are swept every this many acquisitions: the sweep is O(records), so this keeps its cost per
# request constant while memory stays bounded by the keys tried within one forget window.
_SWEEP_EVERY = 1024


class MemoryThrottleStore(ThrottleStore):
    """Counters in a dict; records leave only when their key has been quiet for the policy's forget time.

    There is deliberately no size cap with eviction: evicting the oldest records is exactly what let a spray of
    new keys restore an attacker's guesses. The number of records is bounded by the keys tried within one forget
    window, which the per-client limit in turn slows.
    """

    def __init__(self) -> None:
        # key -> (attempts, last attempt, when the record is forgotten)
        self._records: dict[str, tuple[int, dt.datetime, dt.datetime]] = {}
        self._lock = asyncio.Lock()
        self._since_sweep = 0

    async def acquire(self, key: str, now: dt.datetime, policy: Backoff) -> float:
        """See ``ThrottleStore.acquire``."""
        return (await self.acquire_all([(key, policy)], now))[0]

    async def acquire_all(self, tries: Sequence[tuple[str, Backoff]], now: dt.datetime) -> list[float]:
        """See ``ThrottleStore.acquire_all``."""
        async with self._lock:
            self._sweep(now)
            states = []
            for key, _policy in tries:
                record = self._records.get(key)
                states.append((0, None) if record is None or now >= record[2] else (record[0], record[1]))
            pending = waits(tries, states, now)
            if any(wait > 0 for wait in pending):
                return pending
            for (key, policy), (attempts, _last_at) in zip(tries, states, strict=True):
                self._records[key] = (attempts + 1, now, now + dt.timedelta(seconds=policy.forget_after_seconds))
            return [0.0] * len(tries)

    async def release(self, key: str) -> None:
        """See ``ThrottleStore.release``."""
        async with self._lock:
            self._release(key)

    async def reset(self, key: str) -> int:
        """See ``ThrottleStore.reset``."""
        async with self._lock:
            record = self._records.pop(key, None)
            return 0 if record is None else record[0]

    async def settle(self, reset_key: str, release_key: str | None) -> None:
        """See ``ThrottleStore.settle``."""
        async with self._lock:
            self._records.pop(reset_key, None)
            if release_key is not None:
                self._release(release_key)

    async def peek(self, key: str, now: dt.datetime, policy: Backoff) -> ThrottleState | None:
        """See ``ThrottleStore.peek``."""
        record = self._records.get(key)
        if record is None or policy.forgets(record[1], now):
            return None
        return ThrottleState(attempts=record[0], last_at=record[1])

    async def count(self) -> int:
        """How many records are held (forgotten ones not yet swept included)."""
        return len(self._records)

    def _release(self, key: str) -> None:
        record = self._records.get(key)
        if record is None:
            return
        if record[0] <= 1:
            del self._records[key]
        else:
            self._records[key] = (record[0] - 1, record[1], record[2])

    def _sweep(self, now: dt.datetime) -> None:
        self._since_sweep += 1
        if self._since_sweep < _SWEEP_EVERY:
            return
        self._since_sweep = 0
        for key in [key for key, record in self._records.items() if now >= record[2]]:
            del self._records[key]
