"""LoginAdmission: a bound on the logins in progress on one instance, checked before a login does any work.

The password hasher bounds the Argon2id checks themselves (``max_in_flight`` computing, a short line waiting,
the rest refused with ``Overloaded``). But before its check a login already reads the account and writes both
throttle counters, and after it writes a session: under a flood those writes queue behind each other, so a
login refused only at the hasher has still waited for them, seconds on a busy disk. This bound sits in front of
all of it: with as many logins in progress as the hasher can run and queue, the next one is refused at once,
having read and written nothing, and the ones let in find the hasher's line short.

The HTTP layer takes the place before routing (``entrypoints/http/shedding.py``) and the route takes it again
inside that: a ticket taken where one is held already (same request, same context) is that same place. So a
login is counted once, from before its body is read, and the route stays the check wherever nothing in front
took one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from receiptcore.errors import Overloaded

OVERLOADED_DETAIL = "the server is busy checking other sign-ins; try again after Retry-After seconds"
RETRY_AFTER_SECONDS = 1.0


class LoginAdmission:
    """Counts logins in progress on this instance (one event loop) and refuses one past ``limit``.

    Args:
        limit: logins in progress at once; the composition root sets it to what the hasher runs plus queues.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            msg = "a login admission limit must be at least 1"
            raise ValueError(msg)
        self.limit = limit
        self.in_progress = 0
        self._held: ContextVar[bool] = ContextVar(f"login_admission_{id(self)}", default=False)

    @property
    def full(self) -> bool:
        """Whether the next ``ticket`` would be refused (the HTTP layer sheds on it before parsing a request)."""
        return self.in_progress >= self.limit

    @contextmanager
    def ticket(self) -> Iterator[None]:
        """Hold one place while the block runs; inside a block that holds one already, that same place.

        Raises:
            Overloaded: ``limit`` logins are in progress already; nothing was done.
        """
        if self._held.get():
            yield
            return
        if self.full:
            raise Overloaded(OVERLOADED_DETAIL, retry_after=RETRY_AFTER_SECONDS, key="overloaded")
        self.in_progress += 1
        held = self._held.set(True)
        try:
            yield
        finally:
            self._held.reset(held)
            self.in_progress -= 1
