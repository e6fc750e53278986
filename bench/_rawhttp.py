"""A lean HTTP/1.1 keep-alive client on asyncio streams, the load generator's default engine.

Why not httpx for the load itself: on this kind of machine (2 cores) an httpx client spends ~1 ms of CPU per
request, so against a bare endpoint it saturates its own core at ~1,000 req/s while the server idles at ~15%;
the "baseline" would then measure httpx, and every ratio would be squeezed towards 1. This client pre-encodes
each request once and parses only what it needs (status line, Content-Length or chunked framing, Connection),
so it costs a small fraction of the server's per-request work. httpx stays available (``--client httpx``) and
is still what logs in and checks the routes before measuring.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit


class ProtocolError(Exception):
    """The server's response could not be framed."""


def encode_request(base_url: str, method: str, path: str, headers: dict[str, str], body: bytes | None) -> bytes:
    """The request bytes for ``method path`` with ``headers`` and an optional body, keep-alive."""
    host = urlsplit(base_url).netloc
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Accept: */*", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class RawConnection:
    """One keep-alive connection to ``host:port``; reconnects when the server closes it.

    ``source`` binds the local end to that address (another 127.x.y.z address, so the server sees its own
    client address per connection, as it would see many people's browsers).
    """

    def __init__(self, host: str, port: int, source: str | None = None) -> None:
        self._host, self._port = host, port
        self._source = source
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, int]:
        """Send pre-encoded request bytes and read the whole response; returns (status, body length)."""
        if self._writer is None:
            local = (self._source, 0) if self._source is not None else None
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port, local_addr=local)
        assert self._reader is not None
        self._writer.write(raw)
        try:
            status, length, keep_alive = await self._read_response(self._reader)
        except (asyncio.IncompleteReadError, ConnectionError, ProtocolError):
            await self.close()
            raise
        if not keep_alive:
            await self.close()
        return status, length

    @staticmethod
    async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int, bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ProtocolError(f"bad status line {status_line[:80]!r}")
        status = int(parts[1])
        content_length, chunked, keep_alive = None, False, True
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                content_length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                keep_alive = False
        if chunked:
            length = 0
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
                if size == 0:
                    await _skip_trailers(reader)
                    return status, length, keep_alive
                await reader.readexactly(size + 2)
                length += size
        if content_length is None:
            if status in (204, 304) or 100 <= status < 200:
                return status, 0, keep_alive
            raise ProtocolError("response without Content-Length or chunked framing")
        await reader.readexactly(content_length)
        return status, content_length, keep_alive

    async def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _skip_trailers(reader: asyncio.StreamReader) -> None:
    """After the last chunk: skip trailer lines up to the empty line."""
    while (await reader.readuntil(b"\r\n")) != b"\r\n":
        pass
