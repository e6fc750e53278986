"""Exponential back-off of repeated attempts (login guessing): how long a key must wait before its next try.

A key (an account, a client address) gets ``free_attempts`` tries at once; after that each further try must wait
``base_seconds * 2 ** (attempts - free_attempts)`` after the previous one, capped at ``max_seconds``. A key left
alone for ``forget_after_seconds`` starts over. Nothing ever refuses a key for good: a correct password after the
wait still passes, so nobody can lock another person out by guessing wrong on purpose (OWASP: avoid malicious
lockout); guessing is merely slowed to one try per ``max_seconds``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """One back-off schedule.

    Attributes:
        free_attempts: tries allowed without any wait.
        base_seconds: the wait before the first try past the free ones; doubles with every further try.
        max_seconds: the longest wait between two tries.
        forget_after_seconds: a key with no try for this long starts over (and its record may be dropped).
    """

    free_attempts: int = 5
    base_seconds: float = 1.0
    max_seconds: float = 900.0
    forget_after_seconds: float = 86_400.0

    def __post_init__(self) -> None:
        if self.free_attempts < 1 or self.base_seconds <= 0 or self.max_seconds < self.base_seconds:
            msg = "a back-off needs free_attempts >= 1 and 0 < base_seconds <= max_seconds"
            raise ValueError(msg)
        if self.forget_after_seconds < self.max_seconds:
            msg = "forget_after_seconds must be at least max_seconds, or the longest wait could never be reached"
            raise ValueError(msg)

    def delay_after(self, attempts: int) -> float:
        """Seconds a key that has made ``attempts`` counted tries must wait after the last of them."""
        over = attempts - self.free_attempts
        if over < 0:
            return 0.0
        # 2**over overflows nothing in Python, but there is no point computing a huge power
        return self.max_seconds if over >= 64 else min(self.base_seconds * 2.0**over, self.max_seconds)

    def wait(self, attempts: int, last_at: dt.datetime | None, now: dt.datetime) -> float:
        """Seconds from ``now`` until the next try is allowed (0 when it is allowed now)."""
        if last_at is None or attempts <= 0:
            return 0.0
        elapsed = (now - last_at).total_seconds()
        if elapsed >= self.forget_after_seconds:
            return 0.0
        return max(0.0, self.delay_after(attempts) - elapsed)

    def forgets(self, last_at: dt.datetime, now: dt.datetime) -> bool:
        """Whether a key whose last try was at ``last_at`` has started over by ``now``."""
        return (now - last_at).total_seconds() >= self.forget_after_seconds


def waits(
    tries: Sequence[tuple[object, Backoff]], states: Sequence[tuple[int, dt.datetime | None]], now: dt.datetime
) -> list[float]:
    """For each ``(key, schedule)`` of ``tries`` with its ``(attempts, last try)`` state, the seconds from ``now``
    until its next try is allowed: what a throttle store checks before it counts a try on several keys at once."""
    return [policy.wait(attempts, last_at, now) for (_, policy), (attempts, last_at) in zip(tries, states, strict=True)]
