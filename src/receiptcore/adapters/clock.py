"""Clocks: the system clock, and a settable one for tests and simulations."""

from __future__ import annotations

import datetime as dt

from receiptcore.ports import Clock


class SystemClock(Clock):
    """Wall-clock time, timezone-aware UTC."""

    def now(self) -> dt.datetime:
        """Return the current UTC time."""
        return dt.datetime.now(dt.UTC)


class ManualClock(Clock):
    """A clock that only moves when told to (deterministic tests of expiry and leases)."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        """Return the clock's current time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self._now += dt.timedelta(seconds=seconds)
