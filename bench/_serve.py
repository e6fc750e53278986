"""Serve the bare baseline app exactly the way ``receiptcore serve`` serves the product.

The product itself is started with its own command line (``python -m receiptcore serve --no-worker``, see
``_servers.py``). This script serves the baseline app in the same way, by calling the same three functions the
product's ``serve`` uses: ``bind_socket`` (our own listening socket, same backlog), ``_make_server`` (the uvicorn
server with the product's configuration: log level from settings, access log as uvicorn defaults it, lifespan on,
no server header, one process, one event loop) and ``run_serving`` (the same event loop: uvloop when installed).
Both processes get the same ``RECEIPTCORE_*`` environment, so the only difference between the two measurements is
the app.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _baseline_app import create_baseline_app
from receiptcore.entrypoints.serve import _make_server, bind_socket, event_loop_factory, run_serving
from receiptcore.settings import Settings


def server_description(settings: Settings) -> dict[str, Any]:
    """The uvicorn configuration the product's ``serve`` builds for these settings (for the report)."""
    config = _make_server(create_baseline_app(), settings).config
    names = ("loop", "http", "ws", "lifespan", "log_level", "access_log", "workers", "timeout_keep_alive", "backlog")
    described: dict[str, Any] = {"server": "uvicorn", **{name: getattr(config, name) for name in names}}
    # the loop run_serving starts (uvloop when installed; uvicorn's own "auto" never applies to a running loop)
    described["loop_used"] = "asyncio" if event_loop_factory() is None else "uvloop"
    # what uvicorn's "auto" resolves to (httptools when installed, else h11), or the protocol class `serve` chose
    # (uvicorn's httptools protocol, one write per response: entrypoints/http/server_protocol.py)
    http = config.http
    described["http"] = http if isinstance(http, str) else f"{http.__module__}.{http.__qualname__}"
    described["http_used"] = (_installed("httptools") or "h11") if http == "auto" else "httptools"
    # uvicorn's access log is written at INFO: on when enabled and the level lets INFO through
    described["access_log_written"] = bool(config.access_log) and settings.log_level in ("debug", "info")
    return described


def _installed(module: str) -> str | None:
    return module if importlib.util.find_spec(module) is not None else None


async def serve_baseline(port: int) -> None:
    """Serve the baseline app on 127.0.0.1:``port`` until SIGINT or SIGTERM."""
    settings = Settings()
    sock = bind_socket("127.0.0.1", port)
    server = _make_server(create_baseline_app(), settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # the product's server leaves signals to its caller; like `serve`, stop gracefully on either
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    run_serving(serve_baseline(args.port))


if __name__ == "__main__":
    main()
