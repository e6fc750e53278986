"""Logins shed load: past the password-check slots and their line, POST /auth/login answers 429 overloaded at once.

The app runs in the test's own event loop behind httpx's ASGI transport (``tests/api/streaming.py``; Litestar's
test client would run one request at a time in a thread of its own), with a real container (SQLite under
tmp_path) whose hasher is the real Argon2PasswordHasher with a bound of 1-2 checks and a short line; its checks
are held in their threads until the test releases them (``tests/support/held_hasher.py``), so nothing here races
a stopwatch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from dependency_injector import providers

from receiptcore.domain.policy import Principal
from receiptcore.domain.users import ADMIN, MEMBER, PERMISSIONS
from receiptcore.entrypoints.http.app import create_app
from tests.api.conftest import PASSWORD, make_container, make_settings
from tests.api.streaming import _lifespan
from tests.support.held_hasher import HANG_GUARD_S, HeldHasher, until

OVERLOADED = "https://receiptcore.dev/problems/overloaded"


async def _serve(
    tmp_path: Path, hasher: HeldHasher, accounts: int, **settings: Any
) -> AsyncIterator[tuple[Any, list[str]]]:
    container = make_container(make_settings(tmp_path, **settings))
    container.hasher.override(providers.Object(hasher))
    users = container.user_service()
    admin = await users.create_admin("admin@example.com", PASSWORD)
    system = Principal(user_id=admin.id, roles=frozenset({ADMIN}), permissions=PERMISSIONS)
    emails = [f"person{n}@example.com" for n in range(accounts)]
    for email in emails:
        await users.create_user(system, email, PASSWORD, roles=[MEMBER])
    app = create_app(container)
    async with (
        _lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client,
    ):
        yield client, emails


def _login(client: Any, email: str, password: str = PASSWORD) -> asyncio.Task[httpx.Response]:
    return asyncio.create_task(client.post("/auth/login", json={"email": email, "password": password}))


def _assert_overloaded(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == OVERLOADED
    assert body["status"] == 429
    assert body["instance"] == "/auth/login"
    assert "retry" in body["detail"].lower()


async def test_logins_past_the_bound_get_429_overloaded_at_once_and_the_rest_sign_in(tmp_path: Path) -> None:
    held = HeldHasher(max_in_flight=2, max_waiting=1)
    async for client, emails in _serve(tmp_path, held, accounts=8):
        tasks = [_login(client, email) for email in emails]
        # two checks run, one waits: the other five are answered while those three are still held
        await until(lambda tasks=tasks: sum(task.done() for task in tasks) == 5)
        assert held.started == 2
        shed = [task.result() for task in tasks if task.done()]
        held_back = [task for task in tasks if not task.done()]
        for response in shed:
            _assert_overloaded(response)
        held.release.set()
        async with asyncio.timeout(HANG_GUARD_S):
            let_in = [await task for task in held_back]
        accepted = [response for response in let_in if response.status_code == 200]
        assert len(accepted) == 3, [response.text for response in let_in]
        for response in accepted:
            assert response.json()["access_token"]
        assert held.most_at_once == 2


async def test_a_shed_login_is_not_a_failed_try_and_the_same_people_sign_in_right_after(tmp_path: Path) -> None:
    hasher = HeldHasher(max_in_flight=2, max_waiting=0)
    async for client, emails in _serve(tmp_path, hasher, accounts=3):
        # the same three accounts, again and again: past the account allowance (5) and the client's (20)
        for _ in range(12):
            hasher.release.clear()
            hasher.started = 0
            tasks = [_login(client, email) for email in emails]
            await until(lambda tasks=tasks: hasher.started == 2 and any(task.done() for task in tasks))
            (shed,) = [task for task in tasks if task.done()]
            _assert_overloaded(shed.result())
            hasher.release.set()
            async with asyncio.timeout(HANG_GUARD_S):
                assert [(await task).status_code for task in tasks if task is not shed] == [200, 200]
        # every shed login was given back: the one shed each round signs in now, without any wait
        for email in emails:
            response = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
            assert response.status_code == 200, response.text


async def test_a_check_that_is_let_in_is_carried_out_in_full(tmp_path: Path) -> None:
    hasher = HeldHasher(max_in_flight=1, max_waiting=1)
    async for client, emails in _serve(tmp_path, hasher, accounts=3):
        # the first unknown email makes the dummy hash that unknown emails are checked against
        hasher.release.set()
        assert (
            await client.post("/auth/login", json={"email": "x@example.com", "password": PASSWORD})
        ).status_code == 401
        hasher.release.clear()
        hasher.started = 0
        right = _login(client, emails[0])
        wrong = _login(client, emails[1], password="not the password at all")
        await until(lambda: hasher.started == 1)
        unknown = _login(client, "nobody@example.com")
        # an unknown email is shed like a known one (shedding tells nothing about accounts)
        async with asyncio.timeout(HANG_GUARD_S):
            _assert_overloaded(await unknown)
        hasher.release.set()
        async with asyncio.timeout(HANG_GUARD_S):
            assert (await right).status_code == 200
            refused = await wrong
        assert refused.status_code == 401
        assert refused.json()["type"].endswith("/invalid-credentials")


async def test_logins_past_what_the_instance_checks_and_queues_are_refused_before_any_work(tmp_path: Path) -> None:
    # one slot, one waiting per slot: two logins in progress at once; the hasher itself would let a third wait
    hasher = HeldHasher(max_in_flight=1, max_waiting=5)
    container_settings = {"password_verify_slots": 1, "password_verify_queue_per_slot": 1}
    async for client, emails in _serve(tmp_path, hasher, accounts=6, **container_settings):
        tasks = [_login(client, email) for email in emails]
        # the second login let in waits in the hasher's line while the first is held
        await until(lambda tasks=tasks: sum(task.done() for task in tasks) == 4 and hasher.started == 1)
        for task in tasks:
            if task.done():
                _assert_overloaded(task.result())
        hasher.release.set()
        async with asyncio.timeout(HANG_GUARD_S):
            statuses = sorted([(await task).status_code for task in tasks])
        assert statuses == [200, 200, 429, 429, 429, 429]
        # the places were given back: everyone signs in now, one after the other
        for email in emails:
            response = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
            assert response.status_code == 200, response.text
