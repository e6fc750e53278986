"""SqliteThrottleStore across connections: two processes on one database file share one budget."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.throttle_store import SqliteThrottleStore
from receiptcore.domain.backoff import Backoff

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
POLICY = Backoff(free_attempts=4, base_seconds=5.0, max_seconds=60.0, forget_after_seconds=600.0)


async def test_two_connections_share_the_free_attempts_and_see_a_reset(tmp_path: Path) -> None:
    first, second = SqliteDatabase(tmp_path / "db.sqlite3"), SqliteDatabase(tmp_path / "db.sqlite3")
    a, b = SqliteThrottleStore(first), SqliteThrottleStore(second)
    try:
        results = await asyncio.gather(*(store.acquire("k", T0, POLICY) for store in (a, b) * 10))
        assert sum(1 for r in results if r == 0) == 4
        assert await b.reset("k") == 4  # e.g. `receiptcore users unlock` in another process
        assert await a.acquire("k", T0, POLICY) == 0
    finally:
        await first.aclose()
        await second.aclose()
