"""HeapTrimmer (entrypoints/heap.py): trims when the resident size grew since its last trim, never on an idle
process, not at all without glibc; glibc's malloc_trim is found here (Debian)."""

from __future__ import annotations

import asyncio
import contextlib

from receiptcore.entrypoints.heap import GLIBC_TRIM, MIN_GROWTH_BYTES, HeapTrimmer, malloc_trim, resident_bytes

MIB = 1024 * 1024


class FakeHeap:
    """A resident size that grows when told to and shrinks by what a trim frees."""

    def __init__(self, resident: int, freeable: int = 0) -> None:
        self.resident = resident
        self.freeable = freeable
        self.trims = 0

    def trim(self) -> int:
        self.trims += 1
        self.resident -= self.freeable
        released, self.freeable = self.freeable > 0, 0
        return int(released)

    def grow(self, live: int, freed: int) -> None:
        self.resident += live + freed
        self.freeable += freed


async def test_it_trims_after_growth_and_not_while_idle() -> None:
    heap = FakeHeap(100 * MIB, freeable=5 * MIB)
    trimmer = HeapTrimmer(5.0, trim=heap.trim, resident=lambda: heap.resident)
    assert await trimmer.step()  # the first look trims: nothing is known about what came before
    assert heap.resident == 95 * MIB
    assert not await trimmer.step()  # idle: no trim
    heap.grow(live=1 * MIB, freed=MIN_GROWTH_BYTES - 2 * MIB)  # grew by less than the threshold
    assert not await trimmer.step()
    heap.grow(live=0, freed=2 * MIB)  # now past it
    assert await trimmer.step()
    assert heap.resident == 96 * MIB
    assert (heap.trims, trimmer.trims) == (2, 2)


async def test_it_is_off_with_no_interval_or_no_trim_function() -> None:
    heap = FakeHeap(100 * MIB)
    assert not HeapTrimmer(0, trim=heap.trim, resident=lambda: heap.resident).enabled
    off = HeapTrimmer(5.0, trim=None, resident=lambda: heap.resident)  # what a process without glibc gets
    assert not off.enabled
    assert not await off.step()
    assert not HeapTrimmer(5.0, trim=heap.trim, resident=lambda: None).enabled
    await asyncio.wait_for(HeapTrimmer(0, trim=heap.trim).run(), 1)  # returns at once when off
    assert heap.trims == 0


async def test_run_looks_every_interval_until_cancelled() -> None:
    heap = FakeHeap(100 * MIB, freeable=MIB)
    trimmer = HeapTrimmer(0.01, trim=heap.trim, resident=lambda: heap.resident)
    task = asyncio.create_task(trimmer.run())
    for _ in range(100):
        await asyncio.sleep(0.01)
        if heap.trims:
            break
    heap.grow(live=0, freed=MIN_GROWTH_BYTES)
    for _ in range(100):
        await asyncio.sleep(0.01)
        if heap.trims >= 2:
            break
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert heap.trims == 2
    assert heap.resident == 100 * MIB - MIB


def test_glibc_malloc_trim_and_the_resident_size_are_found_here() -> None:
    trim = malloc_trim()
    assert trim is not None
    assert GLIBC_TRIM is not None
    assert trim() in (0, 1)
    resident = resident_bytes()
    assert resident is not None
    assert resident > MIB
