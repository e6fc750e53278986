"""`receiptcore worker --once` on the embedded stores: drains the queue with the configured extractor plugin."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from receiptcore.domain.policy import Principal, Scope
from receiptcore.domain.receipt import ReceiptStatus
from receiptcore.domain.users import ADMIN, PERMISSIONS
from receiptcore.entrypoints.container import build_container, close_container
from receiptcore.services.receipts import Upload
from receiptcore.settings import Settings
from tests.cli.conftest import Invoke, receipt_image


async def _upload(data_dir: Path, names: list[str]) -> list[str]:
    container = build_container(Settings(data_dir=data_dir, _env_file=None))  # type: ignore[call-arg]
    try:
        owner = Principal("owner-1", frozenset({ADMIN}), PERMISSIONS)
        uploads = [Upload(content=receipt_image(name), filename=f"{name}.jpg") for name in names]
        outcomes = await container.receipt_service().upload(owner, uploads)
        return [o.receipt.id for o in outcomes]
    finally:
        await close_container(container)


async def _statuses(data_dir: Path, ids: list[str]) -> list[ReceiptStatus]:
    container = build_container(Settings(data_dir=data_dir, _env_file=None))  # type: ignore[call-arg]
    try:
        store = container.receipt_store()
        return [(await store.get(i, Scope.everyone())).status for i in ids]
    finally:
        await close_container(container)


def test_worker_once_extracts_every_pending_receipt_and_exits(
    invoke: Invoke, data_dir: Path, scripted_plugin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = asyncio.run(_upload(data_dir, ["first", "second", "third"]))
    assert set(asyncio.run(_statuses(data_dir, ids))) == {ReceiptStatus.PENDING}
    monkeypatch.setenv("RECEIPTCORE_EXTRACTOR", "scripted")
    result = invoke("worker", "--once", "--concurrency", "2")
    assert result.exit_code == 0, result.output
    assert "processed 3 receipt(s), 0 error(s)" in result.stdout
    # all three share merchant, date and total, so two are flagged as possible duplicates of another
    assert set(asyncio.run(_statuses(data_dir, ids))) <= {ReceiptStatus.EXTRACTED, ReceiptStatus.NEEDS_REVIEW}
    again = invoke("worker", "--once")
    assert again.exit_code == 0, again.output
    assert "processed 0 receipt(s)" in again.stdout


def test_worker_with_an_unknown_extractor_is_a_one_line_error(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECEIPTCORE_EXTRACTOR", "no-such-extractor")
    result = invoke("worker", "--once")
    assert result.exit_code == 1, result.output
    assert "unknown extractor" in result.output
    assert "Traceback" not in result.output
