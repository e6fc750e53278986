"""The ThrottleStore contract (ports.ThrottleStore docstrings), one test body run against every adapter.

The adapters: ``THROTTLE_STORES`` in conftest.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from receiptcore.domain.backoff import Backoff
from receiptcore.ports import ThrottleState, ThrottleStore

T0 = dt.datetime(2026, 6, 1, 8, 0, 0, 250_000, tzinfo=dt.UTC)
POLICY = Backoff(free_attempts=2, base_seconds=10.0, max_seconds=40.0, forget_after_seconds=100.0)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


async def test_free_attempts_pass_then_the_wait_is_reported_and_nothing_counted(throttle_store: ThrottleStore) -> None:
    assert await throttle_store.acquire("k", at(0), POLICY) == 0
    assert await throttle_store.acquire("k", at(1), POLICY) == 0
    assert await throttle_store.acquire("k", at(2), POLICY) == pytest.approx(9.0)
    assert await throttle_store.acquire("k", at(5), POLICY) == pytest.approx(6.0)
    assert await throttle_store.peek("k", at(5), POLICY) == ThrottleState(attempts=2, last_at=at(1))
    assert await throttle_store.acquire("k", at(11), POLICY) == 0  # the wait is over: counted
    assert await throttle_store.acquire("k", at(12), POLICY) == pytest.approx(19.0)  # doubled
    assert await throttle_store.peek("k", at(12), POLICY) == ThrottleState(attempts=3, last_at=at(11))


async def test_keys_are_independent(throttle_store: ThrottleStore) -> None:
    for second in range(2):
        await throttle_store.acquire("a", at(second), POLICY)
    assert await throttle_store.acquire("a", at(2), POLICY) > 0
    assert await throttle_store.acquire("b", at(2), POLICY) == 0
    assert await throttle_store.peek("c", at(2), POLICY) is None


async def test_a_quiet_key_is_forgotten(throttle_store: ThrottleStore) -> None:
    for second in range(2):
        await throttle_store.acquire("k", at(second), POLICY)
    assert await throttle_store.peek("k", at(101), POLICY) is None
    assert await throttle_store.acquire("k", at(101), POLICY) == 0
    assert await throttle_store.peek("k", at(101), POLICY) == ThrottleState(attempts=1, last_at=at(101))


async def test_release_takes_back_one_attempt_and_reset_forgets_all(throttle_store: ThrottleStore) -> None:
    await throttle_store.acquire("k", at(0), POLICY)
    await throttle_store.acquire("k", at(1), POLICY)
    await throttle_store.release("k")
    assert await throttle_store.peek("k", at(1), POLICY) == ThrottleState(attempts=1, last_at=at(1))
    await throttle_store.release("k")
    assert await throttle_store.peek("k", at(1), POLICY) is None
    await throttle_store.release("unknown")
    await throttle_store.acquire("k", at(2), POLICY)
    await throttle_store.acquire("k", at(3), POLICY)
    assert await throttle_store.reset("k") == 2
    assert await throttle_store.reset("k") == 0
    assert await throttle_store.acquire("k", at(3), POLICY) == 0


ACCOUNT = Backoff(free_attempts=1, base_seconds=10.0, max_seconds=40.0, forget_after_seconds=100.0)


async def test_acquire_all_counts_every_key_or_none(throttle_store: ThrottleStore) -> None:
    assert await throttle_store.acquire_all([("client", POLICY), ("account", ACCOUNT)], at(0)) == [0.0, 0.0]
    assert await throttle_store.peek("client", at(0), POLICY) == ThrottleState(attempts=1, last_at=at(0))
    assert await throttle_store.peek("account", at(0), ACCOUNT) == ThrottleState(attempts=1, last_at=at(0))
    # the account must wait: nothing is counted on the client either, not even its last attempt's time
    waits = await throttle_store.acquire_all([("client", POLICY), ("account", ACCOUNT), ("new", POLICY)], at(2))
    assert waits == [0.0, pytest.approx(8.0), 0.0]
    assert await throttle_store.peek("client", at(2), POLICY) == ThrottleState(attempts=1, last_at=at(0))
    assert await throttle_store.peek("account", at(2), ACCOUNT) == ThrottleState(attempts=1, last_at=at(0))
    assert await throttle_store.peek("new", at(2), POLICY) is None
    assert await throttle_store.reset("new") == 0
    assert await throttle_store.acquire_all([("client", POLICY), ("other", ACCOUNT)], at(3)) == [0.0, 0.0]
    # the client must wait now: again nothing counted anywhere
    waits = await throttle_store.acquire_all([("client", POLICY), ("fresh", ACCOUNT)], at(4))
    assert waits == [pytest.approx(9.0), 0.0]
    assert await throttle_store.peek("fresh", at(4), ACCOUNT) is None
    assert await throttle_store.peek("client", at(4), POLICY) == ThrottleState(attempts=2, last_at=at(3))
    assert await throttle_store.acquire_all([], at(4)) == []


async def test_concurrent_acquire_all_get_only_the_free_slots(throttle_store: ThrottleStore) -> None:
    # the two keys in either order from concurrent callers: no deadlock, and the shared key passes only twice
    orders = [
        [("shared", POLICY), (f"own{n}", POLICY)] if n % 2 else [(f"own{n}", POLICY), ("shared", POLICY)]
        for n in range(8)
    ]
    results = await asyncio.gather(*(throttle_store.acquire_all(order, at(0)) for order in orders))
    assert sum(1 for waits in results if not any(waits)) == 2
    assert await throttle_store.peek("shared", at(0), POLICY) == ThrottleState(attempts=2, last_at=at(0))
    counted = [n for n in range(8) if await throttle_store.peek(f"own{n}", at(0), POLICY) is not None]
    assert len(counted) == 2


async def test_settle_resets_one_key_and_releases_the_other(throttle_store: ThrottleStore) -> None:
    for second in range(2):
        await throttle_store.acquire("account", at(second), POLICY)
        await throttle_store.acquire("client", at(second), POLICY)
    await throttle_store.settle("account", "client")
    assert await throttle_store.peek("account", at(2), POLICY) is None
    assert await throttle_store.peek("client", at(2), POLICY) == ThrottleState(attempts=1, last_at=at(1))
    assert await throttle_store.acquire("account", at(2), POLICY) == 0
    await throttle_store.settle("account", "client")  # the client's last attempt: its record goes
    assert await throttle_store.peek("client", at(2), POLICY) is None
    await throttle_store.acquire("account", at(3), POLICY)
    await throttle_store.acquire("other", at(3), POLICY)
    await throttle_store.settle("account", None)  # no client key: only the reset
    await throttle_store.settle("unknown", "unknown too")  # unknown keys: nothing happens
    assert await throttle_store.peek("account", at(3), POLICY) is None
    assert await throttle_store.peek("other", at(3), POLICY) == ThrottleState(attempts=1, last_at=at(3))


async def test_concurrent_acquisitions_get_only_the_free_slots(throttle_store: ThrottleStore) -> None:
    results = await asyncio.gather(*(throttle_store.acquire("k", at(0), POLICY) for _ in range(30)))
    assert sorted(results)[:3] == [0, 0, 10.0]
    assert sum(1 for r in results if r == 0) == POLICY.free_attempts


async def test_spraying_other_keys_never_evicts_a_live_record(throttle_store: ThrottleStore) -> None:
    for second in range(2):
        await throttle_store.acquire("victim", at(second), POLICY)
    for n in range(3000):  # past both adapters' sweep interval
        await throttle_store.acquire(f"spray-{n}", at(2), POLICY)
    assert await throttle_store.acquire("victim", at(3), POLICY) == pytest.approx(8.0)


async def test_long_keys_and_odd_characters_are_kept_apart(throttle_store: ThrottleStore) -> None:
    keys = ["x" * 128, "x" * 127, "ключ", "k'; DROP TABLE login_throttle; --", "k\x00"]
    for key in keys:
        await throttle_store.acquire(key, at(0), POLICY)
    for key in keys:
        assert await throttle_store.peek(key, at(0), POLICY) == ThrottleState(attempts=1, last_at=at(0))
