"""Serve one app for the benchmark, in its own process, the way ``receiptcore serve`` serves the product.

``python bench/_serve.py baseline --port P`` serves the bare Litestar app; ``python bench/_serve.py product
--port P --data-dir D`` serves the real app (auth + receipt API, embedded SQLite profile under D, no extraction
worker so the CPU belongs to the requests). Both go through ``serve_app`` below with identical server settings,
so the only difference between the two measurements is the app.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Server settings shared by both apps; they mirror `receiptcore serve` (uvicorn driven programmatically from our
# own event loop, one process, one worker, uvicorn's automatic loop and HTTP implementation choice).
SERVER_SETTINGS: dict[str, Any] = {
    "workers": 1,
    "loop": "auto",
    "http": "auto",
    "log_level": "warning",
    "access_log": False,
    "lifespan": "on",
}


def build_app(target: str, data_dir: Path | None) -> Any:
    """The ASGI app to serve: ``baseline`` or ``product``."""
    if target == "baseline":
        from _baseline_app import create_baseline_app

        return create_baseline_app()
    if data_dir is None:
        raise SystemExit("the product app needs --data-dir")
    # the container reads its settings from the environment, exactly as `receiptcore serve` does
    os.environ["RECEIPTCORE_DATA_DIR"] = str(data_dir)
    from receiptcore.entrypoints.http.app import create_app

    from receiptcore.entrypoints.container import build_container
    from receiptcore.settings import Settings

    return create_app(build_container(Settings()), service="all")


async def serve_app(app: Any, port: int) -> None:
    """Run ``app`` with uvicorn on 127.0.0.1:``port`` until the process is told to stop."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, **SERVER_SETTINGS)
    await uvicorn.Server(config).serve()


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", choices=["baseline", "product"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    asyncio.run(serve_app(build_app(args.target, args.data_dir), args.port))


if __name__ == "__main__":
    main()
