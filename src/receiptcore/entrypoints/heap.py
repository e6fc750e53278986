"""Give freed heap memory back to the system after bursts (glibc ``malloc_trim``), so a process's resident size
follows what it holds rather than the most it ever held.

glibc keeps memory that a burst of uploads or logins freed: blocks of a few hundred KB (a file's bytes) come from
the heap once the first one freed raises glibc's mmap threshold, and a free block inside the heap is returned only
when it sits at its top. ``malloc_trim(0)`` returns every free page of every arena (``madvise``): in the upload
bench's process (``bench/upload_cost_bench.py``), 400 uploads at 16 at once left 18 MiB that a trim returned in
0.8 ms. In ``serve`` on the 100,000-receipt bench store (``bench/memory_bench.py``) the gain after every row was
smaller, 3-5 MiB (most of what stays after a burst is live). The alternatives cost more: with
``MALLOC_MMAP_THRESHOLD_=131072`` (every large block mapped and unmapped) an upload took ~1 ms more CPU (6.1 →
7.4 ms), and ``MALLOC_ARENA_MAX=2`` changed nothing measurable (docs/benchmarks.md).

The trimmer runs in the serving process: every ``interval`` seconds it reads the resident size
(``/proc/self/statm``) and trims, in a thread, only when it grew by ``MIN_GROWTH_BYTES`` since the last trim, so an
idle process does nothing and a busy one trims at most once per interval. Where there is no glibc (musl, macOS) it
does nothing.

``freeze_startup_heap`` is the cycle collector's side of the same process: ``serve`` calls it once the app has
started, so what start-up built (modules, the app and its routes, schemas, the container) moves to the
collector's permanent generation and no full collection walks it again. Measured in process under a login
flood (docs/benchmarks.md, 2026-12-07 afternoon): a full collection of the serving process took ~60 ms of the
event loop's CPU, every request waiting; after the freeze, 0.05-0.4 ms.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
from collections.abc import Callable

log = logging.getLogger(__name__)

MIN_GROWTH_BYTES = 1024 * 1024
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def malloc_trim() -> Callable[[], int] | None:
    """glibc's ``malloc_trim(0)`` as a function returning 1 when memory was released, or None without glibc."""
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: int(trim(0))


def resident_bytes() -> int | None:
    """This process's resident set size, or None where ``/proc`` does not tell."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


GLIBC_TRIM = malloc_trim()


def freeze_startup_heap() -> int:
    """Collect once, then move every object left to the collector's permanent generation; returns how many.

    Those objects are still freed when nothing refers to them; only a cycle among them would now stay, which is
    why the collection runs first.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class HeapTrimmer:
    """Trims the heap when the resident size grew since the last trim, at most once per ``interval`` seconds.

    Args:
        interval: seconds between two looks at the resident size (0 or less: never trim).
        trim: the trim function (default: glibc's, None without glibc; tests pass their own).
        resident: reads the resident size in bytes (default: ``/proc/self/statm``).
    """

    def __init__(
        self,
        interval: float,
        trim: Callable[[], int] | None = GLIBC_TRIM,
        resident: Callable[[], int | None] = resident_bytes,
    ) -> None:
        self._interval = interval
        self._trim = trim
        self._resident = resident
        self._after_last: int | None = None
        self.trims = 0

    @property
    def enabled(self) -> bool:
        """Whether this trimmer will ever trim (an interval, a trim function and a readable resident size)."""
        return self._interval > 0 and self._trim is not None and self._resident() is not None

    async def step(self) -> bool:
        """Trim now when the resident size grew by ``MIN_GROWTH_BYTES`` since the last trim; True when it did."""
        now = self._resident()
        if self._trim is None or now is None:
            return False
        if self._after_last is not None and now - self._after_last < MIN_GROWTH_BYTES:
            return False
        # in a thread: it walks every arena's free blocks (a few ms on a large heap)
        await asyncio.to_thread(self._trim)
        self.trims += 1
        after = self._resident()
        self._after_last = after if after is not None else now
        log.debug("heap trimmed: resident %d -> %d bytes", now, self._after_last)
        return True

    async def run(self) -> None:
        """Look every ``interval`` seconds until cancelled."""
        if not self.enabled:
            return
        while True:
            await asyncio.sleep(self._interval)
            await self.step()
