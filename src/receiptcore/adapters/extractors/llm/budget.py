"""Cost policy of the LLM extractors: a per-day spend cap, and the metered call that runs retries (``retry``)
inside a reservation of the call's worst-case cost.

The cap and the retries end the same way when they give up: ``ExtractionDeferred`` with a ``retry_after``, so
the worker puts the receipt back in the queue to wait (DESIGN.md §5: an LLM outage or an exhausted budget
delays jobs, it never fails them).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import random
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Protocol, TypeVar

from receiptcore.adapters.extractors.llm.retry import RetryPolicy, SleepFn, call_with_retries
from receiptcore.errors import ExtractionDeferred, ExtractionFailed

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the in-process lock still serialises this process
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
T = TypeVar("T")
MILLION = Decimal(1_000_000)


def seconds_until_midnight_utc(now: dt.datetime) -> float:
    """Seconds from ``now`` (aware) to the next 00:00 UTC; at least one second."""
    now = now.astimezone(dt.UTC)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return max(1.0, (midnight - now).total_seconds())


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per million input and output tokens."""

    input_per_mtok: Decimal = Decimal(0)
    output_per_mtok: Decimal = Decimal(0)

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        """What a call with these token counts costs, in USD."""
        return self.cost_of(Decimal(input_tokens), Decimal(output_tokens))

    def cost_of(self, input_tokens: Decimal, output_tokens: Decimal) -> Decimal:
        """Like ``cost``, for weighted (fractional) token counts."""
        return (self.input_per_mtok * input_tokens + self.output_per_mtok * output_tokens) / MILLION


class SpendLedger:
    """USD spent on LLM calls per UTC day, kept in a small JSON file so every process on the data dir shares it.

    ``reserve`` books a call's worst-case cost before it is made (so concurrent workers cannot overshoot the
    cap together; only a day's first call may, when the cap is below one call's worst case) and
    ``settle`` replaces the reservation by the real cost from the API's usage figures.
    A file lock (``fcntl``) serialises processes; a thread lock serialises threads of this one. With no ``path``
    (the memory profile) the day's figure is kept in this object only.
    """

    _thread_lock = threading.Lock()

    def __init__(
        self, path: Path | None, cap_usd: Decimal | None, now: Callable[[], dt.datetime] | None = None
    ) -> None:
        self.path = path
        self.cap = cap_usd
        self._now = now or (lambda: dt.datetime.now(dt.UTC))
        self._in_memory: tuple[str, Decimal] = ("", Decimal(0))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self.path is None:
            with self._thread_lock:
                yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, open(self.path.with_suffix(".lock"), "a+b") as lock_file:
            if fcntl is not None:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    def _read(self, day: str) -> Decimal:
        if self.path is None:
            return self._in_memory[1] if self._in_memory[0] == day else Decimal(0)
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
            return Decimal(str(record["usd"])) if record.get("day") == day else Decimal(0)
        except FileNotFoundError:
            return Decimal(0)
        except (ValueError, KeyError, TypeError, AttributeError, InvalidOperation, OSError):
            # a damaged ledger must not stop extraction for good; start the day again, loudly
            log.warning("LLM spend ledger %s unreadable; counting today's spend from zero", self.path)
            return Decimal(0)

    def _write(self, day: str, usd: Decimal) -> None:
        if self.path is None:
            self._in_memory = (day, max(usd, Decimal(0)))
            return
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"day": day, "usd": str(max(usd, Decimal(0)))}), encoding="utf-8")
        os.replace(temporary, self.path)

    def spent_today(self) -> Decimal:
        """USD booked so far today (UTC), reservations included."""
        with self._locked():
            return self._read(self._now().astimezone(dt.UTC).date().isoformat())

    def reserve(self, estimate: Decimal) -> Decimal:
        """Book ``estimate`` USD against today's cap and return it (pass it to ``settle``).

        Raises:
            ExtractionDeferred: the cap would be exceeded; ``retry_after`` is the seconds until midnight UTC.
        """
        now = self._now()
        day = now.astimezone(dt.UTC).date().isoformat()
        with self._locked():
            spent = self._read(day)
            # the first call of a day may exceed a cap set below one call's worst case; otherwise such a cap
            # would stall every job forever
            over = spent + estimate > self.cap if self.cap is not None else False
            if over and (spent > 0 or self.cap == 0):
                raise ExtractionDeferred(
                    f"daily LLM spend cap of {self.cap} USD reached ({spent} USD booked today); "
                    "waiting for midnight UTC",
                    retry_after=seconds_until_midnight_utc(now),
                )
            self._write(day, spent + estimate)
        return estimate

    def settle(self, reserved: Decimal, actual: Decimal) -> None:
        """Replace a reservation by the actual cost (0 when the call failed before the API billed it)."""
        day = self._now().astimezone(dt.UTC).date().isoformat()
        with self._locked():
            spent = self._read(day)
            # less booked than reserved means the reservation was made before midnight UTC (or the ledger was
            # reset): it is not carried into the new day, only the actual cost is
            self._write(day, spent - reserved + actual if spent >= reserved else spent + actual)


class SpendBook(Protocol):
    """What ``metered_call`` books spend through: the file ledger (``FileSpendBook``) or a shared one that the
    composition root hands in (``PostgresSpendLedger``, one cap for every worker host)."""

    async def reserve(self, estimate: Decimal) -> Decimal:
        """Book ``estimate`` USD against today's cap and return it. Raises ExtractionDeferred over the cap."""
        ...

    async def settle(self, reserved: Decimal, actual: Decimal) -> None:
        """Replace a reservation by the actual cost."""
        ...


class FileSpendBook(SpendBook):
    """A ``SpendLedger`` file behind the ``SpendBook`` interface (its locked read-modify-write of a few bytes is
    quick enough to run on the event loop, as it always has)."""

    def __init__(self, ledger: SpendLedger) -> None:
        self.ledger = ledger

    async def reserve(self, estimate: Decimal) -> Decimal:
        """See ``SpendLedger.reserve``."""
        return self.ledger.reserve(estimate)

    async def settle(self, reserved: Decimal, actual: Decimal) -> None:
        """See ``SpendLedger.settle``."""
        self.ledger.settle(reserved, actual)


def estimate_input_tokens(pixels: int, text_chars: int) -> int:
    """Rough input token count of a vision request: ~750 pixels per image token (Anthropic's published rule,
    close for OpenAI-style tiling too) and ~3 characters per text token (schema JSON is token-dense)."""
    return pixels // 750 + text_chars // 3 + 1


class HealthState:
    """Whether an LLM extractor can extract right now, for readiness reports ("degraded", never "unavailable":
    jobs wait in the queue meanwhile). Set by ``metered_call``: the last call ended deferred (outage, refused key
    or model, spend cap) or it did not."""

    def __init__(self) -> None:
        self.problem: str | None = None

    @property
    def healthy(self) -> bool:
        """True unless the last call was deferred."""
        return self.problem is None


async def metered_call(
    ledger: SpendBook | None,
    estimate: Decimal,
    call: Callable[[], Awaitable[tuple[T, Decimal]]],
    policy: RetryPolicy,
    *,
    sleep: SleepFn,
    rng: Callable[[], float] = random.random,
    what: str = "LLM API",
    health: HealthState | None = None,
) -> T:
    """Reserve ``estimate`` USD, run ``call`` with retries, then settle the ledger with the cost it reports.

    ``call`` returns its result and the USD that attempt cost. A call that never got an answer costs nothing.

    Raises:
        ExtractionDeferred: the spend cap is reached, or the API stayed unavailable.
        ExtractionFailed: whatever ``call`` raises for a non-transient failure.
    """
    health = health or HealthState()
    try:
        reserved = await ledger.reserve(estimate) if ledger is not None else Decimal(0)
        actual = Decimal(0)
        try:
            result, actual = await call_with_retries(call, policy, sleep=sleep, rng=rng, what=what)
        finally:
            if ledger is not None:
                await ledger.settle(reserved, actual)
    except ExtractionDeferred as exc:
        health.problem = exc.detail
        raise
    except ExtractionFailed:
        health.problem = None  # the API answered; only this document could not be read
        raise
    health.problem = None
    return result
