"""Argon2PasswordHasher: round trips, mismatches, malformed hashes, rehash detection, OWASP floor, both
implementations (libsodium and argon2-cffi) reading each other's hashes, the hashing threads' priority."""

from __future__ import annotations

import asyncio
import os
import threading
import unicodedata
from typing import Any

import pytest
from argon2 import PasswordHasher, Type, extract_parameters
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from receiptcore.adapters.security import Argon2PasswordHasher
from receiptcore.services.password_hashing import OWASP_FLOORS, meets_owasp_floor
from receiptcore.settings import Settings

# Cheap parameters keep the suite fast; one test below checks the production defaults.
CHEAP = Argon2PasswordHasher(memory_cost=64, time_cost=1, parallelism=1)


async def test_default_parameters_are_argon2id_at_or_above_an_owasp_floor() -> None:
    hasher = Argon2PasswordHasher()
    encoded = await hasher.hash("correct horse battery staple")
    params = extract_parameters(encoded)
    assert encoded.startswith("$argon2id$v=19$")
    assert (params.memory_cost, params.time_cost, params.parallelism) == (7168, 5, 1)
    assert meets_owasp_floor(params.memory_cost, params.time_cost)
    assert (params.salt_len, params.hash_len) == (16, 32)
    assert await hasher.verify(encoded, "correct horse battery staple")
    assert not hasher.needs_rehash(encoded)


def test_the_owasp_floors_are_the_cheat_sheets_list_and_nothing_below_one_passes() -> None:
    assert OWASP_FLOORS == ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))
    for memory, iterations in OWASP_FLOORS:
        assert meets_owasp_floor(memory, iterations)
        assert meets_owasp_floor(memory * 2, iterations + 1)
    # one KiB or one iteration short of a floor, and no other floor reached
    for memory, iterations in [(47103, 1), (19455, 2), (12287, 3), (9215, 4), (7167, 5), (7168, 4), (1 << 20, 0)]:
        assert not meets_owasp_floor(memory, iterations), (memory, iterations)
    assert meets_owasp_floor(19455, 4)  # short of 19456/2, but at or above 9216/4


def test_settings_refuse_hash_parameters_below_every_owasp_floor() -> None:
    assert Settings(password_hash_memory_kib=19456, password_hash_iterations=2).password_hash_iterations == 2
    with pytest.raises(ValidationError, match="below every OWASP floor"):
        Settings(password_hash_memory_kib=19456, password_hash_iterations=1)
    with pytest.raises(ValidationError, match="below every OWASP floor"):
        Settings(password_hash_memory_kib=7000, password_hash_iterations=5)


async def test_a_hash_made_with_the_earlier_default_verifies_and_is_due_for_a_rehash() -> None:
    # the default was m=19 MiB t=2 (argon2-cffi) until 2026-12-07: those hashes keep working and get upgraded
    earlier = PasswordHasher(memory_cost=19456, time_cost=2, parallelism=1, type=Type.ID).hash("an older password")
    hasher = Argon2PasswordHasher()
    assert await hasher.verify(earlier, "an older password")
    assert not await hasher.verify(earlier, "an older passworD")
    assert hasher.needs_rehash(earlier)


@settings(max_examples=25, deadline=None)
@given(password=st.text(min_size=0, max_size=40), memory=st.sampled_from([8, 64, 96]), iterations=st.integers(1, 3))
def test_libsodium_and_argon2_cffi_read_each_others_hashes(password: str, memory: int, iterations: int) -> None:
    reference = PasswordHasher(memory_cost=memory, time_cost=iterations, parallelism=1, type=Type.ID)
    ours = Argon2PasswordHasher(memory_cost=memory, time_cost=iterations, parallelism=1)
    made_by_us = ours._hash(password)  # libsodium
    assert reference.verify(made_by_us, password)
    assert not reference.check_needs_rehash(made_by_us)
    made_by_reference = reference.hash(password)
    assert ours._verify(made_by_reference, password)
    assert not ours._verify(made_by_reference, password + "!")
    assert not ours._verify(made_by_us, password + "!")


async def test_hashes_libsodium_does_not_read_are_checked_by_argon2_cffi() -> None:
    password = "correct horse battery staple"
    foreign = [
        PasswordHasher(memory_cost=64, time_cost=1, parallelism=2, type=Type.ID).hash(password),  # two lanes
        PasswordHasher(memory_cost=64, time_cost=1, parallelism=1, type=Type.I).hash(password),  # Argon2i
        PasswordHasher(memory_cost=64, time_cost=1, parallelism=1, hash_len=64, type=Type.ID).hash(password),
        PasswordHasher(memory_cost=64, time_cost=1, parallelism=1, hash_len=8, salt_len=8, type=Type.ID).hash(password),
    ]
    for encoded in foreign:
        assert await CHEAP.verify(encoded, password), encoded
        assert not await CHEAP.verify(encoded, password + "x"), encoded
        assert CHEAP.needs_rehash(encoded)
    # asked for what libsodium does not write, the hasher makes it with argon2-cffi
    lanes = Argon2PasswordHasher(memory_cost=64, time_cost=1, parallelism=2)
    encoded = await lanes.hash(password)
    assert extract_parameters(encoded).parallelism == 2
    assert await lanes.verify(encoded, password)


async def test_hashes_are_salted_and_verify_only_the_right_password() -> None:
    first, second = await CHEAP.hash("pässwörd-ünïcode"), await CHEAP.hash("pässwörd-ünïcode")
    assert first != second
    assert await CHEAP.verify(first, "pässwörd-ünïcode")
    assert await CHEAP.verify(second, "pässwörd-ünïcode")
    assert not await CHEAP.verify(first, "pässwörd-ünïcodE")
    assert not await CHEAP.verify(first, "")


async def test_malformed_or_foreign_hashes_verify_false_and_need_rehash() -> None:
    for bogus in ["", "not a hash", "$argon2id$v=19$m=oops", "$2b$12$abcdefghijklmnopqrstuv", "$argon2id$" + "A" * 80]:
        assert await CHEAP.verify(bogus, "whatever password") is False
        assert CHEAP.needs_rehash(bogus) is True


async def test_weaker_parameters_need_rehash_with_stronger_hasher() -> None:
    weak = await CHEAP.hash("some long password")
    stronger = Argon2PasswordHasher(memory_cost=128, time_cost=2, parallelism=1)
    assert stronger.needs_rehash(weak)
    assert not CHEAP.needs_rehash(weak)
    # The stronger hasher still verifies the old hash: that is what makes rehash-on-login possible.
    assert await stronger.verify(weak, "some long password")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=st.text(min_size=1, max_size=64))
async def test_any_unicode_password_round_trips(password: str) -> None:
    normalised = unicodedata.normalize("NFKC", password)
    encoded = await CHEAP.hash(normalised)
    assert await CHEAP.verify(encoded, normalised)
    assert not await CHEAP.verify(encoded, normalised + "x")


class _ThreadRecordingHasher(Argon2PasswordHasher):
    """Records the thread each verification ran in."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.threads: set[str] = set()

    def _verify(self, encoded: str, password: str) -> bool:
        self.threads.add(threading.current_thread().name)
        return super()._verify(encoded, password)


class _PriorityRecordingHasher(Argon2PasswordHasher):
    """Records the OS nice value of the thread each verification ran in."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.niceness: set[int] = set()

    def _verify(self, encoded: str, password: str) -> bool:
        self.niceness.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return super()._verify(encoded, password)


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="no per-thread nice value on this platform")
async def test_hashing_threads_run_at_the_lower_priority_they_were_given_and_the_loop_keeps_its_own() -> None:
    loop_thread = threading.get_native_id()
    own = os.getpriority(os.PRIO_PROCESS, loop_thread)
    hasher = _PriorityRecordingHasher(memory_cost=64, time_cost=1, max_in_flight=2, thread_niceness=3)
    encoded = await hasher.hash("correct horse battery staple")
    assert all(await asyncio.gather(*(hasher.verify(encoded, "correct horse battery staple") for _ in range(8))))
    assert hasher.niceness == {min(19, own + 3)}
    assert os.getpriority(os.PRIO_PROCESS, loop_thread) == own  # only the hashing threads moved
    plain = _PriorityRecordingHasher(memory_cost=64, time_cost=1, max_in_flight=1)
    assert await plain.verify(await plain.hash("x" * 12), "x" * 12)
    assert plain.niceness == {own}


async def test_hashes_run_in_the_hashers_own_threads_one_per_slot() -> None:
    # one thread per slot bounds the Argon2 work areas glibc keeps resident (one per thread that freed one);
    # the event loop's default pool has up to cpu + 4 threads
    hasher = _ThreadRecordingHasher(memory_cost=64, time_cost=1, max_in_flight=2, max_waiting=64)
    encoded = await hasher.hash("correct horse battery staple")
    results = await asyncio.gather(*(hasher.verify(encoded, "correct horse battery staple") for _ in range(40)))
    assert all(results)
    assert hasher.threads
    assert all(name.startswith("receiptcore-argon2") for name in hasher.threads)
    assert len(hasher.threads) <= 2
