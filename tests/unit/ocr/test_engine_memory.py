"""The engine's malloc setting: large native buffers must be unmapped on free, not parked in the heap."""

from __future__ import annotations

import ctypes
import ctypes.util

import pytest

from receiptcore.adapters.extractors.ocr.engine import _map_large_buffers


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]  # fmt: skip


def _libc() -> ctypes.CDLL:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        pytest.skip("needs glibc >= 2.33 (mallinfo2)")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    return libc


def test_a_large_buffer_freed_and_requested_again_is_mapped_again() -> None:
    # glibc alone would raise its mmap threshold after the first free and serve the second request from the heap
    libc = _libc()
    _map_large_buffers()
    size = 16 << 20  # above the engine's threshold, below glibc's 32 MiB ceiling for its moving one
    first = libc.malloc(size)
    libc.free(first)
    second = libc.malloc(size)
    try:
        # glibc marks a chunk served by its own mmap with the IS_MMAPPED bit (0x2) of the size word just before
        # the pointer; read per chunk, unlike the process-wide mallinfo2 counters that other threads change
        assert ctypes.c_size_t.from_address(second - ctypes.sizeof(ctypes.c_size_t)).value & 0x2
    finally:
        libc.free(second)
