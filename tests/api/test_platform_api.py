"""Health checks, failure mapping (503 / 500 problems), security headers, OpenAPI, and the app lifespan."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from receiptcore.adapters.memory.event_bus import InProcessEventBus
from receiptcore.adapters.memory.extractor import MemoryExtractor
from receiptcore.domain.events import Event
from receiptcore.entrypoints.http.app import create_app
from receiptcore.errors import StorageUnavailable
from tests.api.conftest import Api, jpeg, make_container, make_settings


async def test_liveness_and_readiness(api: Api) -> None:
    live = await api.client.get("/health/live")
    assert live.status_code == 200
    assert live.json() == {"status": "live"}
    ready = await api.client.get("/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"users": "ok", "receipts": "ok", "events": "ok", "extractor": "ok"}


async def test_readiness_is_503_with_retry_after_when_a_store_is_down(api: Api, monkeypatch: Any) -> None:
    async def down(*args: Any, **kwargs: Any) -> Any:
        raise StorageUnavailable("database is locked")

    monkeypatch.setattr(api.container.receipt_store(), "list", down)
    response = await api.client.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["checks"]["receipts"] == "unavailable"
    assert response.json()["checks"]["users"] == "ok"


async def test_readiness_times_out_a_hanging_store(api: Api, monkeypatch: Any) -> None:
    from receiptcore.entrypoints.http import health

    async def hang(*args: Any, **kwargs: Any) -> int:
        await asyncio.sleep(30)
        return 0

    monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.05)
    monkeypatch.setattr(api.container.user_repo(), "count_users", hang)
    response = await api.client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["users"] == "unavailable"


class _UnhealthyBus(InProcessEventBus):
    async def health(self) -> str | None:  # the ReportsHealth port
        return "broker unreachable"


class _UnhealthyExtractor(MemoryExtractor):
    async def health(self) -> str | None:  # the ReportsHealth port
        return "API down"


@pytest.mark.parametrize(
    ("provider", "adapter", "check"),
    [
        pytest.param("event_bus", _UnhealthyBus, "events", id="event-bus-down"),
        pytest.param("extractor", _UnhealthyExtractor, "extractor", id="extractor-api-down"),
    ],
)
async def test_a_troubled_optional_dependency_is_reported_degraded_but_ready(
    tmp_path: Path, provider: str, adapter: type, check: str
) -> None:
    container = make_container(make_settings(tmp_path))
    getattr(container, provider).override(providers.Object(adapter()))
    async with AsyncTestClient(app=create_app(container)) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"][check] == "degraded"
    assert response.json()["degraded"] == [check]


async def test_a_store_outage_during_a_request_is_503_with_retry_after(api: Api, monkeypatch: Any) -> None:
    _, headers = await api.user()
    rid = (await api.upload(headers, ("a.jpg", jpeg()))).json()["receipts"][0]["id"]

    async def down(*args: Any, **kwargs: Any) -> Any:
        raise StorageUnavailable("disk unreadable")

    # every read the request can take: the fast path's stored rendering or dump, then the routed handler's get
    monkeypatch.setattr(api.container.receipt_store(), "get", down)
    monkeypatch.setattr(api.container.receipt_store(), "get_dumped", down)
    monkeypatch.setattr(api.container.receipt_store(), "get_rendered", down)
    response = await api.client.get(f"/api/receipts/{rid}", headers=headers)
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert response.json()["type"].endswith("/storage-unavailable")


async def test_an_unexpected_error_is_a_bare_500_problem_and_is_logged(api: Api, monkeypatch: Any, caplog: Any) -> None:
    _, headers = await api.user()

    async def bug(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail /etc/receiptcore")

    # the list handler (fast path and routed) reads rendered pages; the plain list is patched too
    monkeypatch.setattr(api.container.receipt_service(), "list", bug)
    monkeypatch.setattr(api.container.receipt_service(), "list_rendered", bug)
    response = await api.client.get("/api/receipts", headers=headers)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/internal-error")
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert any("secret internal detail" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


async def test_security_headers_are_on_every_response(api: Api) -> None:
    _, headers = await api.user()
    responses = [
        await api.client.get("/api/receipts", headers=headers),
        await api.client.get("/auth/me"),  # an error
        await api.client.get("/nowhere"),  # a routing error
        await api.client.get("/health/live"),
    ]
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"


async def test_openapi_documents_every_route_with_bearer_security(api: Api) -> None:
    response = await api.client.get("/schema/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    paths = spec["paths"]
    for path in ("/auth/login", "/users", "/roles", "/api/receipts", "/api/receipts/{rid}", "/api/stats"):
        assert path in paths, path
    assert paths["/auth/login"]["post"]["security"] == [{}]  # anonymous: no token needed


async def test_the_lifespan_feeds_bus_events_to_the_authenticator_and_closes_the_container(tmp_path: Path) -> None:
    container = make_container(make_settings(tmp_path))
    auth = container.authenticator()
    seen: list[Event] = []
    original = auth.handle_event

    async def spy(event: Event) -> None:
        seen.append(event)
        await original(event)

    auth.handle_event = spy  # type: ignore[method-assign]
    bus = container.event_bus()
    async with AsyncTestClient(app=create_app(container)) as client:
        assert (await client.get("/health/live")).status_code == 200
        # the app runs on the test client's own loop (another thread): publish there
        client.blocking_portal.call(bus.publish, Event(type="role.changed", payload={"name": "x"}))
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        assert [e.type for e in seen] == ["role.changed"]
    # on shutdown the container is closed: the in-process bus ends new subscriptions at once
    async with bus.subscribe() as events:
        assert [e async for e in events] == []


async def test_split_services_a_token_from_the_auth_service_works_on_the_receipt_api(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)  # one data dir: same user store and signing keys, as in a deployment
    auth_container = make_container(settings)
    await auth_container.user_service().create_admin("split@example.com", "correct horse battery staple 42")
    auth_app = create_app(auth_container, "auth")
    receipts_app = create_app(make_container(settings), "receipts")
    async with AsyncTestClient(app=auth_app) as auth, AsyncTestClient(app=receipts_app) as receipts:
        login = await auth.post(
            "/auth/login", json={"email": "split@example.com", "password": "correct horse battery staple 42"}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert (await receipts.get("/api/receipts", headers=headers)).status_code == 200
        assert (await receipts.post("/auth/login", json={})).status_code == 404
        assert (await auth.get("/api/receipts", headers=headers)).status_code == 404
        assert (await receipts.get("/health/ready")).json()["checks"]["receipts"] == "ok"
        assert "receipts" not in (await auth.get("/health/ready")).json()["checks"]
