"""How many uploads may be in progress at once, per owner and in this process.

An upload holds its bytes (in memory or a spool file) from its first byte until it is stored, so the number in
flight bounds the memory and temporary disk one process can be made to use. The counts live in the process: the
bound is per API instance (N instances behind a gateway allow N times as many in all).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from receiptcore.errors import RateLimited

# uploads are short (a body at upload speed, one store write): a client should come back soon
RETRY_AFTER_SECONDS = 2.0


class UploadSlots:
    """Counts uploads in progress and refuses one past either bound with RateLimited (429 + Retry-After).

    Args:
        per_owner: most uploads one owner may have in progress at once.
        total: most uploads in progress in this process, all owners together.
    """

    def __init__(self, per_owner: int, total: int) -> None:
        self._per_owner = per_owner
        self._total = total
        self._held: Counter[str] = Counter()

    @property
    def in_progress(self) -> int:
        """Uploads holding a slot now."""
        return sum(self._held.values())

    @contextmanager
    def hold(self, owner_id: str) -> Iterator[None]:
        """Hold one slot for ``owner_id`` while the block runs; RateLimited when none is free.

        The check and the increment run without an ``await`` between them, so concurrent requests on one event
        loop cannot both take the last slot.
        """
        if self._held[owner_id] >= self._per_owner:
            raise RateLimited(
                f"you already have {self._per_owner} uploads in progress; wait for one to finish",
                retry_after=RETRY_AFTER_SECONDS,
            )
        if self.in_progress >= self._total:
            raise RateLimited(
                f"this server already has {self._total} uploads in progress; retry shortly",
                retry_after=RETRY_AFTER_SECONDS,
            )
        self._held[owner_id] += 1
        try:
            yield
        finally:
            self._held[owner_id] -= 1
            if self._held[owner_id] <= 0:
                del self._held[owner_id]
