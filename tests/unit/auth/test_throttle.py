"""FailureThrottle: a sliding window per key, bounded memory."""

from __future__ import annotations

import datetime as dt

import pytest

from receiptcore.errors import RateLimited
from receiptcore.services.throttle import FailureThrottle

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_window_slides_with_the_oldest_failure() -> None:
    throttle = FailureThrottle(3, dt.timedelta(seconds=100))
    for second in (0, 10, 20):
        throttle.check("k", at(second))
        throttle.record_failure("k", at(second))
    with pytest.raises(RateLimited) as caught:
        throttle.check("k", at(30))
    assert caught.value.retry_after == pytest.approx(70)
    throttle.check("k", at(100))  # the failure at 0 aged out: one more try allowed
    throttle.record_failure("k", at(100))
    with pytest.raises(RateLimited) as caught:
        throttle.check("k", at(101))
    assert caught.value.retry_after == pytest.approx(9)  # until the failure at 10 ages out
    throttle.check("other", at(101))


def test_reset_forgets_failures() -> None:
    throttle = FailureThrottle(1, dt.timedelta(minutes=15))
    throttle.record_failure("k", T0)
    with pytest.raises(RateLimited):
        throttle.check("k", T0)
    throttle.reset("k")
    throttle.check("k", T0)


def test_memory_is_bounded_by_forgetting_the_stalest_keys() -> None:
    throttle = FailureThrottle(1, dt.timedelta(minutes=15), max_keys=3)
    for key in "abcd":
        throttle.record_failure(key, T0)
    throttle.check("a", T0)  # forgotten
    for key in "bcd":
        with pytest.raises(RateLimited):
            throttle.check(key, T0)
