"""What the system test does to the running topology: people and their tokens, revocation timing across every
receipt instance, and Redis connection surgery (CLIENT KILL of one process's connections)."""

from __future__ import annotations

import os
import secrets
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.system.topology import Topology

CHANGES = ("roles", "disable", "password")


@dataclass
class Person:
    id: str
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def new_person(topo: Topology, admin: dict[str, str], roles: list[str] | None = None) -> Person:
    """A user created by the admin through the gateway, signed in."""
    email = f"p-{secrets.token_hex(5)}@example.com"
    password = f"system-{secrets.token_hex(8)}-pass"
    created = httpx.post(
        f"{topo.url}/users",
        json={"email": email, "password": password, "roles": roles or ["member", "auditor"]},
        headers=admin,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    login = topo.direct_login(email, password)
    assert login.status_code == 200, login.text
    return Person(created.json()["id"], email, password, login.json()["access_token"])


def change(topo: Topology, admin: dict[str, str], person: Person, kind: str) -> None:
    """An admin removes a role, disables the user, or sets a new password (each bumps the token version)."""
    base = f"{topo.url}/users/{person.id}"
    if kind == "roles":
        response = httpx.put(f"{base}/roles", json={"roles": ["member"]}, headers=admin, timeout=30)
    elif kind == "disable":
        response = httpx.post(f"{base}/disable", headers=admin, timeout=30)
    else:
        new_password = f"system-{secrets.token_hex(8)}-new"
        response = httpx.post(f"{base}/reset-password", json={"password": new_password}, headers=admin, timeout=30)
    assert response.status_code == 200, response.text


def accepted_everywhere(clients: list[httpx.Client], person: Person) -> None:
    for client in clients:
        response = client.get("/api/receipts", params={"limit": 1}, headers=person.headers)
        assert response.status_code == 200, f"{client.base_url}: {response.status_code} {response.text}"


def seconds_until_refused_everywhere(clients: list[httpx.Client], person: Person, timeout: float) -> float:
    """From now until every instance answers 401 to the person's old token (polled as fast as they answer)."""
    start = time.perf_counter()
    pending = list(clients)
    refused_at = start
    while pending:
        for client in list(pending):
            status = client.get("/api/receipts", params={"limit": 1}, headers=person.headers).status_code
            if status == 401:
                pending.remove(client)
                refused_at = time.perf_counter()
            else:
                assert status == 200, f"{client.base_url} answered {status}"
        if time.perf_counter() - start > timeout:
            raise AssertionError(f"old token still accepted by {[str(c.base_url) for c in pending]} after {timeout} s")
    return refused_at - start


def measure_revocations(
    topo: Topology, trials: int, *, before_change: Callable[[], None] | None = None, timeout: float = 10.0
) -> list[float]:
    """``trials`` revocations (cycling through the three kinds); the delay of each until both instances refuse."""
    admin = topo.admin_headers()
    clients = [httpx.Client(base_url=r.url, timeout=10.0) for r in topo.receipts]
    delays: list[float] = []
    try:
        for trial in range(trials):
            if trial and trial % 40 == 0:
                admin = topo.admin_headers()  # access tokens live 5 minutes
            person = new_person(topo, admin)
            accepted_everywhere(clients, person)  # both instances have the user's state cached now
            if before_change is not None:
                before_change()
            change(topo, admin, person, CHANGES[trial % len(CHANGES)])
            delays.append(seconds_until_refused_everywhere(clients, person, timeout))
    finally:
        for client in clients:
            client.close()
    return delays


def summary(delays: list[float]) -> dict[str, float]:
    ordered = sorted(delays)
    p99 = ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(p99 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


# ---- Redis: kill one process's connections ---------------------------------------------------------------------


def _redis_command(address: tuple[str, int], *args: str) -> bytes:
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(payload.encode())
        data = b""
        sock.settimeout(2)
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
            if data.startswith(b"$"):
                header, _, rest = data.partition(b"\r\n")
                if len(rest) >= int(header[1:]) + 2:
                    return rest[: int(header[1:])]
            elif data.endswith(b"\r\n"):
                return data
    return data


def _local_ports_of(pid: int) -> set[int]:
    """Local TCP ports of the sockets process ``pid`` holds (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def kill_redis_connections(address: tuple[str, int], pid: int) -> int:
    """``CLIENT KILL`` every connection of process ``pid`` to the Redis at ``address``; returns how many."""
    ports = _local_ports_of(pid)
    listing = _redis_command(address, "CLIENT", "LIST").decode()
    killed = 0
    for line in listing.splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        if int(fields.get("addr", ":0").rsplit(":", 1)[1]) in ports:
            reply = _redis_command(address, "CLIENT", "KILL", "ID", fields["id"])
            killed += reply.strip() == b":1"
    return killed
