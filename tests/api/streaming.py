"""An app served in the test's own event loop through httpx's ASGI transport, which pulls request bodies chunk by
chunk as the app asks for them (Litestar's test client reads a body whole first, and runs the app in a thread of
its own): what the multipart and slow-body tests need to see how much of a body the server read."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from receiptcore.entrypoints.http.app import create_app
from receiptcore.settings import Settings
from tests.api.conftest import Api, make_container


@contextlib.asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await asyncio.wait_for(outbox.get(), 30)
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(outbox.get(), 30)
        await task


@contextlib.asynccontextmanager
async def streaming_api(settings: Settings) -> AsyncIterator[Api]:
    """An ``Api`` whose client streams request bodies into the app (same helpers as the ``api`` fixture)."""
    container = make_container(settings)
    app = create_app(container)
    async with _lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client=client, container=container, settings=settings)  # type: ignore[arg-type]
