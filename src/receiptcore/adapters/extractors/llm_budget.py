"""Cost and failure policy of the LLM extractors: a per-day spend cap and retries with backoff and jitter.

Both end the same way when they give up: ``ExtractionDeferred`` with a ``retry_after``, so the worker puts the
receipt back in the queue to wait (DESIGN.md §5: an LLM outage or an exhausted budget delays jobs, it never
fails them).
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

from receiptcore.errors import ExtractionDeferred, ExtractionFailed
from receiptcore.settings import Settings

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: the in-process lock still serialises this process
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
T = TypeVar("T")
SleepFn = Callable[[float], Awaitable[None]]
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
    A file lock (``fcntl``) serialises processes; a thread lock serialises threads of this one.
    """

    _thread_lock = threading.Lock()

    def __init__(self, path: Path, cap_usd: Decimal | None, now: Callable[[], dt.datetime] | None = None) -> None:
        self.path = path
        self.cap = cap_usd
        self._now = now or (lambda: dt.datetime.now(dt.UTC))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
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


class TransientError(Exception):
    """Internal marker: the call may succeed if repeated (429, 5xx, timeout, connection error)."""

    def __init__(self, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: wait uniform(0, min(max_delay, base * 2**n)), at least what the
    server asked for in Retry-After; a Retry-After beyond ``max_delay`` defers the job instead."""

    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 60.0
    defer_seconds: float = 60.0

    def delay(self, retry: int, retry_after: float | None, rng: Callable[[], float]) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0**retry)
        jittered = ceiling * rng()
        if retry_after is not None:
            jittered = max(jittered, min(retry_after, self.max_delay))
        return jittered


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    sleep: SleepFn,
    rng: Callable[[], float] = random.random,
    what: str = "LLM API",
) -> T:
    """Await ``call()``; on ``TransientError`` wait and try again, up to ``policy.max_retries`` times.

    Raises:
        ExtractionDeferred: every attempt failed transiently; ``retry_after`` is at least
            ``policy.defer_seconds`` and at least what the server last asked for.
    """
    retry = 0
    while True:
        try:
            return await call()
        except TransientError as exc:
            # a server asking for a longer pause than we would wait in-process gets it through the queue
            too_long = exc.retry_after is not None and exc.retry_after > policy.max_delay
            if retry >= policy.max_retries or too_long:
                wait = max(policy.defer_seconds, exc.retry_after or 0.0)
                raise ExtractionDeferred(
                    f"{what} unavailable after {retry + 1} attempt(s): {exc.detail}", retry_after=wait
                ) from exc
            delay = policy.delay(retry, exc.retry_after, rng)
            log.info("%s: %s; retry %d in %.1f s", what, exc.detail, retry + 1, delay)
            await sleep(delay)
            retry += 1


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; HTTP dates are rare from APIs and ignored)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86400 else None


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


def spend_ledger(settings: Settings) -> SpendLedger:
    """The per-day ledger every LLM extractor on this data dir shares."""
    return SpendLedger(settings.data_dir / "llm-spend.json", settings.llm_daily_spend_cap_usd)


def retry_policy(settings: Settings) -> RetryPolicy:
    """Retry settings shared by the LLM extractors."""
    return RetryPolicy(
        max_retries=settings.llm_max_retries,
        base_delay=settings.llm_retry_base_seconds,
        max_delay=settings.llm_retry_max_seconds,
        defer_seconds=max(60.0, settings.llm_retry_max_seconds),
    )
