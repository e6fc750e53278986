"""CachetoolsCacheFactory: the bounded per-instance caches of the core, on cachetools.

Why an adapter and not ``import cachetools`` in ``services/authentication.py``: the core imports only the standard
library and pydantic (DESIGN.md §3), and the import-linter ``forbidden`` contract lists ``cachetools`` to keep it
so. cachetools is a library, not a framework or a driver, so the line is one of principle, and cheap to hold:
the core sees only ``collections.abc.MutableMapping``; which entries to cache and which event drops them stays in
the core, while bounding, least-recently-used eviction and expiry (what the Authenticator used to write by hand
with ``OrderedDict`` and timestamps) happen here.

Both kinds of cache read the injected ``Clock``, not ``time.monotonic``, so a test's manual clock drives expiry
exactly as it drives token lifetimes (the system clock is read as ``time.time()``, the same time without a
``datetime``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from cachetools import TLRUCache, TTLCache

from receiptcore.adapters.clock import SystemClock
from receiptcore.ports import CacheFactory, Clock


class CachetoolsCacheFactory(CacheFactory):
    """The CacheFactory port on cachetools' ``TLRUCache`` (per-entry expiry) and ``TTLCache``.

    Args:
        clock: the time source that decides expiry.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # the system clock's now().timestamp() is time.time(), read without building a datetime (~1 µs of every
        # look-up of the Authenticator's caches)
        self._timer: Callable[[], float] = time.time if type(clock) is SystemClock else self._clock_timer

    def _clock_timer(self) -> float:
        return self._clock.now().timestamp()

    def lru(self, maxsize: int, *, expires_at: Callable[[Any], dt.datetime]) -> MutableMapping[str, Any]:
        """At most ``maxsize`` entries, least recently used evicted first, each gone at ``expires_at(value)``."""

        def ttu(_key: str, value: Any, _now: float) -> float:
            return expires_at(value).timestamp()

        return TLRUCache(maxsize=max(maxsize, 1), ttu=ttu, timer=self._timer)

    def ttl(self, maxsize: int, ttl: dt.timedelta) -> MutableMapping[str, Any]:
        """At most ``maxsize`` entries (least recently used evicted first), each gone ``ttl`` after it was stored."""
        return TTLCache(maxsize=max(maxsize, 1), ttl=ttl.total_seconds(), timer=self._timer)
