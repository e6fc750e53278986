"""Argon2PasswordHasher: Argon2id password hashes (argon2-cffi), computed off the event loop, with load shedding.

Each verification costs tens of milliseconds of CPU on purpose. Unbounded, a flood of logins would queue
thousands of them behind each other: every login (the flood's and everyone else's) would then wait seconds and
time out, while the threads doing the hashing take the cores from every other request. So at most
``max_in_flight`` hashes run at once (one per CPU by default) and at most ``max_waiting`` verifications wait for
one of them; a verification past that is refused at once with ``Overloaded`` (429 with Retry-After) before any
hashing, and the client retries later. A verification that is let in is carried out in full, exactly as before.

Hashing (new passwords, the rehash after a successful login) takes the same slots but is never refused: it only
waits, so a login that was let in and verified is never refused afterwards.

The hashes run in the hasher's own pool of exactly ``max_in_flight`` threads, not in the event loop's default
pool (up to ``cpu + 4`` threads). Each hash mallocs its 19 MiB work area, and glibc keeps a freed buffer of that
size in the freeing thread's arena for reuse; spread over the default pool's threads, a burst of logins left
one such buffer per thread resident (an API process at 93 MiB grew to 152 MiB after 48 logins sent 16 at a
time). With one thread per slot, at most ``max_in_flight`` work areas stay resident, and they are reused.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import Argon2Error

from receiptcore.errors import Overloaded
from receiptcore.ports import PasswordHasher

T = TypeVar("T")

# OWASP Password Storage Cheat Sheet floor for Argon2id: m = 19 MiB, t = 2, p = 1.
OWASP_MEMORY_KIB = 19 * 1024
OWASP_TIME_COST = 2
OWASP_PARALLELISM = 1

# Verifications that may wait for a slot, per slot, when ``max_waiting`` is not given.
DEFAULT_WAITING_PER_SLOT = 8
# A refused verification is told to come back after this many seconds: a few rounds of the queue.
OVERLOADED_RETRY_AFTER_SECONDS = 1.0
OVERLOADED_DETAIL = "the server is busy checking other sign-ins; try again after Retry-After seconds"


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class _Slots:
    """At most ``size`` holders at once and at most ``waiting`` callers waiting, on the running event loop.

    An ``asyncio.Semaphore`` belongs to the loop it first waited on; the hasher is a process-wide singleton that
    CLI commands and tests drive from successive loops, so the semaphore is made anew for each loop.
    """

    def __init__(self, size: int, waiting: int) -> None:
        self.size = size
        self.waiting_limit = waiting
        self.waiting = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._semaphore = asyncio.Semaphore(size)

    def _current(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._semaphore, self.waiting = loop, asyncio.Semaphore(self.size), 0
        return self._semaphore

    async def acquire(self, *, shed: bool) -> asyncio.Semaphore:
        """Take a slot, waiting in line; with ``shed`` raise Overloaded instead when the line is full."""
        semaphore = self._current()
        if not semaphore.locked():
            await semaphore.acquire()  # free: returns without yielding
            return semaphore
        if shed and self.waiting >= self.waiting_limit:
            raise Overloaded(OVERLOADED_DETAIL, retry_after=OVERLOADED_RETRY_AFTER_SECONDS, key="overloaded")
        self.waiting += 1
        try:
            await semaphore.acquire()
        finally:
            self.waiting -= 1
        return semaphore


async def _in_thread(
    executor: ThreadPoolExecutor, semaphore: asyncio.Semaphore, function: Callable[..., T], *args: Any
) -> T:
    """Run ``function`` in ``executor`` and give its slot back when the thread is done.

    If the caller is cancelled (the client went away) the hash still runs to its end in its thread, so the slot
    is released only then: the bound counts threads hashing, not requests waiting on them.
    """
    future = asyncio.get_running_loop().run_in_executor(executor, functools.partial(function, *args))
    future.add_done_callback(lambda _: semaphore.release())
    return await asyncio.shield(future)


class Argon2PasswordHasher(PasswordHasher):
    """The PasswordHasher port with Argon2id.

    Hashing and verification run in a worker thread (argon2-cffi releases the GIL) and never stall the event
    loop; at most ``max_in_flight`` of them run at once, and a verification that would wait behind more than
    ``max_waiting`` others is refused with ``Overloaded`` (see the module docstring).

    Args:
        memory_cost: memory in KiB (default: the OWASP floor, 19 MiB).
        time_cost: iterations (default 2).
        parallelism: lanes (default 1).
        hash_len: length of the raw hash in bytes.
        salt_len: length of the random salt in bytes.
        max_in_flight: hashes computed at once; None or 0: one per usable CPU.
        max_waiting: verifications that may wait for a slot; None: 8 per slot; 0 refuses any that would wait.

    Tests may pass cheaper parameters for speed; production uses the defaults.
    """

    def __init__(
        self,
        *,
        memory_cost: int = OWASP_MEMORY_KIB,
        time_cost: int = OWASP_TIME_COST,
        parallelism: int = OWASP_PARALLELISM,
        hash_len: int = 32,
        salt_len: int = 16,
        max_in_flight: int | None = None,
        max_waiting: int | None = None,
    ) -> None:
        self._argon2 = _Argon2(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=hash_len,
            salt_len=salt_len,
            type=Type.ID,
        )
        slots = max_in_flight or usable_cpus()
        if slots < 1 or (max_waiting is not None and max_waiting < 0):
            msg = "max_in_flight must be at least 1 and max_waiting at least 0"
            raise ValueError(msg)
        self._slots = _Slots(slots, DEFAULT_WAITING_PER_SLOT * slots if max_waiting is None else max_waiting)
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    def _pool(self) -> ThreadPoolExecutor:
        """The hasher's own threads, one per slot, started on first use (see the module docstring)."""
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._slots.size, thread_name_prefix="receiptcore-argon2")
            return self._executor

    @property
    def max_in_flight(self) -> int:
        """How many hashes are computed at once."""
        return self._slots.size

    @property
    def max_waiting(self) -> int:
        """How many verifications may wait for a slot before the next is refused."""
        return self._slots.waiting_limit

    async def hash(self, password: str) -> str:
        """Return an encoded Argon2id hash of ``password`` (fresh random salt each call); waits for a slot."""
        semaphore = await self._slots.acquire(shed=False)
        return await _in_thread(self._pool(), semaphore, self._argon2.hash, password)

    async def verify(self, encoded: str, password: str) -> bool:
        """Whether ``password`` matches ``encoded``; False for a mismatch or a malformed/foreign hash.

        Raises:
            Overloaded: ``max_in_flight`` verifications run and ``max_waiting`` wait already; nothing was checked.
        """
        semaphore = await self._slots.acquire(shed=True)
        return await _in_thread(self._pool(), semaphore, self._verify, encoded, password)

    def needs_rehash(self, encoded: str) -> bool:
        """Whether ``encoded`` uses other parameters than the current ones (or cannot be parsed)."""
        try:
            return self._argon2.check_needs_rehash(encoded)
        except (Argon2Error, ValueError):
            return True

    def _verify(self, encoded: str, password: str) -> bool:
        try:
            return self._argon2.verify(encoded, password)
        except (Argon2Error, ValueError):  # mismatch, malformed or foreign hash alike
            return False
