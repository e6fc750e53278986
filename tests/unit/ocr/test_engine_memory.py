"""The engine's malloc setting: large native buffers must be unmapped on free, not parked in the heap."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Run in a fresh interpreter: in the test process the heap is shaped by every earlier test, and a free chunk
# already in the heap would serve the request without any mmap, whatever the threshold.
_PROBE = """
import ctypes, sys
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "engine":
    from receiptcore.adapters.extractors.ocr.engine import _map_large_buffers
    _map_large_buffers()
size = 16 << 20  # above the engine's threshold, below glibc's 32 MiB ceiling for its moving one
libc.free(libc.malloc(size))  # glibc alone raises its threshold past 16 MiB here
second = libc.malloc(size)
# glibc marks a chunk served by its own mmap with the IS_MMAPPED bit (0x2) of the size word before the pointer
print(bool(ctypes.c_size_t.from_address(second - ctypes.sizeof(ctypes.c_size_t)).value & 0x2))
"""


def _mapped_again(mode: str) -> bool:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip() == "True"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the setting is glibc's")
def test_a_large_buffer_freed_and_requested_again_is_mapped_again() -> None:
    assert _mapped_again("engine")
    # and the probe can tell: without the engine's setting glibc serves the second request from the heap
    assert not _mapped_again("plain")
