"""The login throttle: exponential back-off per account and per client, on a shared ``ThrottleStore``.

Why not the ``limits`` package: its strategies (fixed window, moving window, sliding window counter) say "N hits
per period". They cannot say "each try past the fifth waits twice as long as the one before, and a success
starts over", which is what avoids malicious lockout while still slowing guessing to a crawl, and its storages
(memory, Redis, Memcached, MongoDB) hold neither our SQLite nor our PostgreSQL, where the counters must live to
survive restarts and be shared (nor can they let a correct password through once the wait is over, or clear one
account for ``receiptcore users unlock``). The schedule is eleven lines (``domain.backoff``); the stores are one atomic
read-decide-write each.

Two keys per login, both hashed (the store never holds an address or an attempted email, which is sometimes a
mistyped password):

- the **account** (the normalised email, existing or not, so that throttling reveals nothing): a correct
  password resets it; a wrong one makes the next try wait longer;
- the **client** (its IP address): slows one address spraying one password across many accounts. A success takes
  its own attempt back, so a busy office behind one address is not slowed by its successful logins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from receiptcore.domain.backoff import Backoff
from receiptcore.errors import Overloaded, RateLimited
from receiptcore.ports import Clock, ThrottleState, ThrottleStore

T = TypeVar("T")

THROTTLED_DETAIL = "too many failed attempts; try again later"


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """The two back-off schedules of logins."""

    account: Backoff = field(default_factory=lambda: Backoff(free_attempts=5))
    client: Backoff = field(default_factory=lambda: Backoff(free_attempts=20))


def _key(kind: str, value: str) -> str:
    return kind + ":" + hashlib.sha256(f"{kind}\x00{value}".encode("utf-8", "surrogatepass")).hexdigest()


def account_key(email: str) -> str:
    """The store key of an account (``email`` already normalised)."""
    return _key("account", email)


def client_key(address: str) -> str:
    """The store key of a client address."""
    return _key("client", address)


def secret_key(scope: str, user_id: str) -> str:
    """The store key of another secret check of one user (e.g. the current password on a password change)."""
    return _key(scope, user_id)


class LoginThrottle:
    """Decides whether a try may run, counts it, and forgets it on success.

    Args:
        store: the shared counters.
        clock: the time source.
        policy: the schedules.
    """

    def __init__(self, store: ThrottleStore, clock: Clock, policy: ThrottlePolicy | None = None) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy or ThrottlePolicy()

    async def guard(self, account: str, client: str | None, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` (a credential check that raises on failure) if neither key is backing off.

        The try is counted before ``attempt`` runs, so concurrent guesses cannot all slip through one free
        slot; a success then resets the account and takes the client's attempt back. Counting both keys is one
        store write (``acquire_all``: a refused try counts on neither), and so is the success (``settle``).

        Raises:
            RateLimited: with ``retry_after`` (seconds) when a key must wait; ``attempt`` did not run.
            Overloaded: from ``attempt``, shed before any check; the try is given back to both keys.
        """
        now = self._clock.now()
        ckey = client_key(client) if client else None
        akey = account_key(account)
        tries = [(akey, self._policy.account)]
        if ckey is not None:
            tries.insert(0, (ckey, self._policy.client))
        waits = await self._store.acquire_all(tries, now)
        if ckey is not None and waits[0] > 0:
            raise RateLimited(THROTTLED_DETAIL, retry_after=waits[0], key="client")
        if waits[-1] > 0:
            # refused unread: no guess was made, so the client's counter was not touched either
            raise RateLimited(THROTTLED_DETAIL, retry_after=waits[-1], key="account")
        try:
            result = await attempt()
        except Overloaded:
            # shed before the password was looked at: not a guess, so neither key keeps it
            await self._store.release(akey)
            if ckey is not None:
                await self._store.release(ckey)
            raise
        await self._store.settle(akey, ckey)  # one write: reset the account, give the client its try back
        return result

    async def guard_secret(self, scope: str, user_id: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Like ``guard`` for a secret check of a signed-in user (account schedule, no client key)."""
        key = secret_key(scope, user_id)
        wait = await self._store.acquire(key, self._clock.now(), self._policy.account)
        if wait > 0:
            raise RateLimited(THROTTLED_DETAIL, retry_after=wait, key="account")
        try:
            result = await attempt()
        except Overloaded:
            await self._store.release(key)
            raise
        await self._store.reset(key)
        return result

    async def unlock_account(self, email: str) -> int:
        """Clear an account's counter (admin command); returns the attempts it had counted."""
        return await self._store.reset(account_key(email))

    async def unlock_client(self, address: str) -> int:
        """Clear a client address's counter (admin command); returns the attempts it had counted."""
        return await self._store.reset(client_key(address))

    async def account_state(self, email: str) -> ThrottleState | None:
        """The counter of an account, or None when it has none."""
        return await self._store.peek(account_key(email), self._clock.now(), self._policy.account)
