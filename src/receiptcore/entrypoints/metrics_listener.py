"""The metrics listener of ``serve``: ``GET /metrics`` on its own socket, never on the public app.

A separate port, not a path of the public app behind a loopback check: behind a gateway on the same host every
request comes from 127.0.0.1, so an address check would let the world in. A port the gateway is not told about
cannot be routed by mistake. It binds ``RECEIPTCORE_METRICS_HOST`` (127.0.0.1 by default; in a container set
``0.0.0.0`` and publish the port only on the internal network).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

from receiptcore.entrypoints.container import Container, spend_reader
from receiptcore.entrypoints.metrics import Metrics, metrics_asgi_app
from receiptcore.settings import Settings


def receipt_stats_of(container: Container) -> Any:
    """The store's ``ReceiptStats`` adapter, or None when the selected store has none."""
    provider = getattr(container, "receipt_stats", None)
    if provider is None:
        return None
    try:
        return provider()
    except Exception:  # a Selector without an adapter for this backend
        return None


def make_metrics_app(container: Container, metrics: Metrics) -> Any:
    """The ASGI app of the listener: refreshes the store gauges, then renders every metric."""
    settings = container.settings()
    stats = receipt_stats_of(container)
    spend = spend_reader(settings)

    async def refresh() -> None:
        await metrics.refresh(stats, spend, dt.datetime.now(dt.UTC))

    return metrics_asgi_app(metrics, refresh)


@contextlib.asynccontextmanager
async def worker_metrics_listener(
    container: Container, settings: Settings, echo: Callable[[str], None]
) -> AsyncIterator[None]:
    """For a process without the HTTP app (``receiptcore worker``): the metrics listener alone, while inside."""
    if settings.metrics_port is None:
        yield
        return
    from receiptcore.entrypoints.serve import _make_server, bind_socket

    sock = bind_socket(settings.metrics_host, settings.metrics_port)
    server = _make_server(make_metrics_app(container, container.metrics()), settings, lifespan="off")
    task = asyncio.create_task(server.serve(sockets=[sock]), name="metrics")
    echo(f"metrics on {metrics_url(sock)} (not for the public: keep this port private)")
    try:
        yield
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
        sock.close()


def metrics_url(sock: socket.socket) -> str:
    """``http://host:port/metrics`` of a bound metrics socket."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/metrics"
