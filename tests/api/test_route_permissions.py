"""Every route declares the permission it needs, or is on the one explicit public list."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from receiptcore.entrypoints.http.app import create_app
from receiptcore.entrypoints.http.security import PUBLIC_ROUTES, declared_permission, route_key
from tests.api.conftest import make_container, make_settings


def _routes(app: Litestar) -> list[tuple[str, object]]:
    out = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                if method in {"HEAD", "OPTIONS"}:
                    continue
                out.append((route_key(method, route.path_format), handler))
    return out


@pytest.mark.parametrize("service", ["all", "auth", "receipts"])
def test_every_route_declares_a_permission_or_is_explicitly_public(tmp_path: Path, service: str) -> None:
    app = create_app(make_container(make_settings(tmp_path)), service)
    routes = _routes(app)
    assert len(routes) > 5
    undeclared = [key for key, handler in routes if key not in PUBLIC_ROUTES and declared_permission(handler) is None]
    assert undeclared == []


def test_public_routes_declare_no_permission_and_exist(tmp_path: Path) -> None:
    app = create_app(make_container(make_settings(tmp_path)), "all")
    keys = {key for key, _ in _routes(app)}
    # every public entry outside the OpenAPI viewers names a real route (no stale entries granting access)
    ours = {k for k in PUBLIC_ROUTES if " /schema" not in k}
    assert ours <= keys
    for key, handler in _routes(app):
        if key in ours:
            assert declared_permission(handler) is None, key


def test_services_mount_only_their_routes(tmp_path: Path) -> None:
    auth = {key for key, _ in _routes(create_app(make_container(make_settings(tmp_path / "a")), "auth"))}
    receipts = {key for key, _ in _routes(create_app(make_container(make_settings(tmp_path / "r")), "receipts"))}
    assert "POST /auth/login" in auth
    assert not any(" /api/" in k for k in auth)
    assert "GET /api/receipts" in receipts
    assert not any(" /auth/" in k or " /users" in k for k in receipts)
    assert "GET /health/ready" in auth & receipts


def test_unknown_service_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown service"):
        create_app(make_container(make_settings(tmp_path)), "worker")


async def test_options_lists_methods_without_a_token(tmp_path: Path) -> None:
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=create_app(make_container(make_settings(tmp_path)))) as client:
        response = await client.options("/api/receipts")
        assert response.status_code == 204
        assert "OPTIONS" in response.headers["allow"]
        # and it gives nothing else away: the same path without OPTIONS still needs a token
        assert (await client.get("/api/receipts")).status_code == 401
