"""The back-off schedule (domain.backoff) and the login throttle's concurrency."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiptcore.adapters.clock import ManualClock
from receiptcore.adapters.memory.throttle_store import MemoryThrottleStore
from receiptcore.domain.backoff import Backoff
from receiptcore.errors import InvalidCredentials, RateLimited
from receiptcore.services.throttle import LoginThrottle, ThrottlePolicy

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def test_free_attempts_then_doubling_waits_capped() -> None:
    backoff = Backoff(free_attempts=3, base_seconds=2.0, max_seconds=30.0, forget_after_seconds=60.0)
    assert [backoff.delay_after(n) for n in range(9)] == [0, 0, 0, 2, 4, 8, 16, 30, 30]
    assert backoff.delay_after(10**9) == 30.0


def test_wait_counts_from_the_last_attempt_and_forgets_after_the_quiet_time() -> None:
    backoff = Backoff(free_attempts=1, base_seconds=10.0, max_seconds=40.0, forget_after_seconds=100.0)
    assert backoff.wait(0, None, T0) == 0
    assert backoff.wait(2, T0, T0 + dt.timedelta(seconds=5)) == 15.0
    assert backoff.wait(2, T0, T0 + dt.timedelta(seconds=20)) == 0
    assert backoff.wait(9, T0, T0 + dt.timedelta(seconds=99)) == 0  # capped wait long over
    assert backoff.forgets(T0, T0 + dt.timedelta(seconds=100))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"free_attempts": 0},
        {"base_seconds": 0},
        {"base_seconds": 10, "max_seconds": 5},
        {"max_seconds": 100, "forget_after_seconds": 50},
    ],
)
def test_impossible_schedules_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"back-off|forget"):
        Backoff(**kwargs)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10_000), st.floats(min_value=0, max_value=10**6))
def test_the_wait_is_never_negative_and_never_above_the_cap(attempts: int, elapsed: float) -> None:
    backoff = Backoff()
    wait = backoff.wait(attempts, T0, T0 + dt.timedelta(seconds=elapsed))
    assert 0 <= wait <= backoff.max_seconds


async def test_concurrent_guesses_cannot_share_one_free_slot() -> None:
    clock = ManualClock(T0)
    store = MemoryThrottleStore()
    throttle = LoginThrottle(store, clock, ThrottlePolicy(account=Backoff(free_attempts=3)))
    ran = 0

    async def wrong() -> None:
        nonlocal ran
        ran += 1
        await asyncio.sleep(0)
        raise InvalidCredentials("wrong")

    results = await asyncio.gather(
        *(throttle.guard("a@example.com", None, wrong) for _ in range(50)), return_exceptions=True
    )
    assert ran == 3
    assert sum(isinstance(r, RateLimited) for r in results) == 47
