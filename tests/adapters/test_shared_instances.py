"""Two instances (two containers, as two processes would build them) sharing the real PostgreSQL and Redis: a change
made on one is enforced by the other through the bus, long before the user-state cache would expire, and login
throttling counts the attempts made on either instance together.

The instances run their event feed and outbox relay in the test's event loop (as the HTTP app's lifespan does in a
server), not through Litestar's test client, whose lifespan runs in a thread with an event loop of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from dependency_injector import providers

from receiptcore.adapters.postgres.user_repo import PostgresUserRepo
from receiptcore.adapters.redis.event_bus import RedisEventBus
from receiptcore.domain.policy import Principal
from receiptcore.domain.users import BUILTIN_ROLES
from receiptcore.entrypoints.container import Container, close_container, start_resources
from receiptcore.entrypoints.http.app import _feed_auth_events
from receiptcore.errors import InvalidCredentials, RateLimited, TokenRejected
from receiptcore.services.auth import AuthConfig
from tests.api.conftest import PASSWORD, make_container, make_settings
from tests.servers import REDIS_URL, postgres_url, redis_prefix

__all__ = ["postgres_url", "redis_prefix"]

pytestmark = [pytest.mark.xdist_group("postgres")]

# Long enough that only an event can explain a revocation seen by the other instance within the test's wait.
LONG_CACHE = dt.timedelta(minutes=10)


@pytest.fixture
async def instances(tmp_path: Path, postgres_url: str, redis_prefix: str) -> AsyncIterator[list[Container]]:
    containers: list[Container] = []
    feeds: list[asyncio.Task[None]] = []
    for n in range(2):
        settings = make_settings(
            tmp_path / f"instance-{n}",
            postgres_url=postgres_url,
            redis_url=REDIS_URL,
            redis_prefix=redis_prefix,
            login_free_attempts=3,
        )
        container = make_container(settings)
        container.auth_config.override(
            providers.Object(AuthConfig(state_cache_ttl=LONG_CACHE, role_cache_ttl=LONG_CACHE))
        )
        assert isinstance(container.user_repo(), PostgresUserRepo)
        assert isinstance(container.event_bus(), RedisEventBus)
        await start_resources(container)  # the outbox relay
        subscribed = asyncio.Event()
        feeds.append(asyncio.create_task(_feed_auth_events(container, subscribed)))
        await asyncio.wait_for(subscribed.wait(), 10)
        containers.append(container)
    yield containers
    for feed in feeds:
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed
    for container in containers:
        await close_container(container)


async def _eventually_rejected(container: Container, token: str) -> None:
    for _ in range(200):
        try:
            await container.auth_service().authenticate(token)
        except TokenRejected:
            return
        await asyncio.sleep(0.05)
    pytest.fail("the other instance kept trusting the token (no event reached it)")


@pytest.mark.parametrize("change", ["disable", "roles", "password"])
async def test_a_change_on_one_instance_revokes_the_token_on_the_other(instances: list[Container], change: str) -> None:
    first, second = instances
    admin = await first.user_service().create_admin("root@example.com", PASSWORD)
    root = Principal.of_user(admin, BUILTIN_ROLES)
    member = await first.user_service().create_user(root, "bea@example.com", PASSWORD)
    session = await second.auth_service().login("bea@example.com", PASSWORD)
    await second.auth_service().authenticate(session.access_token)  # cached on the second instance now
    if change == "disable":
        await first.user_service().set_disabled(root, member.id, disabled=True)
    elif change == "roles":
        await first.user_service().set_roles(root, member.id, ["auditor"])
    else:
        await first.user_service().update_user(root, member.id, password="another long passphrase 7")
    await _eventually_rejected(second, session.access_token)


async def test_login_throttling_counts_attempts_on_every_instance_together(instances: list[Container]) -> None:
    first, second = instances
    await first.user_service().create_admin("root@example.com", PASSWORD)
    for n, instance in enumerate([first, second, first]):  # three free attempts, spread over both instances
        with pytest.raises(InvalidCredentials):
            await instance.auth_service().login("root@example.com", f"wrong password {n}")
    with pytest.raises(RateLimited) as caught:  # the fourth waits, though neither instance saw more than two
        await second.auth_service().login("root@example.com", PASSWORD)
    assert caught.value.retry_after > 0
