"""Prometheus metrics of one receiptcore process, with the official ``prometheus-client``.

One ``Metrics`` object per process (the container holds it) owns its own ``CollectorRegistry``, so tests that
build many apps never collide on metric names. Three kinds of figures:

- **counted as they happen**: HTTP requests and their latency per route template (``observe.py`` reports
  each request), logins by outcome (from ``POST /auth/login``'s status: 200 success, 401 failure, 429
  throttled), every authentication event by event and outcome (``receiptcore_auth_events``: login ok, failed,
  throttled, refresh, reuse detected, logout, password change and reset, role change, disable, enable; the
  ``AuthAudit`` of the services reports each), extractions by extractor and outcome with their duration (the
  worker reports each processed receipt);
- **read at scrape time** from the stores: receipts by status, queue depth and the age of the oldest pending
  receipt (when the receipt store implements ``ports.ReceiptStats``), LLM spend today;
- the process itself (CPU, memory, open files) from the client's default process collector.

``/metrics`` is never mounted on the public app: ``serve`` answers it on a separate listener
(``RECEIPTCORE_METRICS_PORT``, bound to ``RECEIPTCORE_METRICS_HOST``, 127.0.0.1 by default), so the gateway
cannot route it and a browser cannot reach it (docs/operations.md, "Monitoring").
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from receiptcore.domain.receipt import Receipt, ReceiptStatus
from receiptcore.ports import ReceiptStats
from receiptcore.services.audit import AUTH_EVENTS

log = logging.getLogger(__name__)

LOGIN_ROUTE = "/auth/login"
_LOGIN_OUTCOMES = {200: "success", 401: "failure", 422: "failure", 429: "throttled"}
# (method, route template, status) combinations whose metric children are kept at hand; past it (a client sending
# made-up methods to unmatched paths) the children are looked up each time, as before
_MAX_REQUEST_CHILDREN = 1024
# request latency buckets (seconds): API calls are milliseconds, uploads and exports up to seconds
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# extraction buckets (seconds): an LLM call or OCR of a photo takes seconds, a big PDF a minute
_EXTRACTION_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

SpendReader = Callable[[], Decimal | None]


class Metrics:
    """Every metric of this process, and the text a scrape returns."""

    def __init__(self, *, process_metrics: bool = True) -> None:
        # no `<name>_created` timestamp series beside every counter: Prometheus does not need them (process-wide)
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        if process_metrics:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        r = self.registry
        self.http_requests = Counter(
            "receiptcore_http_requests", "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"], registry=r,
        )  # fmt: skip
        self.http_duration = Histogram(
            "receiptcore_http_request_duration_seconds", "Time to answer an HTTP request, by method and route.",
            ["method", "route"], buckets=_HTTP_BUCKETS, registry=r,
        )  # fmt: skip
        self.logins = Counter(
            "receiptcore_logins", "Login attempts by outcome: success, failure (wrong credentials), throttled.",
            ["outcome"], registry=r,
        )  # fmt: skip
        self.auth_events = Counter(
            "receiptcore_auth_events", "Authentication events by event and outcome (services/audit.py AUTH_EVENTS).",
            ["event", "outcome"], registry=r,
        )  # fmt: skip
        self.extractions = Counter(
            "receiptcore_extractions", "Extraction attempts finished, by extractor and outcome (ok, failed, deferred).",
            ["extractor", "outcome"], registry=r,
        )  # fmt: skip
        self.extraction_failures = Counter(
            "receiptcore_extraction_failures", "Extraction attempts that failed (the receipt is retried or failed).",
            ["extractor"], registry=r,
        )  # fmt: skip
        self.extraction_duration = Histogram(
            "receiptcore_extraction_duration_seconds", "Time one extraction attempt took, by extractor.",
            ["extractor"], buckets=_EXTRACTION_BUCKETS, registry=r,
        )  # fmt: skip
        self.receipts = Gauge(
            "receiptcore_receipts", "Receipts in the store by status (read at scrape time).", ["status"], registry=r
        )
        self.queue_depth = Gauge(
            "receiptcore_queue_depth", "Receipts waiting for extraction (pending, including retries).", registry=r
        )
        self.queue_oldest_age = Gauge(
            "receiptcore_queue_oldest_pending_age_seconds",
            "Age of the oldest pending receipt (0 when none is waiting).",
            registry=r,
        )
        self.llm_spend_today = Gauge(
            "receiptcore_llm_spend_usd_today", "USD booked for LLM extraction today (UTC), shared by every worker.",
            registry=r,
        )  # fmt: skip
        self.scrape_errors = Counter(
            "receiptcore_metrics_scrape_errors", "Scrapes that could not read a store figure (it kept its last value).",
            ["source"], registry=r,
        )  # fmt: skip
        for status in ReceiptStatus:
            self.receipts.labels(status=status.value)
        for outcome in ("success", "failure", "throttled"):
            self.logins.labels(outcome=outcome)
        for event, outcomes in AUTH_EVENTS.items():
            for outcome in outcomes:
                self.auth_events.labels(event=event, outcome=outcome)

    # ---- events ---------------------------------------------------------------------------------------------

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered HTTP request (``observe.observe_requests`` calls this)."""
        children = self._request_children.get((method, route, status))
        if children is None:
            # labels() validates and looks the child up under a lock on every call (~3 µs of each request's ~10):
            # the children of a (method, route, status) are the same objects for the registry's lifetime
            children = (
                self.http_requests.labels(method=method, route=route, status=str(status)),
                self.http_duration.labels(method=method, route=route),
            )
            if len(self._request_children) < _MAX_REQUEST_CHILDREN:
                self._request_children[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)
        if route == LOGIN_ROUTE and method == "POST" and status in _LOGIN_OUTCOMES:
            self.logins.labels(outcome=_LOGIN_OUTCOMES[status]).inc()

    def observe_auth_event(self, event: str, outcome: str) -> None:
        """Count one authentication event (the ``AuthAudit`` observer)."""
        self.auth_events.labels(event=event, outcome=outcome).inc()

    def observe_extraction(self, receipt: Receipt) -> None:
        """Count the attempt a worker just finished on ``receipt`` (its last extraction attempt)."""
        if not receipt.extraction_attempts:
            return
        attempt = receipt.extraction_attempts[-1]
        self.extractions.labels(extractor=attempt.extractor, outcome=attempt.outcome).inc()
        if attempt.outcome == "failed":
            self.extraction_failures.labels(extractor=attempt.extractor).inc()
        if attempt.duration_ms is not None:
            self.extraction_duration.labels(extractor=attempt.extractor).observe(attempt.duration_ms / 1000)

    # ---- scrapes ----------------------------------------------------------------------------------------------

    async def refresh(self, store: Any, spend: SpendReader | None, now: dt.datetime) -> None:
        """Read the store figures into the gauges. A store that does not answer keeps the last values and
        counts a scrape error, so a scrape never fails because a database is down."""
        if isinstance(store, ReceiptStats):
            try:
                stats = await store.receipt_stats()
            except Exception:
                log.warning("metrics: the receipt store did not answer", exc_info=True)
                self.scrape_errors.labels(source="receipts").inc()
            else:
                for status in ReceiptStatus:
                    self.receipts.labels(status=status.value).set(stats.by_status.get(status, 0))
                self.queue_depth.set(stats.pending)
                oldest = stats.oldest_pending_at
                self.queue_oldest_age.set(max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
        if spend is not None:
            try:
                usd = spend()
            except Exception:
                log.warning("metrics: the LLM spend ledger is unreadable", exc_info=True)
                self.scrape_errors.labels(source="llm_spend").inc()
            else:
                if usd is not None:
                    self.llm_spend_today.set(float(usd))

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)


def metrics_asgi_app(metrics: Metrics, refresh: Callable[[], Awaitable[None]]) -> Any:
    """A minimal ASGI app for the metrics listener: ``GET /metrics`` and nothing else (404, 405)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        if scope["path"] != "/metrics":
            await _plain(send, 404, b"not found: the metrics listener serves /metrics only\n")
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _plain(send, 405, b"method not allowed\n", [(b"allow", b"GET, HEAD")])
            return
        await refresh()
        body = metrics.exposition()
        headers = [(b"content-type", CONTENT_TYPE_LATEST.encode()), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    return app


async def _plain(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    start = [(b"content-type", b"text/plain; charset=utf-8"), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})
