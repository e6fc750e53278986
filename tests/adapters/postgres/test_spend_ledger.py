"""PostgresSpendLedger beyond the SpendBook contract (tests/contract/test_spend_book.py, the file ledger's rules):
hosts with pools of their own share the cap, an unreachable database is StorageUnavailable, and the container
hands the ledger to the LLM extractors, which then share one cap across hosts."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from receiptcore.adapters.extractors.llm.budget import FileSpendBook
from receiptcore.adapters.postgres.config import PostgresConfig
from receiptcore.adapters.postgres.database import PostgresDatabase
from receiptcore.adapters.postgres.spend_ledger import PostgresSpendLedger
from receiptcore.entrypoints.container import build_container
from receiptcore.errors import ExtractionDeferred, StorageUnavailable
from receiptcore.ports import Document
from receiptcore.settings import Settings
from tests.unit.llm.conftest import FIXED_NOW, CountingHandler, SleepRecorder, jpeg_document, sleeps
from tests.unit.llm.test_anthropic_extractor import RECEIPT_ANSWER, build, tool_reply

__all__ = ["jpeg_document", "sleeps"]

pytestmark = pytest.mark.xdist_group("postgres")

NOON = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


async def test_concurrent_reservations_on_many_hosts_never_book_past_the_cap(postgres_url: str) -> None:
    dbs = [PostgresDatabase(PostgresConfig(dsn=postgres_url, max_pool_size=3)) for _ in range(3)]
    await dbs[0].migrate()
    try:
        ledgers = [PostgresSpendLedger(db, Decimal("1.00"), now=lambda: NOON) for db in dbs]
        outcomes = await asyncio.gather(
            *(ledgers[n % 3].reserve(Decimal("0.15")) for n in range(30)), return_exceptions=True
        )
        granted = [o for o in outcomes if isinstance(o, Decimal)]
        assert len(granted) == 6  # 6 x 0.15 = 0.90 fits, a seventh would pass 1.00
        assert all(isinstance(o, ExtractionDeferred) for o in outcomes if not isinstance(o, Decimal))
        assert await ledgers[0].spent_today() == Decimal("0.90")
    finally:
        for db in dbs:
            await db.aclose()


async def test_an_unreachable_database_is_storage_unavailable() -> None:
    db = PostgresDatabase(PostgresConfig(dsn="postgresql://postgres@127.0.0.1:1/none", connect_timeout=1))
    with pytest.raises(StorageUnavailable):
        await PostgresSpendLedger(db, Decimal(1)).reserve(Decimal("0.1"))
    await db.aclose()


async def test_llm_extractors_on_two_hosts_share_one_cap_with_mocked_anthropic_api(
    pg_db: PostgresDatabase, tmp_path: Path, jpeg_document: Document, sleeps: SleepRecorder
) -> None:
    # each host has its own data dir (so its own ledger file); the PostgreSQL ledger is what they share
    shared = PostgresSpendLedger(pg_db, Decimal("0.50"), now=lambda: FIXED_NOW)
    hosts = []
    for n in range(2):
        host_settings = Settings(_env_file=None, data_dir=tmp_path / f"host-{n}", anthropic_api_key="sk-test")  # type: ignore[call-arg]
        handler = CountingHandler(lambda *_: tool_reply(RECEIPT_ANSWER, input_tokens=100_000, output_tokens=10_000))
        hosts.append((build(host_settings, handler, sleeps, shared_ledger=shared), handler))
    await hosts[0][0].extract(jpeg_document)  # $0.45 of the $0.50 cap
    assert await shared.spent_today() == Decimal("0.45")
    with pytest.raises(ExtractionDeferred):
        await hosts[1][0].extract(jpeg_document)  # the other host is held to the same cap
    assert hosts[1][1].calls == 0
    assert hosts[1][0]._ledger.spent_today() == 0  # nothing went to its own file


def test_the_container_hands_the_postgres_ledger_to_the_llm_extractor(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path,
        postgres_url="postgresql://postgres@127.0.0.1:1/none",
        extractor="anthropic",
        anthropic_api_key="sk-test",
    )
    extractor = build_container(settings).extractor()
    assert isinstance(extractor._book, PostgresSpendLedger)  # type: ignore[attr-defined]
    embedded = build_container(
        Settings(_env_file=None, data_dir=tmp_path, extractor="anthropic", anthropic_api_key="k")
    )  # type: ignore[call-arg]
    assert isinstance(embedded.extractor()._book, FileSpendBook)  # type: ignore[attr-defined]
