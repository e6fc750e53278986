"""The split services in one process each: the auth service signs, the receipts service verifies with the auth
service's published keys only (no signing key of its own), each mounts only its routes, and an unreachable auth
service makes the receipt API answer 503 with Retry-After, never 500 or 401."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from receiptcore.adapters.security import JwksTokenVerifier
from receiptcore.entrypoints.container import build_container
from receiptcore.entrypoints.http.app import create_app
from receiptcore.errors import ConfigurationError
from tests.api.conftest import ADMIN_EMAIL, PASSWORD, jpeg, make_container, make_settings


@dataclass
class Split:
    auth: AsyncTestClient[Any]
    receipts: AsyncTestClient[Any]
    data_dir: Path
    auth_down: list[bool]

    async def admin_headers(self) -> dict[str, str]:
        response = await self.auth.post("/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def split(tmp_path: Path) -> AsyncIterator[Split]:
    auth_container = make_container(make_settings(tmp_path, service="auth", signing_keys_dir=tmp_path / "auth-keys"))
    await auth_container.user_service().create_admin(ADMIN_EMAIL, PASSWORD)
    auth_app = create_app(auth_container, "auth")
    down = [False]
    to_auth = httpx.ASGITransport(app=auth_app)

    async def gateway(request: httpx.Request) -> httpx.Response:
        if down[0]:
            raise httpx.ConnectError("connection refused", request=request)
        return await to_auth.handle_async_request(request)

    receipts_container = make_container(make_settings(tmp_path, service="receipts", auth_url="http://auth.test"))
    # a generous timeout: the in-process auth app answers slowly on a loaded machine
    verifier = JwksTokenVerifier("http://auth.test", transport=_Transport(gateway), timeout=30.0)
    receipts_container.token_verifier.override(providers.Object(verifier))
    async with (
        AsyncTestClient(app=auth_app) as auth,
        AsyncTestClient(app=create_app(receipts_container, "receipts")) as receipts,
    ):
        yield Split(auth=auth, receipts=receipts, data_dir=tmp_path, auth_down=down)
    await verifier.aclose()


class _Transport(httpx.AsyncBaseTransport):
    def __init__(self, handler: Any) -> None:
        self._handler = handler

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await self._handler(request)
        return response


async def test_a_token_from_the_auth_service_works_on_the_receipt_api(split: Split) -> None:
    headers = await split.admin_headers()
    uploaded = await split.receipts.post(
        "/api/receipts", files=[("file", ("r.jpg", jpeg(), "image/jpeg"))], headers=headers
    )
    assert uploaded.status_code == 202, uploaded.text
    listed = await split.receipts.get("/api/receipts", headers=headers)
    assert listed.status_code == 200
    assert len(listed.json()["items"]) == 1


async def test_each_service_mounts_only_its_own_routes(split: Split) -> None:
    headers = await split.admin_headers()
    assert (
        await split.receipts.post("/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
    ).status_code == 404
    assert (await split.receipts.get("/.well-known/jwks.json")).status_code == 404
    assert (await split.receipts.get("/users", headers=headers)).status_code == 404
    assert (await split.auth.get("/api/receipts", headers=headers)).status_code == 404
    assert (await split.auth.get("/api/events", headers=headers)).status_code == 404
    for client in (split.auth, split.receipts):
        assert (await client.get("/health/ready")).status_code == 200


async def test_the_receipt_api_holds_no_signing_key(split: Split) -> None:
    headers = await split.admin_headers()
    assert (await split.receipts.get("/api/receipts", headers=headers)).status_code == 200
    assert list((split.data_dir / "auth-keys").glob("*.pem"))  # the auth service's key
    assert not (split.data_dir / "keys").exists()  # the receipts service (same data dir) made none


async def test_an_unreachable_auth_service_is_503_with_retry_after_not_401(split: Split) -> None:
    headers = await split.admin_headers()
    split.auth_down[0] = True
    response = await split.receipts.get("/api/receipts", headers=headers)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert response.json()["type"].endswith("upstream-unavailable")
    ready = await split.receipts.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["keys"] == "unavailable"


async def test_once_the_keys_are_held_the_receipt_api_survives_the_auth_service_going_away(split: Split) -> None:
    headers = await split.admin_headers()
    assert (await split.receipts.get("/api/receipts", headers=headers)).status_code == 200
    split.auth_down[0] = True
    assert (await split.receipts.get("/api/receipts", headers=headers)).status_code == 200
    assert (await split.receipts.get("/health/ready")).status_code == 200


def test_the_receipts_service_needs_the_auth_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="RECEIPTCORE_AUTH_URL"):
        build_container(make_settings(tmp_path, service="receipts"))
