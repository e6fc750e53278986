"""A per-instance sliding-window limiter of failed attempts (login brute-force protection).

Per instance on purpose: it needs no shared store, and behind N replicas an attacker gets at most N times the
budget, which still turns an online guessing attack from millions of tries into a handful per window.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict, deque

from receiptcore.errors import RateLimited


class FailureThrottle:
    """Refuses a key after ``max_failures`` failures within ``window``, until the oldest of them ages out.

    Args:
        max_failures: failures tolerated within one window.
        window: the sliding window.
        max_keys: keys remembered at most; the least recently failing are forgotten first, so a spray of
            distinct keys cannot exhaust memory.
    """

    def __init__(self, max_failures: int, window: dt.timedelta, max_keys: int = 100_000) -> None:
        self._max = max_failures
        self._window = window
        self._max_keys = max_keys
        self._failures: OrderedDict[str, deque[dt.datetime]] = OrderedDict()

    def check(self, key: str, now: dt.datetime) -> None:
        """Raise RateLimited (with ``retry_after`` in seconds) if ``key`` is over its budget at ``now``."""
        failures = self._failures.get(key)
        if failures is None:
            return
        while failures and now - failures[0] >= self._window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return
        if len(failures) >= self._max:
            retry_after = (failures[0] + self._window - now).total_seconds()
            raise RateLimited("too many failed attempts; try again later", retry_after=max(retry_after, 1.0))

    def record_failure(self, key: str, now: dt.datetime) -> None:
        """Count one failure for ``key`` at ``now``."""
        # Only the newest ``max`` failures matter: the window is full when the oldest of them is recent.
        failures = self._failures.setdefault(key, deque(maxlen=self._max))
        failures.append(now)
        self._failures.move_to_end(key)
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def reset(self, key: str) -> None:
        """Forget the failures of ``key`` (after a success)."""
        self._failures.pop(key, None)
