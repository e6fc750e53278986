"""Argon2PasswordHasher: Argon2id password hashes, computed off the event loop, with load shedding.

**Which implementation.** Hashes are computed by libsodium (PyNaCl) whenever it can: Argon2id, version 19, one
lane, the standard PHC string. libsodium picks its AVX2 / AVX-512 code at run time; argon2-cffi's wheel is built
for plain SSE2, and on the 2-core reference machine libsodium verifies the same hash in ~0.4x the CPU
(``bench/argon2_params_bench.py``; docs/benchmarks.md). Both produce and read the same strings, so hashes made
by either verify with the other. argon2-cffi still parses the parameters (``needs_rehash``) and checks whatever
libsodium cannot (other variants, several lanes, unusual salt or hash lengths), so every stored hash keeps
verifying with its own parameters.

**Which parameters.** OWASP's Password Storage Cheat Sheet lists five Argon2id settings of equal strength, a
trade of memory for iterations (``services/password_hashing.py``). The default is m = 7 MiB, t = 5, p = 1: of
the five, the one that costs the least CPU here (a smaller work area stays closer to the caches) and the least
memory. A hash made with other parameters (the earlier default, m = 19 MiB, t = 2) still verifies, and
``needs_rehash`` tells the login to rehash it with the current ones.

**Load.** Each verification costs milliseconds of CPU on purpose. Unbounded, a flood of logins would queue
thousands of them behind each other: every login (the flood's and everyone else's) would then wait seconds and
time out, while the threads doing the hashing take the cores from every other request. So at most
``max_in_flight`` hashes run at once (one per CPU by default) and at most ``max_waiting`` verifications wait for
one of them; a verification past that is refused at once with ``Overloaded`` (429 with Retry-After) before any
hashing, and the client retries later. A verification that is let in is carried out in full, exactly as before.

Hashing (new passwords, the rehash after a successful login) takes the same slots but is never refused: it only
waits, so a login that was let in and verified is never refused afterwards.

The hashes run in the hasher's own pool of exactly ``max_in_flight`` threads, not in the event loop's default
pool (up to ``cpu + 4`` threads). libsodium maps and unmaps its work area for each hash; argon2-cffi mallocs it,
and glibc keeps a freed buffer of that size in the freeing thread's arena, so spread over the default pool's
threads a burst of logins left one such buffer per thread resident. With one thread per slot, at most
``max_in_flight`` of those stay resident. The threads may run at a lower OS priority than the event loop
(``thread_niceness``, Linux: the nice value is per thread there), so that under a flood the hashes take the CPU
the event loop leaves, not the share it needs to answer everyone else.
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
from argon2 import Type, extract_parameters
from argon2.exceptions import Argon2Error
from nacl.exceptions import CryptoError
from nacl.pwhash import argon2id as _sodium

from receiptcore.errors import Overloaded
from receiptcore.ports import PasswordHasher
from receiptcore.services.password_hashing import DEFAULT_MEMORY_KIB, DEFAULT_PARALLELISM, DEFAULT_TIME_COST

T = TypeVar("T")

# libsodium's Argon2id strings: salt and hash lengths it writes, and the longest string it reads.
_SODIUM_SALT_LEN = 16
_SODIUM_HASH_LEN = 32
_SODIUM_MAX_ENCODED = 127
_SODIUM_MIN_SALT_LEN = 8
_SODIUM_MIN_HASH_LEN = 16

# Verifications that may wait for a slot, per slot, when ``max_waiting`` is not given.
DEFAULT_WAITING_PER_SLOT = 8
# A refused verification is told to come back after this many seconds: a few rounds of the queue.
OVERLOADED_RETRY_AFTER_SECONDS = 1.0
OVERLOADED_DETAIL = "the server is busy checking other sign-ins; try again after Retry-After seconds"


def _sodium_reads(encoded: str) -> bool:
    """Whether libsodium computes the same check as argon2-cffi for ``encoded`` (else argon2-cffi checks it).

    libsodium answers "no" alike for a wrong password and a string it cannot use, so only strings it surely
    can use go to it: Argon2id, version 19, one lane, salt and hash within its bounds, short enough.
    """
    if len(encoded) > _SODIUM_MAX_ENCODED or not encoded.startswith("$argon2id$v=19$"):
        return False
    try:
        params = extract_parameters(encoded)
    except ValueError:
        return False
    return (
        params.parallelism == 1
        and params.salt_len >= _SODIUM_MIN_SALT_LEN
        and params.hash_len >= _SODIUM_MIN_HASH_LEN
        and encoded.isascii()
    )


def _lower_priority(niceness: int) -> None:
    """Thread initializer: raise this thread's nice value by ``niceness`` (Linux: the nice value is per thread).

    Only ever lowers the priority, which needs no privilege; where the platform has no per-thread nice value
    (or refuses) the thread keeps the process's priority.
    """
    if niceness <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + niceness))
    except OSError:
        return


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

    Hashing and verification run in a worker thread (libsodium and argon2-cffi release the GIL) and never stall
    the event loop; at most ``max_in_flight`` of them run at once, and a verification that would wait behind
    more than ``max_waiting`` others is refused with ``Overloaded`` (see the module docstring).

    Args:
        memory_cost: memory in KiB (default 7 MiB, with ``time_cost`` one of OWASP's floors).
        time_cost: iterations (default 5).
        parallelism: lanes (default 1).
        hash_len: length of the raw hash in bytes.
        salt_len: length of the random salt in bytes.
        max_in_flight: hashes computed at once; None or 0: one per usable CPU.
        max_waiting: verifications that may wait for a slot; None: 8 per slot; 0 refuses any that would wait.
        thread_niceness: how much lower than the process's the hashing threads' OS priority is (0: the same).

    Tests may pass cheaper parameters for speed; production uses parameters at or above an OWASP floor.
    """

    def __init__(
        self,
        *,
        memory_cost: int = DEFAULT_MEMORY_KIB,
        time_cost: int = DEFAULT_TIME_COST,
        parallelism: int = DEFAULT_PARALLELISM,
        hash_len: int = _SODIUM_HASH_LEN,
        salt_len: int = _SODIUM_SALT_LEN,
        max_in_flight: int | None = None,
        max_waiting: int | None = None,
        thread_niceness: int = 0,
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
        # libsodium writes 16-byte salts and 32-byte hashes; other shapes are argon2-cffi's to make
        self._sodium_hashes = parallelism == 1 and (hash_len, salt_len) == (_SODIUM_HASH_LEN, _SODIUM_SALT_LEN)
        self._memory_cost, self._time_cost = memory_cost, time_cost
        self._niceness = thread_niceness
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    def _pool(self) -> ThreadPoolExecutor:
        """The hasher's own threads, one per slot, started on first use (see the module docstring)."""
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self._slots.size,
                    thread_name_prefix="receiptcore-argon2",
                    initializer=_lower_priority,
                    initargs=(self._niceness,),
                )
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
        return await _in_thread(self._pool(), semaphore, self._hash, password)

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

    def _hash(self, password: str) -> str:
        if self._sodium_hashes:
            encoded = _sodium.str(password.encode(), opslimit=self._time_cost, memlimit=self._memory_cost * 1024)
            return encoded.decode("ascii")
        return self._argon2.hash(password)

    def _verify(self, encoded: str, password: str) -> bool:
        if _sodium_reads(encoded):
            try:
                return _sodium.verify(encoded.encode("ascii"), password.encode())
            except (CryptoError, ValueError):  # a mismatch (the string is one libsodium reads), or not UTF-8
                return False
        try:
            return self._argon2.verify(encoded, password)
        except (Argon2Error, ValueError):  # mismatch, malformed or foreign hash alike
            return False
