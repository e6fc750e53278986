"""Request ids, the access log and the metrics, through the app (issue 11: log format, ``/metrics``)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from receiptcore.entrypoints.logs import JsonFormatter
from receiptcore.entrypoints.metrics_listener import make_metrics_app
from tests.api.conftest import ADMIN_EMAIL, Api, jpeg


def metric_sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent), read with the official parser."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def _scrape(api: Api) -> str:
    app = make_metrics_app(api.container, api.container.metrics())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://metrics") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.text


async def test_every_response_carries_a_request_id_and_a_sane_client_id_is_kept(api: Api) -> None:
    generated = await api.client.get("/health/live")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    kept = await api.client.get("/health/live", headers={"X-Request-ID": "gw-1234.abc:5"})
    assert kept.headers["x-request-id"] == "gw-1234.abc:5"
    hostile = await api.client.get("/health/live", headers={"X-Request-ID": "a b<script>" + "x" * 100})
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])
    unrouted = await api.client.get("/no/such/route")
    assert unrouted.status_code == 404
    assert unrouted.headers["x-request-id"]


async def test_each_request_is_logged_once_with_its_id_and_without_the_query_string(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    headers = await api.admin()
    with caplog.at_level(logging.INFO, logger="receiptcore.http"):
        response = await api.client.get(
            "/api/receipts", params={"q": "secret search", "access_token": "abc"}, headers=headers
        )
    records = [r for r in caplog.records if r.name == "receiptcore.http" and getattr(r, "path", "") == "/api/receipts"]
    assert len(records) == 1
    record: Any = records[0]
    assert record.request_id == response.headers["x-request-id"]
    assert record.status == 200
    assert record.route == "/api/receipts"
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["level"] == "info"
    assert "secret search" not in json.dumps(line)
    assert "access_token" not in json.dumps(line)


async def test_metrics_count_requests_per_route_template_and_logins_by_outcome(api: Api) -> None:
    user_id, headers = await api.user()
    for _ in range(3):
        await api.client.get(f"/users/{user_id}", headers=headers)
    await api.client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": "wrong password, surely"})
    text = await _scrape(api)
    assert metric_sample(text, "receiptcore_http_requests_total", route="/users/{user_id}", status="200") == 3
    assert metric_sample(text, "receiptcore_http_request_duration_seconds_count", route="/users/{user_id}") == 3
    assert metric_sample(text, "receiptcore_logins_total", outcome="success") >= 2
    assert metric_sample(text, "receiptcore_logins_total", outcome="failure") == 1
    assert user_id not in text  # routes are templates: no ids, no unbounded label values


async def test_metrics_read_receipts_by_status_and_the_queue_at_scrape_time(api: Api) -> None:
    headers = await api.admin()
    for _ in range(2):
        assert (await api.upload(headers, ("r.jpg", jpeg()))).status_code == 202
    text = await _scrape(api)
    assert metric_sample(text, "receiptcore_receipts", status="pending") == 2
    assert metric_sample(text, "receiptcore_queue_depth") == 2
    assert metric_sample(text, "receiptcore_queue_oldest_pending_age_seconds") >= 0
    await api.extract_all()
    text = await _scrape(api)
    assert metric_sample(text, "receiptcore_queue_depth") == 0
    assert metric_sample(text, "receiptcore_receipts", status="pending") == 0
    done = sum(metric_sample(text, "receiptcore_receipts", status=s) for s in ("extracted", "needs_review", "failed"))
    assert done == 2


async def test_extractions_are_counted_per_extractor_with_their_duration(api: Api) -> None:
    headers = await api.admin()
    await api.upload(headers, ("r.jpg", jpeg()))
    metrics = api.container.metrics()
    service = api.container.extraction_service()
    receipt = await service.run_once("test-worker")
    assert receipt is not None
    metrics.observe_extraction(receipt)
    text = metrics.exposition().decode()
    extractor = receipt.extraction_attempts[-1].extractor
    assert metric_sample(text, "receiptcore_extractions_total", extractor=extractor, outcome="ok") == 1
    assert metric_sample(text, "receiptcore_extraction_duration_seconds_count", extractor=extractor) == 1


async def test_metrics_are_not_served_by_the_public_app(api: Api) -> None:
    headers = await api.admin()
    for path in ("/metrics", "/api/metrics", "/health/metrics"):
        response = await api.client.get(path, headers=headers)
        assert response.status_code == 404, path


async def test_the_metrics_listener_answers_only_get_metrics(api: Api) -> None:
    app = make_metrics_app(api.container, api.container.metrics())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://metrics") as client:
        assert (await client.get("/")).status_code == 404
        assert (await client.post("/metrics")).status_code == 405
        assert (await client.head("/metrics")).status_code == 200
