"""Request metrics keep their label children at hand: every (method, route, status) still counts on its own."""

from __future__ import annotations

import pytest

from receiptcore.entrypoints import metrics as metrics_module
from receiptcore.entrypoints.metrics import Metrics


def _value(metrics: Metrics, name: str, labels: dict[str, str]) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_each_method_route_and_status_counts_on_its_own() -> None:
    metrics = Metrics(process_metrics=False)
    for status in (200, 200, 404, 200):
        metrics.observe_request("GET", "/api/receipts/{rid}", status, 0.002)
    metrics.observe_request("POST", "/api/receipts/{rid}", 200, 0.2)
    requests = "receiptcore_http_requests_total"
    assert _value(metrics, requests, {"method": "GET", "route": "/api/receipts/{rid}", "status": "200"}) == 3
    assert _value(metrics, requests, {"method": "GET", "route": "/api/receipts/{rid}", "status": "404"}) == 1
    assert _value(metrics, requests, {"method": "POST", "route": "/api/receipts/{rid}", "status": "200"}) == 1
    durations = "receiptcore_http_request_duration_seconds_count"
    assert _value(metrics, durations, {"method": "GET", "route": "/api/receipts/{rid}"}) == 4
    assert _value(metrics, durations, {"method": "POST", "route": "/api/receipts/{rid}"}) == 1


def test_past_the_bound_requests_are_still_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = Metrics(process_metrics=False)
    monkeypatch.setattr(metrics_module, "_MAX_REQUEST_CHILDREN", 1)
    for method in ("GET", "PUT", "PUT", "BREW"):
        metrics.observe_request(method, "<unmatched>", 404, 0.001)
    requests = "receiptcore_http_requests_total"
    assert _value(metrics, requests, {"method": "PUT", "route": "<unmatched>", "status": "404"}) == 2
    assert _value(metrics, requests, {"method": "BREW", "route": "<unmatched>", "status": "404"}) == 1
    assert len(metrics._request_children) == 1
