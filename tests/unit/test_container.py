"""The composition root picks adapters from settings; the memory profile serves the whole app."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import AsyncTestClient

from receiptcore.adapters.memory import InProcessEventBus, MemoryReceiptStore, MemoryUserRepo
from receiptcore.adapters.sqlite import SqliteReceiptStore, SqliteUserRepo
from receiptcore.entrypoints.container import build_container
from receiptcore.entrypoints.http.app import create_app
from receiptcore.settings import Settings


def test_embedded_default_is_sqlite_with_an_in_process_bus(tmp_path: Path) -> None:
    container = build_container(Settings(data_dir=tmp_path))
    assert isinstance(container.user_repo(), SqliteUserRepo)
    assert isinstance(container.receipt_store(), SqliteReceiptStore)
    assert isinstance(container.event_bus(), InProcessEventBus)


async def test_memory_profile_serves_the_app() -> None:
    container = build_container(Settings(data_dir=Path(":memory:")))
    assert isinstance(container.user_repo(), MemoryUserRepo)
    assert isinstance(container.receipt_store(), MemoryReceiptStore)
    async with AsyncTestClient(app=create_app(container)) as client:
        assert (await client.get("/health/ready")).status_code == 200
