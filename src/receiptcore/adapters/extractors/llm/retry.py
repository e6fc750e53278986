"""Retries of an LLM API call: exponential backoff with full jitter, on tenacity.

tenacity runs the loop (``AsyncRetrying``: what to retry, when to stop, the injectable sleep); the wait is ours,
a ``wait_base`` of a few lines, because the API's ``Retry-After`` is a floor under the jitter and tests pin the
jitter source (tenacity's ``wait_random_exponential`` draws from the global ``random`` and knows no header).
Giving up is ``ExtractionDeferred``, never an exception of tenacity's.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, RetryError, retry_if_exception_type
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from receiptcore.errors import ExtractionDeferred

log = logging.getLogger(__name__)
T = TypeVar("T")
SleepFn = Callable[[float], Awaitable[None]]


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


def _transient(state: RetryCallState) -> TransientError | None:
    outcome = state.outcome
    error = outcome.exception() if outcome is not None else None
    return error if isinstance(error, TransientError) else None


class _JitterAfterServer(wait_base):
    """The policy's full-jitter delay for the retry about to be made, floored by the server's Retry-After."""

    def __init__(self, policy: RetryPolicy, rng: Callable[[], float]) -> None:
        self.policy = policy
        self.rng = rng

    def __call__(self, retry_state: RetryCallState) -> float:
        error = _transient(retry_state)
        return self.policy.delay(retry_state.attempt_number - 1, error.retry_after if error else None, self.rng)


class _GiveUp(stop_base):
    """Stop after ``max_retries`` retries, or at once when the server asks for a longer pause than we would
    wait in-process (the queue waits it out instead)."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: RetryCallState) -> bool:
        error = _transient(retry_state)
        too_long = error is not None and error.retry_after is not None and error.retry_after > self.policy.max_delay
        return too_long or retry_state.attempt_number > self.policy.max_retries


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
        Whatever else ``call`` raises, unchanged and at once.
    """

    def log_retry(state: RetryCallState) -> None:
        error = _transient(state)
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        log.info("%s: %s; retry %d in %.1f s", what, error.detail if error else "?", state.attempt_number, delay)

    retrying = AsyncRetrying(
        sleep=sleep,
        stop=_GiveUp(policy),
        wait=_JitterAfterServer(policy, rng),
        retry=retry_if_exception_type(TransientError),
        before_sleep=log_retry,
    )
    try:
        return await retrying(call)
    except RetryError as exc:
        last = exc.last_attempt
        error = last.exception()
        assert isinstance(error, TransientError)  # noqa: S101 - only TransientError is retried
        wait = max(policy.defer_seconds, error.retry_after or 0.0)
        raise ExtractionDeferred(
            f"{what} unavailable after {last.attempt_number} attempt(s): {error.detail}", retry_after=wait
        ) from error


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; HTTP dates are rare from APIs and ignored)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86400 else None
