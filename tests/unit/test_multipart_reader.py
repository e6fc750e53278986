"""The bounded multipart reader (issue 9, holes 1 and 5): the same files however the body is split into chunks,
and any body at all is either files or a ReceiptcoreError (a 4xx problem), never another exception."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiptcore.entrypoints.http import multipart
from receiptcore.entrypoints.http.multipart import MultipartLimits, boundary_of, read_file_parts
from receiptcore.errors import MalformedRequest, ReceiptcoreError, UploadTooLarge, ValidationFailed

BOUNDARY = b"b0undary"
LIMITS = MultipartLimits(field_name="file", max_files=5, max_file_bytes=4096, idle_timeout=5, body_timeout=10)


def body_of(files: list[tuple[str, bytes]]) -> bytes:
    out = b""
    for name, content in files:
        out += b"--" + BOUNDARY + b"\r\n"
        out += f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'.encode()
        out += b"Content-Type: image/png\r\n\r\n" + content + b"\r\n"
    return out + b"--" + BOUNDARY + b"--\r\n"


async def _chunks(body: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    last = 0
    for cut in sorted({c % (len(body) + 1) for c in cuts}):
        yield body[last:cut]
        last = cut
    yield body[last:]


def read(body: bytes, cuts: list[int] = []) -> list[tuple[str, bytes]]:  # noqa: B006 - read only
    async def run() -> list[tuple[str, bytes]]:
        parts = await read_file_parts(_chunks(body, cuts), BOUNDARY, LIMITS)
        try:
            return [(p.filename, p.read()) for p in parts]
        finally:
            for p in parts:
                p.close()

    return asyncio.run(run())


names = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_characters='"\\%'), max_size=20)
# file bytes that may hold pieces of the delimiter, CRLFs and dashes
contents = st.binary(max_size=300) | st.lists(
    st.sampled_from([b"\r\n", b"--", BOUNDARY, b"\r\n--" + BOUNDARY[:-1], b"x", b"\r"]), max_size=30
).map(b"".join)
# a client picks a boundary that its files do not contain (RFC 2046 §5.1.1)
contents = contents.filter(lambda content: b"\r\n--" + BOUNDARY not in content)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(names, contents), min_size=1, max_size=5), st.lists(st.integers(0, 5000), max_size=12))
def test_files_are_read_back_exactly_however_the_body_is_chunked(
    files: list[tuple[str, bytes]], cuts: list[int]
) -> None:
    assert read(body_of(files), cuts) == files


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=6))
def test_any_bytes_are_files_or_a_receiptcore_error(body: bytes, cuts: list[int]) -> None:
    with contextlib.suppress(ReceiptcoreError):
        read(body, cuts)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"\r\n",
                b"--",
                BOUNDARY,
                b"Content-Disposition: form-data",
                b'; name="file"',
                b'; filename="a',
                b'"',
                b"\xff",
                b":",
                b"\r\n\r\n",
                b"x" * 50,
            ]
        ),
        max_size=40,
    )
)
def test_bodies_made_of_multipart_fragments_are_files_or_a_receiptcore_error(pieces: list[bytes]) -> None:
    with contextlib.suppress(ReceiptcoreError):
        read(b"".join(pieces))


def test_each_cap_is_its_own_error() -> None:
    with pytest.raises(UploadTooLarge, match="at most 5 files"):
        read(body_of([("a.png", b"x")] * 6))
    with pytest.raises(UploadTooLarge, match="larger than 4096"):
        read(body_of([("a.png", b"x" * 4097)]))
    with pytest.raises(ValidationFailed, match="unknown part 'other'"):
        read(body_of([("a.png", b"x")]).replace(b'name="file"', b'name="other"'))
    with pytest.raises(MalformedRequest, match="UTF-8"):
        read(body_of([("a.png", b"x")]).replace(b"a.png", b"\xe9.png"))
    with pytest.raises(MalformedRequest, match="closing boundary"):
        read(body_of([("a.png", b"x")])[:-12])


def test_the_boundary_comes_from_the_content_type() -> None:
    assert boundary_of('multipart/form-data; boundary="a b"') == b"a b"
    assert boundary_of("multipart/form-data; charset=utf-8; boundary=xyz") == b"xyz"
    for bad in ("multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=é"):
        with pytest.raises(MalformedRequest):
            boundary_of(bad)


def test_the_files_of_a_request_share_one_memory_budget_then_spool_to_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(multipart, "SPOOL_MEMORY_BYTES", 1000)
    files = [("a", b"a" * 600), ("b", b"b" * 300), ("c", b"c" * 600), ("d", b"d" * 50)]

    async def run() -> list[tuple[bool, bool, bytes]]:
        parts = await read_file_parts(_chunks(body_of(files), [100, 700, 1500]), BOUNDARY, LIMITS)
        try:
            # on_disk is the part's account; whether a temporary file exists is what the spool really did
            return [(p.on_disk, p.spool._file is not None, p.read()) for p in parts]
        finally:
            for p in parts:
                p.close()

    # 600 + 300 fit in 1,000 bytes; the third does not fit in the 100 left; the fourth does
    assert asyncio.run(run()) == [
        (False, False, b"a" * 600),
        (False, False, b"b" * 300),
        (True, True, b"c" * 600),
        (False, False, b"d" * 50),
    ]


def test_a_file_in_memory_is_made_bytes_once_and_read_again_without_a_copy() -> None:
    async def run() -> None:
        parts = await read_file_parts(_chunks(body_of([("a.png", b"a" * 3000)]), [70, 900, 2000]), BOUNDARY, LIMITS)
        try:
            first = parts[0].read()
            assert first == b"a" * 3000
            assert parts[0].read() is first  # the service reads each file twice: inspection, then storing
        finally:
            parts[0].close()
        assert parts[0].read() == b""

    asyncio.run(run())


def test_a_spool_past_its_memory_limit_moves_what_it_held_to_disk() -> None:
    spool = multipart.Spool(memory_limit=10)
    spool.write(memoryview(b"12345678"))
    assert not spool.rolled
    assert spool.read() == b"12345678"
    spool.write(memoryview(b"9abc"))  # 12 > 10: everything goes to a temporary file, in order
    assert spool.rolled
    assert spool.size == 12
    assert spool.read() == spool.read() == b"123456789abc"
    spool.close()


def test_a_file_arriving_a_byte_at_a_time_takes_no_more_memory_than_its_bytes() -> None:
    # a piece per chunk would cost an object header per byte (40x the file) for a body sent in 1-byte segments
    spool = multipart.Spool(memory_limit=1024 * 1024)
    for _ in range(100_000):
        spool.write(memoryview(b"x"))
    assert sys.getsizeof(spool._buffer) < 2 * 100_000
    assert spool.read() == b"x" * 100_000
    spool.write(memoryview(b"y"))  # written after a read: still all of it
    assert spool.read() == b"x" * 100_000 + b"y"
    spool.close()
