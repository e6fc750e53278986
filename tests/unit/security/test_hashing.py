"""Argon2PasswordHasher: round trips, mismatches, malformed hashes, rehash detection, OWASP floor."""

from __future__ import annotations

import asyncio
import threading
import unicodedata
from typing import Any

from argon2 import extract_parameters
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiptcore.adapters.security import Argon2PasswordHasher

# Cheap parameters keep the suite fast; one test below checks the production defaults.
CHEAP = Argon2PasswordHasher(memory_cost=64, time_cost=1, parallelism=1)


async def test_default_parameters_are_argon2id_at_or_above_the_owasp_floor() -> None:
    hasher = Argon2PasswordHasher()
    encoded = await hasher.hash("correct horse battery staple")
    params = extract_parameters(encoded)
    assert encoded.startswith("$argon2id$")
    assert params.memory_cost >= 19 * 1024
    assert params.time_cost >= 2
    assert params.parallelism >= 1
    assert await hasher.verify(encoded, "correct horse battery staple")
    assert not hasher.needs_rehash(encoded)


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
