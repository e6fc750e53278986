"""A bounded, streaming ``multipart/form-data`` reader for uploads: nothing is buffered that was not asked for.

Litestar's own form parser reads the whole body, keeps every part that is not a file in memory (a 300 MiB text
field is 300 MiB of RSS, then ignored) and fails with a 500 on part headers that are not UTF-8. This reader
takes the request's byte stream and refuses as early as the bytes allow:

- a part whose name is not the one expected, or that is not a file (no ``filename``), is refused as soon as its
  headers have arrived, before one byte of its body is read (422, naming the part);
- one part's header block over ``max_header_bytes``, or headers that are not UTF-8 or not ``Name: value``
  lines (a file name holding CR/LF breaks the line), are refused (413 / 400);
- more file parts than ``max_files`` are refused when the next one starts (413);
- a file is written to a ``Spool`` and refused the moment it passes ``max_file_bytes`` (413); the files of one
  request share ``SPOOL_MEMORY_BYTES`` of memory, and a file that does not fit in what is left goes to a temporary
  file on disk (a 300 KB phone photo stays in memory: a disk spool cost a file create, write, two reads and an
  unlink per upload; 16 uploads in progress hold at most 16 MiB this way, where 256 KiB per part allowed 80);
  in memory, the file is made ``bytes`` once and read again without a copy;
- the body must keep arriving: a gap over ``idle_timeout`` seconds, or a whole body slower than
  ``body_timeout`` seconds, is a 408 (a slow-body, "slowloris", client cannot hold a slot for ever).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import unquote

from receiptcore.errors import MalformedRequest, RequestTimeout, UploadTooLarge, ValidationFailed

# the memory the files of one request may take before they spool to disk (all its parts together)
SPOOL_MEMORY_BYTES = 1024 * 1024
MAX_PREAMBLE_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class MultipartLimits:
    """What one upload request may hold, and how slowly it may arrive."""

    field_name: str
    max_files: int
    max_file_bytes: int
    idle_timeout: float
    body_timeout: float
    max_header_bytes: int = 8 * 1024


class Spool:
    """One file's bytes as they arrive: in memory up to ``memory_limit`` bytes, then in an unnamed temporary file
    on disk holding all of them.

    In memory the bytes go into one growing buffer (however small the pieces they arrive in), and ``read`` makes
    them ``bytes`` once and keeps only that, so reading the file again (the service reads it to inspect it and
    again to store it) costs no copy; ``tempfile.SpooledTemporaryFile`` copied a 300 KB photo out of its buffer
    on every read. A file on disk is read anew each time, so only the file being used is in memory.
    """

    __slots__ = ("_buffer", "_file", "_joined", "_memory_limit", "size")

    def __init__(self, memory_limit: int) -> None:
        self._memory_limit = memory_limit
        self._buffer = bytearray()
        self._joined: bytes | None = None
        self._file: IO[bytes] | None = None
        self.size = 0

    @property
    def rolled(self) -> bool:
        """Whether the bytes went to a temporary file on disk (they do past ``memory_limit``)."""
        return self._file is not None

    def write(self, data: memoryview) -> None:
        """Append ``data`` (copied: it may be a view of a buffer that changes)."""
        if self._joined is not None:  # written after a read: back to the buffer
            self._buffer, self._joined = bytearray(self._joined), None
        if self._file is None and self.size + len(data) > self._memory_limit:
            self._file = tempfile.TemporaryFile(prefix="receiptcore-upload-")  # noqa: SIM115 - closed by close()
            self._file.write(self._buffer)
            self._buffer = bytearray()
        if self._file is not None:
            self._file.write(data)
        else:
            self._buffer += data
        self.size += len(data)

    def read(self) -> bytes:
        """All the bytes written."""
        if self._file is not None:
            self._file.seek(0)
            return self._file.read()
        if self._joined is None:
            self._joined, self._buffer = bytes(self._buffer), bytearray()
        return self._joined

    def close(self) -> None:
        """Drop the bytes (and remove the temporary file)."""
        if self._file is not None:
            self._file.close()
        self._buffer, self._joined = bytearray(), None


@dataclass(slots=True)
class FilePart:
    """One received file: its client-given name and type, and its bytes in a spool."""

    filename: str
    content_type: str | None
    spool: Spool = field(repr=False)

    @property
    def size(self) -> int:
        """The file's bytes so far."""
        return self.spool.size

    @property
    def on_disk(self) -> bool:
        """Whether the spool has rolled over to a temporary file (it does past its memory budget)."""
        return self.spool.rolled

    def read(self) -> bytes:
        """The whole file (at most ``max_file_bytes``)."""
        return self.spool.read()

    def close(self) -> None:
        """Drop the file's bytes, on disk or in memory."""
        self.spool.close()


def boundary_of(content_type: str) -> bytes:
    """The ``boundary`` parameter of a ``multipart/form-data`` content type; MalformedRequest without one."""
    _, params = _split_params(content_type)
    boundary = params.get("boundary", "")
    if not 1 <= len(boundary) <= 70 or not boundary.isascii():
        raise MalformedRequest("the multipart content type needs a boundary of 1 to 70 ASCII characters")
    return boundary.encode("ascii")


async def read_file_parts(stream: AsyncIterator[bytes], boundary: bytes, limits: MultipartLimits) -> list[FilePart]:
    """Read every part of a multipart body; all parts must be files named ``limits.field_name``.

    Returns the files in order (the caller closes them). On any refusal the spool files already written are
    closed before the error propagates.
    """
    reader = _Reader(boundary, limits)
    try:
        async for chunk in _paced(stream, limits):
            if reader.feed(chunk):
                break
        else:
            reader.finish()
    except BaseException:
        reader.close()
        raise
    return reader.files


async def _paced(stream: AsyncIterator[bytes], limits: MultipartLimits) -> AsyncIterator[bytes]:
    """The chunks of ``stream``, each awaited at most ``idle_timeout`` and all within ``body_timeout``."""
    deadline = time.monotonic() + limits.body_timeout
    iterator = aiter(stream)
    while True:
        wait = min(limits.idle_timeout, deadline - time.monotonic())
        try:
            async with asyncio.timeout(max(wait, 0.0)):
                chunk = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError:
            with contextlib.suppress(Exception):
                await iterator.aclose()  # type: ignore[attr-defined]
            raise RequestTimeout(
                f"the request body did not arrive in time (at most {limits.idle_timeout:g} s between chunks, "
                f"{limits.body_timeout:g} s in all)"
            ) from None
        yield chunk


class _Reader:
    """The parser's state between chunks: before the first boundary, in a header block, or in a file body."""

    def __init__(self, boundary: bytes, limits: MultipartLimits) -> None:
        self._limits = limits
        self._delimiter = b"\r\n--" + boundary
        # a virtual CRLF in front lets the first boundary match the same delimiter as every later one
        self._buffer = bytearray(b"\r\n")
        self._state = "preamble"
        self.files: list[FilePart] = []

    def feed(self, chunk: bytes) -> bool:
        """Take one chunk; True once the closing boundary has been read (the rest is epilogue)."""
        self._buffer += chunk
        while True:
            if self._state == "preamble" and not self._skip_to_delimiter():
                return False
            if self._state == "after-delimiter":
                if len(self._buffer) < 2:
                    return False
                ending = bytes(self._buffer[:2])
                del self._buffer[:2]
                if ending == b"--":
                    self._state = "done"
                    return True
                if ending != b"\r\n":
                    raise MalformedRequest("a multipart boundary is followed by neither CRLF nor '--'")
                self._state = "headers"
            if self._state == "headers" and not self._read_headers():
                return False
            if self._state == "body" and not self._read_body():
                return False

    def finish(self) -> None:
        """The stream ended: it must have ended with the closing boundary."""
        if self._state != "done":
            raise MalformedRequest("the multipart body ended before its closing boundary")

    def close(self) -> None:
        for part in self.files:
            part.close()

    def _skip_to_delimiter(self) -> bool:
        index = self._buffer.find(self._delimiter)
        if index < 0:
            if len(self._buffer) > MAX_PREAMBLE_BYTES:
                raise MalformedRequest("no multipart boundary where the body starts")
            return False
        del self._buffer[: index + len(self._delimiter)]
        self._state = "after-delimiter"
        return True

    def _read_headers(self) -> bool:
        if self._buffer.startswith(b"\r\n"):
            block = b""  # a part without any header line
            del self._buffer[:2]
        else:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0 and len(self._buffer) <= self._limits.max_header_bytes:
                return False
            if end < 0 or end > self._limits.max_header_bytes:
                raise UploadTooLarge(f"a part's headers are longer than {self._limits.max_header_bytes} bytes")
            block = bytes(self._buffer[:end])
            del self._buffer[: end + 4]
        self._start_part(_parse_headers(block))
        self._state = "body"
        return True

    def _start_part(self, headers: dict[str, str]) -> None:
        index = len(self.files)
        disposition, params = _split_params(headers.get("content-disposition", ""))
        name = params.get("name")
        where = f"part {index + 1}"
        if disposition.lower() != "form-data" or name is None:
            raise ValidationFailed(
                f"{where} has no 'Content-Disposition: form-data; name=...' header",
                errors=[{"field": where, "message": "not a form-data part"}],
            )
        if name != self._limits.field_name:
            shown = _shown(name)
            raise ValidationFailed(
                f"unknown part {shown!r}: only parts named {self._limits.field_name!r} (files) are accepted",
                errors=[{"field": shown, "message": "unknown part"}],
            )
        filename = _filename(params)
        if filename is None:
            raise ValidationFailed(
                f"each {name!r} part must be a file (with a filename); {where} is not",
                errors=[{"field": f"{name}.{index}", "message": "not a file"}],
            )
        if index >= self._limits.max_files:
            raise UploadTooLarge(f"at most {self._limits.max_files} files per upload")
        in_memory = sum(part.size for part in self.files if not part.on_disk)
        spool = Spool(memory_limit=SPOOL_MEMORY_BYTES - in_memory)
        self.files.append(FilePart(filename=filename, content_type=headers.get("content-type"), spool=spool))

    def _read_body(self) -> bool:
        part = self.files[-1]
        index = self._buffer.find(self._delimiter)
        # without the delimiter, everything except a tail that may be its start belongs to the file
        take = index if index >= 0 else max(0, len(self._buffer) - len(self._delimiter) + 1)
        if part.size + take > self._limits.max_file_bytes:
            raise UploadTooLarge(
                f"{_shown(part.filename) or 'a file'} is larger than {self._limits.max_file_bytes} bytes"
            )
        if take:
            with memoryview(self._buffer) as view:  # no copy of the slice; released before the buffer shrinks
                part.spool.write(view[:take])
        if index < 0:
            del self._buffer[:take]
            return False
        del self._buffer[: index + len(self._delimiter)]
        self._state = "after-delimiter"
        return True


def _parse_headers(block: bytes) -> dict[str, str]:
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("a multipart part's headers are not valid UTF-8") from None
    headers: dict[str, str] = {}
    for line in text.split("\r\n") if text else []:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or not name.isascii():
            # e.g. a file name holding CR/LF: the header line breaks in two
            raise MalformedRequest("a multipart part has a malformed header line (a name holding CR or LF?)")
        headers[name.lower()] = value.strip()
    return headers


def _split_params(value: str) -> tuple[str, dict[str, str]]:
    """``type; a=1; b="x;y"`` → ("type", {"a": "1", "b": "x;y"}), quoted strings with backslash escapes."""
    head, _, rest = value.partition(";")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " \t;":
            i += 1
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip().lower()
        i = eq + 1
        if i < n and rest[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n and rest[i] != '"':
                if rest[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(rest[i])
                i += 1
            i += 1
            val = "".join(chars)
        else:
            end = rest.find(";", i)
            end = n if end < 0 else end
            val = rest[i:end].strip()
            i = end
        params.setdefault(key, val)
    return head.strip(), params


def _filename(params: dict[str, str]) -> str | None:
    extended = params.get("filename*")
    if extended is not None:
        # RFC 5987: charset'language'percent-encoded
        charset, _, rest = extended.partition("'")
        _, _, encoded = rest.partition("'")
        try:
            return unquote(encoded, encoding=charset or "utf-8", errors="strict")
        except (LookupError, UnicodeDecodeError):
            raise MalformedRequest("a part's filename* is not valid in its declared charset") from None
    plain = params.get("filename")
    if plain is None:
        return None
    # browsers (WHATWG multipart/form-data encoding) escape exactly these three as %22, %0D and %0A
    return plain.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")


def _shown(text: str) -> str:
    """A client-given name as safe to echo: printable characters only, at most 100."""
    return "".join(ch if ch.isprintable() else "?" for ch in text[:100])
