"""Auth events suite (issue 9, hole 8): failed and throttled logins were not logged at all. Every auth event is now
one ``receiptcore.auth`` record with the request id and the client address, counted in ``/metrics``, and no record
holds a password or a token, even one a client puts in a query string."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from receiptcore.entrypoints.http.app import create_app
from receiptcore.entrypoints.logs import JsonFormatter, make_handler
from tests.api.conftest import ADMIN_EMAIL, PASSWORD, Api, make_container, make_settings
from tests.hostile.conftest import Figures

NEW_PASSWORD = "amber-plover-estuary-77"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = make_settings(tmp_path)
    container = make_container(settings)
    async with AsyncTestClient(app=create_app(container)) as client:
        yield Api(client=client, container=container, settings=settings)


class Records(logging.Handler):
    """Every record of the process while installed, passed through the product's own log filter."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []
        for kind in make_handler("json").filters:  # the request-id / client filter, as in production
            self.addFilter(kind)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def auth(self) -> list[dict[str, Any]]:
        return [
            {"event": f"{r.auth_event} {r.outcome}", **vars(r)} for r in self.records if r.name == "receiptcore.auth"
        ]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    root = logging.getLogger()
    previous = root.level
    # the test's own HTTP client logs every URL it requests (a server never runs it: configure_logging silences it)
    client_log = logging.getLogger("httpx")
    client_level = client_log.level
    client_log.setLevel(logging.WARNING)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(previous)
    client_log.setLevel(client_level)


async def _session(api: Api, email: str, password: str = PASSWORD, **headers: str) -> Any:
    return await api.client.post("/auth/login", json={"email": email, "password": password}, headers=headers)


async def test_every_auth_event_is_logged_with_request_and_client_and_counted(
    api: Api, records: Records, figures: Figures
) -> None:
    admin = await api.admin()
    member_id, _ = await api.user()
    email = (await api.client.get(f"/users/{member_id}", headers=admin)).json()["email"]
    secrets_seen: list[str] = [PASSWORD, NEW_PASSWORD]

    wrong = await _session(api, email, "wrong guess 123", **{"X-Request-ID": "req-failed-1"})
    assert wrong.status_code == 401
    for _ in range(5):
        await _session(api, email, "wrong guess 123")
    throttled = await _session(api, email, "wrong guess 123")
    assert throttled.status_code == 429
    await api.container.login_throttle().unlock_account(email)  # as `receiptcore users unlock` does
    ok = await _session(api, email, **{"X-Request-ID": "req-ok-1"})
    assert ok.status_code == 200
    access, refresh = ok.json()["access_token"], ok.cookies["receiptcore_refresh"]
    secrets_seen += [access, refresh]
    rotated = await api.client.post("/auth/refresh", json={"refresh_token": refresh})
    assert rotated.status_code == 200
    secrets_seen += [rotated.json()["access_token"]]
    replay = await api.client.post("/auth/refresh", json={"refresh_token": refresh})
    assert replay.status_code == 401
    again = await _session(api, email)
    secrets_seen += [again.json()["access_token"], again.cookies["receiptcore_refresh"]]
    await api.client.post("/auth/logout", json={"refresh_token": again.cookies["receiptcore_refresh"]})
    await api.client.put(f"/users/{member_id}/roles", json={"roles": ["auditor"]}, headers=admin)
    await api.client.post(f"/users/{member_id}/disable", headers=admin)
    await api.client.post(f"/users/{member_id}/enable", headers=admin)
    await api.client.post(f"/users/{member_id}/reset-password", json={"password": NEW_PASSWORD}, headers=admin)
    mine = await _session(api, email, NEW_PASSWORD)
    headers = {"Authorization": f"Bearer {mine.json()['access_token']}"}
    secrets_seen += [mine.json()["access_token"]]
    await api.client.post(
        "/auth/password", json={"current_password": "not it at all", "new_password": PASSWORD}, headers=headers
    )
    await api.client.post(
        "/auth/password", json={"current_password": NEW_PASSWORD, "new_password": PASSWORD}, headers=headers
    )

    events = records.auth()
    seen = [event["event"] for event in events]
    expected = [
        "login failed",
        "login throttled",
        "login ok",
        "refresh ok",
        "refresh reuse_detected",
        "logout ok",
        "role_change ok",
        "disable ok",
        "enable ok",
        "password_reset ok",
        "password_change failed",
        "password_change ok",
    ]
    missing = [name for name in expected if name not in seen]
    by_request = {event.get("request_id"): event["event"] for event in events}
    # (the first admin is made through the service, outside any request)
    served = [event for event in events if event["event"] in expected]
    without_context = [e["event"] for e in served if not e.get("request_id") or not e.get("client")]
    exposition = api.container.metrics().exposition().decode()
    uncounted = [
        name
        for name in expected
        if f'receiptcore_auth_events_total{{event="{name.split()[0]}",outcome="{name.split()[1]}"}} 0.0' in exposition
    ]
    formatted = "\n".join(JsonFormatter().format(record) for record in records.records)
    raw = "\n".join(json.dumps(vars(record), default=str) for record in records.records)
    leaked = [secret[:12] + "…" for secret in secrets_seen if secret in formatted or secret in raw]
    figures.record(
        "auth-events",
        tried=len(expected),
        failed=len(missing) + len(without_context) + len(uncounted) + len(leaked),
        logged=len(events),
        missing=missing or "none",
        without_request_or_client=without_context or "none",
        uncounted=uncounted or "none",
        secrets_in_logs=leaked or "none",
    )
    assert missing == []
    assert by_request["req-failed-1"] == "login failed"
    assert by_request["req-ok-1"] == "login ok"
    assert without_context == []
    assert uncounted == []
    assert leaked == []
    assert ADMIN_EMAIL not in formatted  # not even the names typed at a failed login: a tag of them
    assert email not in [event.get("account") for event in events]


async def test_a_token_in_a_query_string_is_never_logged(api: Api, records: Records, figures: Figures) -> None:
    await api.admin()
    login = await _session(api, ADMIN_EMAIL)
    token, refresh = login.json()["access_token"], login.cookies["receiptcore_refresh"]
    paths = [
        f"/auth/me?access_token={token}",
        f"/api/receipts?token={token}&limit=5",
        f"/auth/refresh?refresh_token={refresh}",
        f"/no/such/route?jwt={token}",
        f"/auth/me?{token}",
    ]
    for path in paths:
        await api.client.get(path)
    formatted = "\n".join(JsonFormatter().format(record) for record in records.records)
    raw = "\n".join(f"{record.getMessage()} {json.dumps(vars(record), default=str)}" for record in records.records)
    leaks = [path.split("?")[0] for path in paths if token in raw or refresh in raw or token in formatted]
    figures.record("auth-events", tried=len(paths), failed=len(set(leaks)), records=len(records.records))
    assert leaks == []
