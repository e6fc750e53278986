"""A login refused in front of everything (``entrypoints/http/shedding.py``) is observed like any other answer, and
the paused refusals of repeat offenders are let go a few per event-loop turn, in the order they came.

The refusal is answered outside the request observer (``observe.py``), so these tests pin what the observer would
have done: one access-log record with the request's id, route and status, the request metrics, an ``X-Request-ID``
that keeps a sane client id and replaces a hostile one.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from receiptcore.entrypoints.http.app import create_app
from receiptcore.entrypoints.http.shedding import RefusalLine
from receiptcore.services.admission import LoginAdmission
from tests.api.asgi_direct import asgi_call
from tests.api.conftest import make_container, make_settings
from tests.api.streaming import _lifespan
from tests.api.test_observability_api import metric_sample

_JSON = [(b"content-type", b"application/json")]
_BODY = b'{"email": "someone@example.com", "password": "whatever it is"}'


def _headers(messages: list[Any]) -> dict[bytes, bytes]:
    return dict(messages[0]["headers"])


def _app_with_no_login_place(tmp_path: Path) -> tuple[Any, Any]:
    """A container and its app whose login admission is full: every login is refused 429."""
    container = make_container(make_settings(tmp_path))
    full = LoginAdmission(1)
    full.in_progress = 1
    container.login_admission.override(providers.Object(full))
    return container, create_app(container)


async def test_a_refused_login_is_logged_and_counted_once_with_its_request_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    container, app = _app_with_no_login_place(tmp_path)
    async with _lifespan(app):
        with caplog.at_level(logging.INFO, logger="receiptcore.http"):
            sent = await asgi_call(app, "POST", "/auth/login", _BODY, _JSON)
            routed = await asgi_call(app, "GET", "/no/such/route", b"", [])
    assert sent[0]["status"] == 429
    rid = _headers(sent)[b"x-request-id"].decode()
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    records = [r for r in caplog.records if r.name == "receiptcore.http" and getattr(r, "path", "") == "/auth/login"]
    assert len(records) == 1
    record: Any = records[0]
    assert (record.method, record.route, record.status, record.request_id) == ("POST", "/auth/login", 429, rid)
    assert record.duration_ms >= 0
    # the same fields as the line of a request the observer logged
    (other,) = [r for r in caplog.records if getattr(r, "path", "") == "/no/such/route"]
    assert set(vars(record)) == set(vars(other))
    assert _headers(routed)[b"x-request-id"] != rid.encode()
    text = container.metrics().exposition().decode()
    requests = metric_sample(text, "receiptcore_http_requests_total", method="POST", route="/auth/login", status="429")
    assert requests == 1
    assert metric_sample(text, "receiptcore_http_request_duration_seconds_count", route="/auth/login") == 1


async def test_a_refusal_keeps_a_sane_client_request_id_and_replaces_a_hostile_one(tmp_path: Path) -> None:
    _, app = _app_with_no_login_place(tmp_path)
    async with _lifespan(app):
        kept = await asgi_call(app, "POST", "/auth/login", _BODY, [*_JSON, (b"x-request-id", b"gw-1234.abc:5")])
        hostile = await asgi_call(app, "POST", "/auth/login", _BODY, [*_JSON, (b"x-request-id", b"a b<script>")])
        fresh = [await asgi_call(app, "POST", "/auth/login", _BODY, _JSON) for _ in range(3)]
    assert _headers(kept)[b"x-request-id"] == b"gw-1234.abc:5"
    assert re.fullmatch(rb"[0-9a-f]{32}", _headers(hostile)[b"x-request-id"])
    ids = {_headers(answer)[b"x-request-id"] for answer in fresh}
    assert len(ids) == 3  # each refusal its own id


class _Turns:
    """Counts event-loop turns: a callback that reschedules itself once per turn."""

    def __init__(self) -> None:
        self.count = 0
        self._handle = asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self.count += 1
        self._handle = asyncio.get_running_loop().call_soon(self._tick)

    def stop(self) -> None:
        self._handle.cancel()


async def test_the_refusal_line_lets_at_most_its_bound_go_per_turn_in_arrival_order() -> None:
    line = RefusalLine(per_turn=3, max_late=3600.0)
    turns = _Turns()
    resumed: list[tuple[int, int]] = []  # (arrival, turn)

    async def refusal(arrival: int) -> None:
        await line.wait(0.0)
        resumed.append((arrival, turns.count))

    tasks = [asyncio.create_task(refusal(n)) for n in range(10)]
    async with asyncio.timeout(5):
        await asyncio.gather(*tasks)
    turns.stop()
    assert [arrival for arrival, _ in resumed] == list(range(10))
    per_turn: dict[int, int] = {}
    for _, turn in resumed:
        per_turn[turn] = per_turn.get(turn, 0) + 1
    assert max(per_turn.values()) == 3
    assert len(per_turn) == 4  # 3 + 3 + 3 + 1
    assert len(line) == 0


async def test_refusals_already_late_go_at_once_whatever_the_bound() -> None:
    line = RefusalLine(per_turn=1, max_late=0.0)
    turns = _Turns()
    resumed: list[int] = []

    async def refusal() -> None:
        await line.wait(0.0)
        resumed.append(turns.count)

    tasks = [asyncio.create_task(refusal()) for _ in range(5)]
    async with asyncio.timeout(5):
        await asyncio.gather(*tasks)
    turns.stop()
    # each was late by the time the line looked (max_late 0): all five let go in the same turn
    assert len(set(resumed)) == 1


async def test_a_refusal_cancelled_while_it_waits_gives_its_turn_to_the_next() -> None:
    line = RefusalLine(per_turn=1, max_late=3600.0)
    first = asyncio.create_task(line.wait(0.0))
    second = asyncio.create_task(line.wait(0.0))
    await asyncio.sleep(0)  # both are in the line
    first.cancel()
    async with asyncio.timeout(5):
        await second
    assert first.cancelled()
    assert len(line) == 0


def test_a_refusal_line_lets_at_least_one_go() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RefusalLine(per_turn=0)
