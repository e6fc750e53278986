"""`receiptcore serve` runs in uvloop's event loop when it is installed (the server extra, as in this checkout).

uvicorn's ``loop="auto"`` only chooses uvloop for a loop uvicorn creates; ``serve`` runs uvicorn inside its own
loop, so ``run_serving`` makes the choice (before, the product and the bench's uvicorn baseline ran on asyncio's
selector loop although uvloop was installed). The connection guarantees the server relies on hold on that loop.
"""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from receiptcore.entrypoints.serve import event_loop_factory, run_serving
from tests.cli.test_serve_nodelay import accepted_connection_nodelay


def test_serving_loop_is_uvloop_when_installed() -> None:
    async def loop_type() -> type[asyncio.AbstractEventLoop]:
        return type(asyncio.get_running_loop())

    assert event_loop_factory() is uvloop.new_event_loop
    assert issubclass(run_serving(loop_type()), uvloop.Loop)


def test_serving_loop_accepts_connections_with_tcp_nodelay() -> None:
    # without TCP_NODELAY a keep-alive response written in two sends stalls ~40 ms (test_serve_nodelay.py)
    assert run_serving(accepted_connection_nodelay()) != 0


def test_serving_loop_returns_what_the_coroutine_returns_and_raises_what_it_raises() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def fail() -> None:
        raise LookupError("kept")

    assert run_serving(answer()) == 42
    with pytest.raises(LookupError, match="kept"):
        run_serving(fail())
