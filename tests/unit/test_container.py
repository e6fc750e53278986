"""The composition root picks adapters from settings; the memory profile serves the whole app."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from pydantic import ValidationError

from receiptcore.adapters.memory import InProcessEventBus, MemoryReceiptStore, MemoryUserRepo
from receiptcore.adapters.security import TokenConfig
from receiptcore.adapters.sqlite import SqliteReceiptStore, SqliteUserRepo
from receiptcore.entrypoints.container import build_container, close_container, extractor_config, token_config
from receiptcore.entrypoints.http.app import create_app
from receiptcore.plugins import ExtractorConfig
from receiptcore.settings import Settings


def test_embedded_default_is_sqlite_with_an_in_process_bus(tmp_path: Path) -> None:
    container = build_container(Settings(data_dir=tmp_path))
    assert isinstance(container.user_repo(), SqliteUserRepo)
    assert isinstance(container.receipt_store(), SqliteReceiptStore)
    assert isinstance(container.event_bus(), InProcessEventBus)


async def test_memory_profile_serves_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    container = build_container(Settings(profile="memory"))
    assert isinstance(container.user_repo(), MemoryUserRepo)
    assert isinstance(container.receipt_store(), MemoryReceiptStore)
    async with AsyncTestClient(app=create_app(container)) as client:
        assert (await client.get("/health/ready")).status_code == 200
    assert not any(tmp_path.iterdir())  # nothing on disk: not even ./data  # noqa: ASYNC240


def test_the_old_memory_data_dir_is_a_clear_error_naming_the_profile() -> None:
    with pytest.raises(ValidationError, match="RECEIPTCORE_PROFILE=memory"):
        Settings(data_dir=Path(":memory:"))


def test_each_adapter_config_holds_only_its_own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECEIPTCORE_EXTRACTOR_EXAMPLE_MAX_PAGES", "3")
    monkeypatch.setenv("RECEIPTCORE_EXTRACTOR_OTHER_KEY", "not-for-example")
    settings = Settings(data_dir=tmp_path, extractor="example", worker_concurrency=3, jwt_issuer="iss-x")

    config = extractor_config(settings)

    assert config == ExtractorConfig(
        name="example",
        options={"max_pages": "3"},
        data_dir=tmp_path,
        concurrency=3,
        timeout_seconds=settings.llm_timeout_seconds,
        daily_spend_cap_usd=settings.llm_daily_spend_cap_usd,
    )
    assert token_config(settings) == TokenConfig(
        issuer="iss-x", audience="receiptcore", ttl_seconds=300, keys_dir=tmp_path / "keys"
    )
    memory = Settings(profile="memory", extractor="example")
    assert (extractor_config(memory).data_dir, token_config(memory).keys_dir) == (None, None)


async def test_close_closes_what_was_opened_the_last_first_and_builds_nothing(tmp_path: Path) -> None:
    container = build_container(Settings(data_dir=tmp_path, extractor="no-such-extractor"))
    database = container.sqlite()
    bus = container.event_bus()
    assert container.opened() == [database, bus]

    await close_container(container)  # the unknown extractor is never built, so no ConfigurationError here

    assert container.opened() == []
    assert not (tmp_path / "keys").exists()
    await close_container(container)  # twice is safe


async def test_the_hasher_and_the_login_admission_follow_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from argon2 import extract_parameters

    from receiptcore.entrypoints import container as root

    monkeypatch.setattr(root, "usable_cpus", lambda: 3)
    defaults = build_container(Settings(profile="memory"))
    assert defaults.hasher().max_in_flight == 3  # one per CPU
    assert defaults.hasher().max_waiting == 3 * 8
    assert defaults.login_admission().limit == 3 * (1 + 8)  # as many as the hasher runs and queues
    chosen = build_container(
        Settings(
            profile="memory",
            password_hash_memory_kib=19456,
            password_hash_iterations=2,
            password_verify_slots=2,
            password_verify_queue_per_slot=4,
        )
    )
    assert (chosen.hasher().max_in_flight, chosen.hasher().max_waiting, chosen.login_admission().limit) == (2, 8, 10)
    params = extract_parameters(await chosen.hasher().hash("correct horse battery staple"))
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19456, 2, 1)
