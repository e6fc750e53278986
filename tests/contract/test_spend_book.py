"""The SpendBook contract (``llm.budget.SpendBook``: the LLM daily spend cap), one test body run against every
adapter (``SPEND_BOOKS`` in conftest.py: the ledger file of a data dir, and the PostgreSQL table every worker host
shares). ``spend_books.open`` is another host (or process) on the same record."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import pytest

from receiptcore.errors import ExtractionDeferred
from tests.contract.conftest import SpendBooks

NOON = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)


async def test_the_cap_is_shared_by_every_host_and_resets_each_utc_day(spend_books: SpendBooks) -> None:
    now = [NOON]
    first = spend_books.open(Decimal(1), lambda: now[0])
    await first.settle(await first.reserve(Decimal("0.3")), Decimal("0.25"))
    other_host = spend_books.open(Decimal(1), lambda: now[0])
    assert await spend_books.spent_today(lambda: now[0]) == Decimal("0.25")
    with pytest.raises(ExtractionDeferred) as caught:
        await other_host.reserve(Decimal("0.80"))
    assert caught.value.retry_after == 12 * 3600
    now[0] = dt.datetime(2026, 5, 2, 0, 0, 1, tzinfo=dt.UTC)
    assert await spend_books.spent_today(lambda: now[0]) == 0
    assert await other_host.reserve(Decimal("0.80")) == Decimal("0.80")


async def test_concurrent_reservations_on_several_hosts_never_book_past_the_cap(spend_books: SpendBooks) -> None:
    books = [spend_books.open(Decimal("1.00"), lambda: NOON) for _ in range(3)]
    outcomes = await asyncio.gather(*(books[n % 3].reserve(Decimal("0.15")) for n in range(30)), return_exceptions=True)
    granted = [o for o in outcomes if isinstance(o, Decimal)]
    assert len(granted) == 6  # 6 x 0.15 = 0.90 fits, a seventh would pass 1.00
    assert all(isinstance(o, ExtractionDeferred) for o in outcomes if not isinstance(o, Decimal))
    assert await spend_books.spent_today(lambda: NOON) == Decimal("0.90")


async def test_a_reservation_from_yesterday_is_not_carried_into_today(spend_books: SpendBooks) -> None:
    now = [dt.datetime(2026, 5, 1, 23, 59, 59, tzinfo=dt.UTC)]
    book = spend_books.open(None, lambda: now[0])
    reserved = await book.reserve(Decimal("0.5"))
    now[0] += dt.timedelta(seconds=2)
    await book.settle(reserved, Decimal("0.1"))
    assert await spend_books.spent_today(lambda: now[0]) == Decimal("0.1")


async def test_the_first_call_of_a_day_may_exceed_a_tiny_cap_but_not_a_zero_cap(spend_books: SpendBooks) -> None:
    tiny = spend_books.open(Decimal("0.001"), lambda: NOON)
    await tiny.reserve(Decimal("0.05"))
    with pytest.raises(ExtractionDeferred):
        await tiny.reserve(Decimal("0.05"))
    zero = spend_books.open(Decimal(0), lambda: NOON + dt.timedelta(days=1))
    with pytest.raises(ExtractionDeferred):
        await zero.reserve(Decimal("0.01"))


async def test_settling_a_failed_call_gives_the_reservation_back(spend_books: SpendBooks) -> None:
    book = spend_books.open(Decimal(1), lambda: NOON)
    await book.settle(await book.reserve(Decimal("0.9")), Decimal(0))
    assert await spend_books.spent_today(lambda: NOON) == 0
    assert await book.reserve(Decimal("0.9")) == Decimal("0.9")  # the whole cap is available again
