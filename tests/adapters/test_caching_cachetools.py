"""CachetoolsCacheFactory: bounded, expiring by the injected clock (the system clock read as ``time.time()``)."""

from __future__ import annotations

import datetime as dt
import time

from receiptcore.adapters.caching_cachetools import CachetoolsCacheFactory
from receiptcore.adapters.clock import ManualClock, SystemClock


def test_a_manual_clock_drives_both_kinds_of_expiry() -> None:
    clock = ManualClock()
    caches = CachetoolsCacheFactory(clock)
    ttl = caches.ttl(10, dt.timedelta(seconds=5))
    lru = caches.lru(10, expires_at=lambda value: value)
    ttl["a"] = 1
    lru["b"] = clock.now() + dt.timedelta(seconds=2)
    clock.advance(1.9)
    assert (ttl.get("a"), lru.get("b") is not None) == (1, True)
    clock.advance(0.1)
    assert (ttl.get("a"), lru.get("b")) == (1, None)  # gone at its expiry
    clock.advance(3)
    assert ttl.get("a") is None


def test_the_system_clock_is_read_as_time_time() -> None:
    caches = CachetoolsCacheFactory(SystemClock())
    assert caches._timer is time.time
    before = dt.datetime.now(dt.UTC).timestamp()
    assert before <= caches._timer() <= dt.datetime.now(dt.UTC).timestamp() + 0.001
    lru = caches.lru(2, expires_at=lambda value: value)
    lru["past"] = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    lru["future"] = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert "past" not in lru
    assert "future" in lru


def test_at_most_maxsize_entries_least_recently_used_first_out() -> None:
    caches = CachetoolsCacheFactory(ManualClock())
    cache = caches.ttl(2, dt.timedelta(seconds=60))
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1
    cache["c"] = 3
    assert sorted(cache) == ["a", "c"]
