"""A real ``receiptcore serve`` refuses logins before ASGI while its admission is full, with the app's own answer.

The admission is one place (one verify slot, no queue) held by a login whose body never ends; every other login
is then refused. The one refused by the server's protocol (``entrypoints/http/server_protocol.py``) is compared
byte for byte with the one refused by the app's shedding layer (a query string sends it the ASGI way), both are
in the access log, the connection stays usable, and SIGTERM still ends the process cleanly.
"""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

from tests.cli.server_process import ServerProcess

_BODY = b'{"email": "nobody@example.com", "password": "not checked"}'


def _request(target: bytes, request_id: bytes) -> bytes:
    return (
        b"POST " + target + b" HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n"
        b"x-request-id: " + request_id + b"\r\ncontent-length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY
    )


def _read_answer(sock: socket.socket) -> bytes:
    data = b""
    while True:
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"\r\ncontent-length: (\d+)\r\n", head + b"\r\n")
        if _ and length and len(body) >= int(length.group(1)):
            return data
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk


def _access_lines(output: str, request_id: str) -> list[dict[str, object]]:
    lines = []
    for line in output.splitlines():
        if line.startswith("{") and '"receiptcore.http"' in line:
            record = json.loads(line)
            if record.get("request_id") == request_id:
                lines.append(record)
    return lines


def test_a_login_refused_by_the_server_gets_the_apps_answer_and_its_access_line(tmp_path: Path) -> None:
    env = {"RECEIPTCORE_PASSWORD_VERIFY_SLOTS": "1", "RECEIPTCORE_PASSWORD_VERIFY_QUEUE_PER_SLOT": "0"}
    server = ServerProcess(tmp_path / "data", cwd=tmp_path, args=("--no-worker",), env=env).start()
    try:
        host, port = server.url.removeprefix("http://").split(":")
        holder = socket.create_connection((host, int(port)), timeout=10)
        # the one place: a login whose body never ends holds it
        holder.sendall(
            b"POST /auth/login HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n"
            b"content-length: 100\r\n\r\n{"
        )
        time.sleep(0.5)
        with socket.create_connection((host, int(port)), timeout=10) as client:
            client.sendall(_request(b"/auth/login", b"early-1"))
            early = _read_answer(client)
            # same connection, kept alive: the next request is served as usual
            client.sendall(b"GET /health/live HTTP/1.1\r\nhost: localhost\r\n\r\n")
            live = _read_answer(client)
        with socket.create_connection((host, int(port)), timeout=10) as other:
            other.sendall(_request(b"/auth/login?via=asgi", b"early-1"))
            routed = _read_answer(other)
        # the held login ends: its place is free again, and the next login goes to the app (no such account)
        holder.sendall(b" " * 98 + b"}")
        held = _read_answer(holder)
        holder.close()
        with socket.create_connection((host, int(port)), timeout=10) as late:
            late.sendall(_request(b"/auth/login", b"late-1"))
            checked = _read_answer(late)
    finally:
        code = server.stop()
    assert code == 0, server.output

    def undated(answer: bytes) -> bytes:
        return re.sub(rb"\r\ndate: [^\r]+\r\n", b"\r\ndate: -\r\n", answer)

    assert early.startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
    assert undated(early) == undated(routed)
    assert live.startswith(b"HTTP/1.1 200 OK\r\n")
    assert held.startswith(b"HTTP/1.1 422 ")  # {} is no login
    assert checked.startswith(b"HTTP/1.1 401 ")
    records = _access_lines(server.output, "early-1")
    assert [(r["method"], r["path"], r["route"], r["status"]) for r in records] == [
        ("POST", "/auth/login", "/auth/login", 429),
        ("POST", "/auth/login", "/auth/login", 429),
    ]
    assert {r["client"] for r in records} == {"127.0.0.1"}
    assert "Traceback" not in server.output
