"""Throttle suite (issue 9, hole 3): lockout cannot be forced, an eviction spray restores no guesses, a spray across
accounts is slowed. Runs the real container (SQLite store under tmp_path) on a manual clock: no sleeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from receiptcore.adapters.clock import ManualClock
from receiptcore.adapters.memory.throttle_store import MemoryThrottleStore
from receiptcore.entrypoints.container import Container
from receiptcore.entrypoints.http.app import create_app
from receiptcore.errors import InvalidCredentials, RateLimited
from receiptcore.services.auth import AuthService
from receiptcore.services.throttle import LoginThrottle
from tests.api.conftest import ADMIN_EMAIL, PASSWORD, make_container, make_settings
from tests.hostile.conftest import Figures

ATTACKER, OWNER = "203.0.113.66", "198.51.100.10"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Container, ManualClock]]:
    container = make_container(make_settings(tmp_path))
    clock = ManualClock()
    container.clock.override(providers.Object(clock))
    await container.user_service().create_admin(ADMIN_EMAIL, PASSWORD)
    yield container, clock
    await container.sqlite().aclose()


async def _try(auth: AuthService, email: str, password: str, client: str) -> str | float:
    """'ok', 'wrong', or the Retry-After of a refusal."""
    try:
        await auth.login(email, password, client=client)
    except InvalidCredentials:
        return "wrong"
    except RateLimited as refused:
        return refused.retry_after
    return "ok"


async def test_an_attacker_cannot_lock_the_admin_out(world: tuple[Container, ManualClock], figures: Figures) -> None:
    container, clock = world
    auth = container.auth_service()
    outcomes = [await _try(auth, ADMIN_EMAIL, f"guess {n}", ATTACKER) for n in range(300)]  # hammering
    hammered = outcomes.count("wrong")
    patient = 0
    for _ in range(8):  # then a patient attacker who guesses again as soon as each wait is over
        outcome = await _try(auth, ADMIN_EMAIL, "patient guess", ATTACKER)
        if isinstance(outcome, float):
            clock.advance(outcome)
            outcome = await _try(auth, ADMIN_EMAIL, "patient guess", ATTACKER)
        patient += outcome == "wrong"
    owner = await _try(auth, ADMIN_EMAIL, PASSWORD, OWNER)  # the owner arrives right after the last guess
    owner_wait = owner if isinstance(owner, float) else 0.0
    clock.advance(owner_wait)
    after_wait = await _try(auth, ADMIN_EMAIL, PASSWORD, OWNER)
    failed = int(after_wait != "ok")
    figures.record(
        "throttle",
        tried=300 + 8 + 2,
        failed=failed,
        hammered_guesses_checked=hammered,
        hammered_refused_unread=300 - hammered,
        patient_guesses=patient,
        owner_wait_s=owner_wait,
        owner_after_wait=after_wait,
    )
    guessed = hammered
    assert guessed == 5
    assert patient == 8
    assert owner_wait == 2.0**8  # 5 free, then 1, 2, ... 128 s; the next wait is 256 s
    assert failed == 0


async def test_the_wait_never_exceeds_the_cap_however_long_the_attack(
    world: tuple[Container, ManualClock], figures: Figures
) -> None:
    container, clock = world
    auth = container.auth_service()
    cap = container.settings().login_backoff_max_seconds
    longest, guesses, elapsed = 0.0, 0, 0.0
    while elapsed < 24 * 3600:  # one simulated day of a patient attacker who honours every Retry-After
        outcome = await _try(auth, ADMIN_EMAIL, "another guess", ATTACKER)
        if isinstance(outcome, float):
            longest = max(longest, outcome)
            clock.advance(outcome)
            elapsed += outcome
        else:
            guesses += 1
    owner = await _try(auth, ADMIN_EMAIL, PASSWORD, OWNER)
    if isinstance(owner, float):
        clock.advance(owner)
        owner = await _try(auth, ADMIN_EMAIL, PASSWORD, OWNER)
    figures.record(
        "throttle", tried=guesses + 1, failed=int(owner != "ok"), guesses_per_day=guesses, longest_wait_s=longest
    )
    assert longest <= cap
    assert guesses <= 5 + 10 + 24 * 3600 / cap  # free + the doubling ramp + one per capped wait
    assert owner == "ok"


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
async def test_an_eviction_spray_restores_no_guesses(
    world: tuple[Container, ManualClock], figures: Figures, store_kind: str
) -> None:
    container, clock = world
    if store_kind == "memory":
        container.throttle_store.override(providers.Object(MemoryThrottleStore()))
    throttle: LoginThrottle = container.login_throttle()
    spray = 120_000 if store_kind == "memory" else 6_000  # memory: past the old 100,000-entry table

    async def wrong() -> None:
        raise InvalidCredentials("wrong")

    async def attempt(email: str, client: str, check: Callable[[], Awaitable[None]] = wrong) -> bool:
        try:
            await throttle.guard(email, client, check)
        except InvalidCredentials:
            return True
        except RateLimited:
            return False
        return True

    checked = sum([await attempt("victim@example.com", ATTACKER) for _ in range(10)])
    for n in range(spray):  # distinct emails from distinct addresses, so no client limit gets in the way
        await attempt(f"spray{n}@example.com", f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}")
    after = sum([await attempt("victim@example.com", f"192.0.2.{n}") for n in range(10)])
    clock.advance(1)
    figures.record(
        f"throttle/{store_kind}",
        tried=spray + 20,
        failed=after,
        sprayed_keys=spray,
        victim_guesses_before=checked,
        victim_guesses_after_spray=after,
    )
    assert checked == 5
    assert after == 0


async def test_one_password_sprayed_across_accounts_is_slowed(
    world: tuple[Container, ManualClock], figures: Figures
) -> None:
    container, clock = world
    auth = container.auth_service()
    checked, refused, elapsed, n = 0, 0, 0.0, 0
    while elapsed < 3600:  # one simulated hour, one address, a new account every try, every Retry-After honoured
        outcome = await _try(auth, f"person{n}@example.com", "Winter2026!!!", ATTACKER)
        n += 1
        if isinstance(outcome, float):
            refused += 1
            clock.advance(outcome)
            elapsed += outcome
        else:
            checked += 1
    figures.record("throttle", tried=n, failed=0, accounts_tried_per_hour=checked, refused_with_retry_after=refused)
    assert checked <= 20 + 10 + 4  # the client's free attempts, the ramp, then one per 15 minutes


async def test_a_throttled_login_is_a_429_problem_with_retry_after(
    world: tuple[Container, ManualClock], figures: Figures
) -> None:
    container, clock = world
    async with AsyncTestClient(app=create_app(container)) as client:
        statuses = []
        for _ in range(7):
            response = await client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": "wrong guess 123"})
            statuses.append(response.status_code)
        assert statuses == [401] * 5 + [429, 429]
        assert response.headers["retry-after"] == "1"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("/rate-limited")
        clock.advance(1)
        ok = await client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
        figures.record("throttle", tried=8, failed=int(ok.status_code != 200), statuses=statuses)
        assert ok.status_code == 200


async def test_the_counters_survive_a_restart(tmp_path: Path, figures: Figures) -> None:
    settings = make_settings(tmp_path)
    clock = ManualClock()
    for round_ in range(2):
        container = make_container(settings)
        container.clock.override(providers.Object(clock))
        if round_ == 0:
            await container.user_service().create_admin(ADMIN_EMAIL, PASSWORD)
            for _ in range(5):
                assert await _try(container.auth_service(), ADMIN_EMAIL, "wrong guess", ATTACKER) == "wrong"
        else:
            outcome = await _try(container.auth_service(), ADMIN_EMAIL, "wrong guess", ATTACKER)
            figures.record("throttle", tried=6, failed=int(not isinstance(outcome, float)), after_restart=outcome)
            assert isinstance(outcome, float)
        await container.sqlite().aclose()
