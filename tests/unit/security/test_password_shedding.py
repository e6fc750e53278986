"""Argon2PasswordHasher sheds load: a bounded number of checks run, a bounded line waits, the rest are refused at once.

The hashing itself is real Argon2id (cheap parameters); a ``threading.Event`` holds the worker threads so the
tests decide when a check finishes, instead of racing a stopwatch. Every wait has a generous timeout that only
guards against a hang.
"""

from __future__ import annotations

import asyncio

import pytest

from receiptcore.adapters.clock import ManualClock
from receiptcore.adapters.memory.throttle_store import MemoryThrottleStore
from receiptcore.adapters.security import Argon2PasswordHasher, hashing
from receiptcore.adapters.security.hashing import OVERLOADED_RETRY_AFTER_SECONDS
from receiptcore.errors import InvalidCredentials, Overloaded, RateLimited
from receiptcore.services.throttle import LoginThrottle, account_key, client_key
from tests.support.held_hasher import HANG_GUARD_S, HeldHasher, until

PASSWORD = "correct horse battery staple"


async def test_checks_past_the_slots_and_the_line_are_refused_at_once_and_the_others_verify_fully() -> None:
    hasher = HeldHasher(max_in_flight=2, max_waiting=3)
    encoded = await hasher.hash(PASSWORD)
    passwords = [PASSWORD, PASSWORD, "wrong password!!", PASSWORD, PASSWORD, PASSWORD, PASSWORD, PASSWORD]
    tasks = [asyncio.create_task(hasher.verify(encoded, password)) for password in passwords]
    # two run, three wait: the other three are refused without waiting for anything
    await until(lambda: sum(task.done() for task in tasks) == 3 and hasher.started == 2)
    refused = [task for task in tasks if task.done()]
    assert refused == tasks[5:]
    for task in refused:
        error = task.exception()
        assert isinstance(error, Overloaded)
        assert isinstance(error, RateLimited)  # so the HTTP layer answers 429 with Retry-After
        assert error.code == "overloaded"
        assert error.retry_after == OVERLOADED_RETRY_AFTER_SECONDS
    hasher.release.set()
    async with asyncio.timeout(HANG_GUARD_S):
        results = await asyncio.gather(*tasks[:5])
    # let in means checked in full: the right password passes, the wrong one does not
    assert results == [True, True, False, True, True]
    assert hasher.most_at_once == 2
    assert hasher.started == 5


async def test_a_freed_slot_lets_the_next_check_in_and_the_line_empties() -> None:
    hasher = HeldHasher(max_in_flight=1, max_waiting=0)
    encoded = await hasher.hash(PASSWORD)
    first = asyncio.create_task(hasher.verify(encoded, PASSWORD))
    await until(lambda: hasher.started == 1)
    with pytest.raises(Overloaded):
        await hasher.verify(encoded, PASSWORD)
    hasher.release.set()
    assert await first is True
    # nothing left behind: checks one after the other all run
    for _ in range(3):
        assert await hasher.verify(encoded, PASSWORD) is True


async def test_new_hashes_wait_for_a_slot_and_are_never_refused() -> None:
    hasher = HeldHasher(max_in_flight=1, max_waiting=0)
    encoded = await hasher.hash(PASSWORD)
    held = asyncio.create_task(hasher.verify(encoded, PASSWORD))
    await until(lambda: hasher.started == 1)
    hashing = asyncio.create_task(hasher.hash("another long password"))
    await asyncio.sleep(0.05)
    assert not hashing.done()  # waiting for the slot, not refused
    hasher.release.set()
    async with asyncio.timeout(HANG_GUARD_S):
        new = await hashing
    assert await held is True
    assert await hasher.verify(new, "another long password") is True


async def test_a_cancelled_check_keeps_its_slot_until_its_thread_has_finished() -> None:
    hasher = HeldHasher(max_in_flight=1, max_waiting=0)
    encoded = await hasher.hash(PASSWORD)
    abandoned = asyncio.create_task(hasher.verify(encoded, PASSWORD))
    await until(lambda: hasher.started == 1)
    abandoned.cancel()
    with pytest.raises(asyncio.CancelledError):
        await abandoned
    # the thread still hashes: a new check is refused rather than run beside it
    with pytest.raises(Overloaded):
        await hasher.verify(encoded, PASSWORD)
    hasher.release.set()
    await until(lambda: hasher.running_now == 0)
    assert await hasher.verify(encoded, PASSWORD) is True
    assert hasher.most_at_once == 1


def test_the_bound_works_from_one_event_loop_after_another() -> None:
    # the hasher is a process-wide singleton; CLI commands and tests drive it from successive loops
    hasher = Argon2PasswordHasher(memory_cost=64, time_cost=1, parallelism=1, max_in_flight=1, max_waiting=1)

    async def two_at_once() -> list[bool]:
        encoded = await hasher.hash(PASSWORD)
        return list(await asyncio.gather(hasher.verify(encoded, PASSWORD), hasher.verify(encoded, PASSWORD)))

    assert asyncio.run(two_at_once()) == [True, True]
    assert asyncio.run(two_at_once()) == [True, True]


def test_defaults_are_one_slot_per_cpu_and_eight_waiting_per_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    for cpus in (1, 2, 16):
        monkeypatch.setattr(hashing, "usable_cpus", lambda cpus=cpus: cpus)
        hasher = Argon2PasswordHasher(memory_cost=64, time_cost=1)
        assert hasher.max_in_flight == cpus
        assert hasher.max_waiting == 8 * cpus
    with pytest.raises(ValueError, match="max_waiting"):
        Argon2PasswordHasher(max_waiting=-1)


async def test_a_shed_check_does_not_count_as_a_failed_login_for_the_account_or_the_client() -> None:
    store = MemoryThrottleStore()
    throttle = LoginThrottle(store, ManualClock())

    async def shed() -> None:
        raise Overloaded("busy", retry_after=1)

    async def wrong() -> None:
        raise InvalidCredentials("wrong email or password")

    for _ in range(50):  # far past both free allowances (5 and 20)
        with pytest.raises(Overloaded):
            await throttle.guard("someone@example.com", "203.0.113.9", shed)
        with pytest.raises(Overloaded):
            await throttle.guard_secret("password-change", "user-1", shed)
    assert await store.count() == 0
    # while a wrong password is still counted, as before
    with pytest.raises(InvalidCredentials):
        await throttle.guard("someone@example.com", "203.0.113.9", wrong)
    assert await store.reset(account_key("someone@example.com")) == 1
    assert await store.reset(client_key("203.0.113.9")) == 1
