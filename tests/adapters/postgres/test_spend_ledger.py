"""PostgresSpendLedger: the LLM daily spend cap shared by every worker host, with the file ledger's rules."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pytest

from receiptcore.adapters.postgres.config import PostgresConfig
from receiptcore.adapters.postgres.database import PostgresDatabase
from receiptcore.adapters.postgres.spend_ledger import PostgresSpendLedger
from receiptcore.errors import ExtractionDeferred, StorageUnavailable

pytestmark = pytest.mark.xdist_group("postgres")

NOON = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


async def test_the_cap_is_shared_by_every_host_and_resets_each_utc_day(pg_db: PostgresDatabase) -> None:
    now = [NOON]
    first = PostgresSpendLedger(pg_db, Decimal(1), now=lambda: now[0])
    await first.settle(await first.reserve(Decimal("0.3")), Decimal("0.25"))
    other_host = PostgresSpendLedger(pg_db, Decimal(1), now=lambda: now[0])
    assert await other_host.spent_today() == Decimal("0.25")
    with pytest.raises(ExtractionDeferred) as caught:
        await other_host.reserve(Decimal("0.80"))
    assert caught.value.retry_after == 12 * 3600
    now[0] = dt.datetime(2026, 5, 2, 0, 0, 1, tzinfo=dt.UTC)
    assert await other_host.spent_today() == 0
    assert await other_host.reserve(Decimal("0.80")) == Decimal("0.80")


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


async def test_a_reservation_from_yesterday_is_not_carried_into_today(pg_db: PostgresDatabase) -> None:
    now = [dt.datetime(2026, 5, 1, 23, 59, 59, tzinfo=dt.UTC)]
    ledger = PostgresSpendLedger(pg_db, None, now=lambda: now[0])
    reserved = await ledger.reserve(Decimal("0.5"))
    now[0] += dt.timedelta(seconds=2)
    await ledger.settle(reserved, Decimal("0.1"))
    assert await ledger.spent_today() == Decimal("0.1")


async def test_the_first_call_of_a_day_may_exceed_a_tiny_cap_but_not_a_zero_cap(pg_db: PostgresDatabase) -> None:
    tiny = PostgresSpendLedger(pg_db, Decimal("0.001"), now=lambda: NOON)
    await tiny.reserve(Decimal("0.05"))
    with pytest.raises(ExtractionDeferred):
        await tiny.reserve(Decimal("0.05"))
    zero = PostgresSpendLedger(pg_db, Decimal(0), now=lambda: NOON + dt.timedelta(days=1))
    with pytest.raises(ExtractionDeferred):
        await zero.reserve(Decimal("0.01"))


async def test_settling_a_failed_call_gives_the_reservation_back(pg_db: PostgresDatabase) -> None:
    ledger = PostgresSpendLedger(pg_db, Decimal(1), now=lambda: NOON)
    await ledger.settle(await ledger.reserve(Decimal("0.9")), Decimal(0))
    assert await ledger.spent_today() == 0
    assert await ledger.reserve(Decimal("0.9")) == Decimal("0.9")  # the whole cap is available again


async def test_an_unreachable_database_is_storage_unavailable() -> None:
    db = PostgresDatabase(PostgresConfig(dsn="postgresql://postgres@127.0.0.1:1/none", connect_timeout=1))
    with pytest.raises(StorageUnavailable):
        await PostgresSpendLedger(db, Decimal(1)).reserve(Decimal("0.1"))
    await db.aclose()
