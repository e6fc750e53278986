"""PostgresSpendLedger: the LLM extractors' daily spend cap in PostgreSQL, shared by every worker on every host.

The file ledger in the data dir (``llm.budget.SpendLedger``) is shared only by the processes of one host; with
this one the cap holds for the whole install. It keeps the file ledger's rules: ``reserve`` books a call's
worst-case cost before it is made, refusing it when the day's total would pass the cap (except a day's first
call when the cap is below one call's worst case, so such a cap cannot stall every job forever); ``settle``
replaces the reservation by the real cost. Each is one statement (an upsert whose update is conditional on the
cap), so concurrent reservations from any number of workers never book past the cap together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from receiptcore.adapters.postgres.database import PostgresDatabase
from receiptcore.errors import ExtractionDeferred

_RESERVE = """
INSERT INTO llm_spend AS s (day, usd) VALUES ($1, $2)
ON CONFLICT (day) DO UPDATE SET usd = s.usd + excluded.usd
    WHERE $3::numeric IS NULL OR s.usd + excluded.usd <= $3 OR s.usd = 0
RETURNING usd
"""
# A reservation larger than what is booked today was made before midnight UTC: only the actual cost is carried
# into the new day (as in the file ledger).
_SETTLE = """
INSERT INTO llm_spend AS s (day, usd) VALUES ($1, $3)
ON CONFLICT (day) DO UPDATE SET usd = GREATEST(CASE WHEN s.usd >= $2 THEN s.usd - $2 + $3 ELSE s.usd + $3 END, 0)
"""


def _seconds_until_midnight_utc(now: dt.datetime) -> float:
    now = now.astimezone(dt.UTC)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return max(1.0, (midnight - now).total_seconds())


class PostgresSpendLedger:
    """USD spent on LLM calls per UTC day, in the ``llm_spend`` table.

    Args:
        db: the pool shared by the PostgreSQL adapters.
        cap_usd: the daily cap; None for no cap (spend is still booked, for the figures).
        now: the clock (tests pass a fixed one).
    """

    def __init__(
        self, db: PostgresDatabase, cap_usd: Decimal | None, now: Callable[[], dt.datetime] | None = None
    ) -> None:
        self._db = db
        self.cap = cap_usd
        self._now = now or (lambda: dt.datetime.now(dt.UTC))

    def _today(self) -> tuple[dt.datetime, dt.date]:
        now = self._now()
        return now, now.astimezone(dt.UTC).date()

    async def spent_today(self) -> Decimal:
        """USD booked so far today (UTC), reservations included. Raises StorageUnavailable."""
        _, day = self._today()
        async with self._db.connection() as conn:
            usd = await conn.fetchval("SELECT usd FROM llm_spend WHERE day = $1", day)
        return Decimal(0) if usd is None else Decimal(usd)

    async def reserve(self, estimate: Decimal) -> Decimal:
        """Book ``estimate`` USD against today's cap and return it (pass it to ``settle``).

        Raises:
            ExtractionDeferred: the cap would be exceeded; ``retry_after`` is the seconds until midnight UTC.
            StorageUnavailable: the database cannot be reached (the worker retries the job later).
        """
        now, day = self._today()
        booked = None
        if self.cap != 0 or estimate == 0:
            async with self._db.connection() as conn:
                booked = await conn.fetchval(_RESERVE, day, estimate, self.cap)
        if booked is None:
            spent = await self.spent_today()
            raise ExtractionDeferred(
                f"daily LLM spend cap of {self.cap} USD reached ({spent} USD booked today); waiting for midnight UTC",
                retry_after=_seconds_until_midnight_utc(now),
            )
        return estimate

    async def settle(self, reserved: Decimal, actual: Decimal) -> None:
        """Replace a reservation by the actual cost (0 when the call failed before the API billed it)."""
        _, day = self._today()
        async with self._db.connection() as conn:
            await conn.execute(_SETTLE, day, reserved, actual)
