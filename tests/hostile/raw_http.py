"""What the multipart and disk-fault suites share: a raw-socket uploader that stops sending as soon as the
server answers (httpx would insist on sending the whole body first), a server started for one member, and the
resident memory of a process tree read from /proc."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.cli.server_process import ServerProcess

BOUNDARY = "suite-boundary-5c1e"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Body:
    """A multipart body written as ``head``, then ``chunk`` ``count`` times, then ``tail`` (never held whole)."""

    head: bytes
    chunk: bytes = b""
    count: int = 0
    tail: bytes = f"\r\n--{BOUNDARY}--\r\n".encode()
    pace: float = 0.0  # seconds between chunks (slow bodies)
    missing: int = 0  # bytes announced in Content-Length but never sent (a body that stops arriving)

    @property
    def length(self) -> int:
        return len(self.head) + len(self.chunk) * self.count + len(self.tail) + self.missing


def part_head(disposition: bytes, extra: bytes = b"") -> bytes:
    return f"--{BOUNDARY}\r\nContent-Disposition: ".encode() + disposition + b"\r\n" + extra + b"\r\n"


@dataclass
class Answer:
    status: int
    sent: int  # body bytes the client got to send before the answer
    body: bytes


def send(url: str, token: str, body: Body, *, timeout: float = 60.0) -> Answer:
    """POST ``body`` to /api/receipts over a raw socket; stop sending as soon as a response starts arriving."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    try:
        head = (
            f"POST /api/receipts HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {body.length}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        sock.sendall(head)
        sent = 0
        for piece in _pieces(body):
            if _answered(sock):
                break
            if body.pace:
                time.sleep(body.pace)
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            sent += len(piece)
        return _answer(sock, sent)
    finally:
        sock.close()


def _pieces(body: Body) -> Iterator[bytes]:
    yield body.head
    for _ in range(body.count):
        yield body.chunk
    yield body.tail


def _answered(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def _answer(sock: socket.socket, sent: int) -> Answer:
    data = b""
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next(
            (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")),
            None,
        )
        while length is not None and len(rest) < length:
            piece = sock.recv(65536)
            if not piece:
                break
            rest += piece
        data = head + b"\r\n\r\n" + rest
    status_line = data.split(b"\r\n", 1)[0].split()
    status = int(status_line[1]) if len(status_line) > 1 else 0
    return Answer(status=status, sent=sent, body=data.partition(b"\r\n\r\n")[2])


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


def member_token(server: ServerProcess, admin: tuple[str, str] | None = None) -> str:
    """Create a member through the API as the first admin (from this start's banner unless given) and return
    their access token."""
    admin = admin or server.admin
    assert admin is not None, server.output
    email, password = admin
    admin = httpx.post(f"{server.url}/auth/login", json={"email": email, "password": password}).json()
    headers = {"Authorization": f"Bearer {admin['access_token']}"}
    member = {"email": f"member-{os.getpid()}-{time.monotonic_ns()}@example.com", "password": "a long member pass 42"}
    created = httpx.post(f"{server.url}/users", json={**member, "roles": ["member"]}, headers=headers)
    assert created.status_code == 201, created.text
    return str(httpx.post(f"{server.url}/auth/login", json=member).json()["access_token"])
