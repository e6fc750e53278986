"""A real Argon2PasswordHasher (cheap parameters) whose password checks wait until the test releases them.

The load-shedding tests use it to hold checks "in flight" for as long as they need, so what they assert never
depends on a stopwatch. The bound, the line and the refusals are the production code; only the thread that
computes a check is held.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from typing import Any

from receiptcore.adapters.security import Argon2PasswordHasher

# Only guards against a hang: no test waits this long unless something is broken.
HANG_GUARD_S = float(os.environ.get("RECEIPTCORE_TEST_HANG_GUARD_S", "30"))


class HeldHasher(Argon2PasswordHasher):
    """Argon2id whose verifications wait for ``release`` before they compute; counts what ran at once."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(memory_cost=64, time_cost=1, parallelism=1, **kwargs)
        self.release = threading.Event()
        self.started = 0
        self.running_now = 0
        self.most_at_once = 0
        self._count = threading.Lock()

    def _verify(self, encoded: str, password: str) -> bool:
        with self._count:
            self.started += 1
            self.running_now += 1
            self.most_at_once = max(self.most_at_once, self.running_now)
        try:
            if not self.release.wait(HANG_GUARD_S):
                raise AssertionError("the test never released the hasher")
            return super()._verify(encoded, password)
        finally:
            with self._count:
                self.running_now -= 1


async def until(condition: Callable[[], bool]) -> None:
    """Yield to the event loop until ``condition()`` holds; fail (not hang) after ``HANG_GUARD_S``."""
    async with asyncio.timeout(HANG_GUARD_S):
        while not condition():  # noqa: ASYNC110 - the condition is set by worker threads, not by a task
            await asyncio.sleep(0.005)
