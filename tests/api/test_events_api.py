"""``/api/events`` through a real server (uvicorn on a free loopback port): server-sent events stream, so the
in-memory test client, which waits for the whole body, cannot show them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from receiptcore.entrypoints.http.app import create_app
from tests.api.conftest import ADMIN_EMAIL, PASSWORD, jpeg, make_container, make_settings


@dataclass
class Stream:
    """Lines read so far from one SSE response, filled by a background task."""

    lines: list[str] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def events(self) -> list[dict[str, Any]]:
        out, current = [], {}
        for line in self.lines:
            if not line:
                if current:
                    out.append(current)
                current = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(": ")
                current[key] = value
        return out

    async def wait_for(self, predicate: Any, seconds: float = 5.0) -> None:
        for _ in range(int(seconds / 0.02)):
            if predicate(self):
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out; lines so far: {self.lines}")


@pytest.fixture
def container(tmp_path: Path) -> Any:
    return make_container(make_settings(tmp_path))


@pytest.fixture
async def base_url(container: Any) -> AsyncIterator[str]:
    await container.user_service().create_admin(ADMIN_EMAIL, PASSWORD)
    app = create_app(container, sse_keepalive_seconds=0.2)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def _user(client: httpx.AsyncClient) -> dict[str, str]:
    admin = await client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
    email = f"sse-{secrets.token_hex(4)}@example.com"
    created = await client.post(
        "/users",
        json={"email": email, "password": PASSWORD},
        headers={"Authorization": f"Bearer {admin.json()['access_token']}"},
    )
    assert created.status_code == 201
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


@contextlib.asynccontextmanager
async def _listen(client: httpx.AsyncClient, headers: dict[str, str]) -> AsyncIterator[Stream]:
    stream = Stream()

    async def read() -> None:
        try:
            async with client.stream("GET", "/api/events", headers=headers) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                async for line in response.aiter_lines():
                    stream.lines.append(line)
        finally:
            stream.ended.set()

    task = asyncio.create_task(read())
    try:
        await stream.wait_for(lambda s: ": connected" in s.lines)
        yield stream
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await task


async def test_each_user_hears_only_their_own_receipt_events_with_ids_and_keepalives(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        alice, bob = await _user(client), await _user(client)
        async with _listen(client, alice) as alice_events, _listen(client, bob) as bob_events:
            upload = await client.post("/api/receipts", files=[("file", ("a.jpg", jpeg()))], headers=alice)
            assert upload.status_code == 202
            alice_id = upload.json()["receipts"][0]["id"]
            await alice_events.wait_for(lambda s: any(e.get("event") == "receipt.uploaded" for e in s.events()))
            (event,) = [e for e in alice_events.events() if e.get("event") == "receipt.uploaded"]
            assert event["id"]
            assert json.loads(event["data"])["payload"]["id"] == alice_id
            # Bob's own upload reaches him; Alice's, published earlier, never did
            mine = await client.post("/api/receipts", files=[("file", ("b.jpg", jpeg()))], headers=bob)
            bob_id = mine.json()["receipts"][0]["id"]
            await bob_events.wait_for(lambda s: any(e.get("event") == "receipt.uploaded" for e in s.events()))
            payload_ids = [json.loads(e["data"])["payload"]["id"] for e in bob_events.events() if "data" in e]
            assert payload_ids == [bob_id]
            await bob_events.wait_for(lambda s: ": keep-alive" in s.lines)
            assert "data: " not in bob_events.lines  # comments carry no empty data line


async def test_a_stream_ends_when_its_session_is_revoked(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        headers = await _user(client)
        async with _listen(client, headers) as events:
            changed = await client.post(
                "/auth/password",
                json={"current_password": PASSWORD, "new_password": "a brand new passphrase 7"},
                headers=headers,
            )
            assert changed.status_code == 204
            async with asyncio.timeout(5):
                await events.ended.wait()


async def test_events_need_a_token(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.get("/api/events")
        assert response.status_code == 401


async def test_a_closed_stream_unsubscribes_from_the_bus(base_url: str, container: Any) -> None:
    bus = container.event_bus()
    baseline = bus.subscriber_count  # the app's own subscription (auth cache invalidation)
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        headers = await _user(client)
        async with _listen(client, headers):
            assert bus.subscriber_count == baseline + 1
    for _ in range(250):
        if bus.subscriber_count == baseline:
            break
        await asyncio.sleep(0.02)
    assert bus.subscriber_count == baseline
