"""The composition root selects the PostgreSQL and Redis adapters from their URLs, hands each only its own small
config object, and names the extra to install when a driver is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from receiptcore.adapters.memory import InProcessEventBus
from receiptcore.adapters.postgres.database import PostgresDatabase
from receiptcore.adapters.postgres.user_repo import PostgresUserRepo
from receiptcore.adapters.redis.event_bus import RedisEventBus
from receiptcore.entrypoints.container import build_container, close_container
from receiptcore.errors import ConfigurationError
from receiptcore.settings import Settings

PG = "postgresql://postgres@127.0.0.1:1/none"
REDIS = "redis://127.0.0.1:1/0"


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg]


async def test_a_postgres_url_selects_the_postgres_user_repo_with_its_own_config(tmp_path: Path) -> None:
    container = build_container(settings(tmp_path, postgres_url=PG, postgres_pool_size=3))
    repo = container.user_repo()
    assert isinstance(repo, PostgresUserRepo)
    db = container.postgres()
    assert isinstance(db, PostgresDatabase)
    assert db.config.dsn == PG
    assert db.config.max_pool_size == 3
    assert isinstance(container.event_bus(), InProcessEventBus)  # the bus is chosen on its own
    await close_container(container)  # nothing was opened: closing must not need the server


async def test_a_redis_url_selects_the_redis_bus_and_resubscribing_resets_the_auth_caches(tmp_path: Path) -> None:
    container = build_container(settings(tmp_path, redis_url=REDIS, redis_prefix="tenant-a"))
    bus = container.event_bus()
    assert isinstance(bus, RedisEventBus)
    assert bus.config.events_channel == "tenant-a:events"
    authenticator = container.authenticator()  # what every service authenticates with (receipts has no AuthService)
    authenticator._roles["roles"] = {}  # a cached role table
    authenticator._sessions["a-session"] = False  # and a cached session state
    bus._on_subscribed()  # what the bus does after every (re)subscription
    assert not authenticator._roles
    assert not authenticator._sessions
    await close_container(container)


@pytest.mark.parametrize(
    "case",
    [("asyncpg", "postgres_url", "postgres", "user_repo"), ("redis", "redis_url", "redis", "event_bus")],
    ids=["postgres", "redis"],
)
def test_a_missing_driver_names_the_extra_in_one_line(
    case: tuple[str, str, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver, variable, extra, provider = case
    for name in list(sys.modules):
        if name == driver or name.startswith((f"{driver}.", f"receiptcore.adapters.{extra}.")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, driver, None)  # import of the driver now fails as if not installed
    container = build_container(settings(tmp_path, **{variable: PG if extra == "postgres" else REDIS}))
    with pytest.raises(ConfigurationError) as caught:
        getattr(container, provider)()
    message = str(caught.value)
    assert "\n" not in message
    assert f"pip install 'receiptcore[{extra}]'" in message
    assert f"RECEIPTCORE_{variable.upper()}" in message
