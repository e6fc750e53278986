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
from receiptcore.services.throttle import LoginThrottle, ThrottlePolicy, account_key, client_key

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


async def test_a_try_refused_on_the_account_leaves_the_client_untouched_and_a_success_gives_its_try_back() -> None:
    clock = ManualClock(T0)
    store = MemoryThrottleStore()
    throttle = LoginThrottle(store, clock, ThrottlePolicy(account=Backoff(free_attempts=1)))

    async def wrong() -> None:
        raise InvalidCredentials("wrong")

    async def right() -> str:
        return "ok"

    with pytest.raises(InvalidCredentials):
        await throttle.guard("a@example.com", "192.0.2.1", wrong)
    client = await store.peek(client_key("192.0.2.1"), clock.now(), ThrottlePolicy().client)
    assert client is not None
    assert client.attempts == 1
    clock.advance(0.5)
    with pytest.raises(RateLimited) as refused:
        await throttle.guard("a@example.com", "192.0.2.1", right)
    assert refused.value.extra["key"] == "account"
    assert await store.peek(client_key("192.0.2.1"), clock.now(), ThrottlePolicy().client) == client
    assert await store.peek(account_key("b@example.com"), clock.now(), ThrottlePolicy().account) is None
    assert await throttle.guard("b@example.com", "192.0.2.1", right) == "ok"
    # the success reset its account and took its own try back from the client
    assert await store.peek(account_key("b@example.com"), clock.now(), ThrottlePolicy().account) is None
    after = await store.peek(client_key("192.0.2.1"), clock.now(), ThrottlePolicy().client)
    assert after is not None
    assert after.attempts == 1
