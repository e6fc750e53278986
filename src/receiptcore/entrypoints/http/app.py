"""The Litestar applications: ``create_app(container, service)`` for the auth service, the receipt API, or both.

One app factory for every deployment shape: ``service="auth"`` mounts sessions, users, roles and the JWKS;
``"receipts"`` mounts ``/api``; ``"all"`` (the embedded default) mounts both and the web client (``/`` and
``/static/``); health checks are everywhere.
The app's lifespan feeds the event bus into ``Authenticator.handle_event`` so that revocations and role changes
from any instance take effect here, and closes the container on shutdown. It does not run the extraction
worker: ``receiptcore serve`` does that beside the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Literal

from litestar import HttpMethod, Litestar, MediaType, Response
from litestar.datastructures import State
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.status_codes import HTTP_204_NO_CONTENT
from litestar.types import Message, Scope

from receiptcore import __version__
from receiptcore.entrypoints.container import Container, close_container, start_resources
from receiptcore.entrypoints.http.auth_routes import AUTH_HANDLERS
from receiptcore.entrypoints.http.deps import DEPENDENCIES
from receiptcore.entrypoints.http.docs_pages import render_plugins
from receiptcore.entrypoints.http.errors import EXCEPTION_HANDLERS
from receiptcore.entrypoints.http.events import DEFAULT_KEEPALIVE_SECONDS, SSE_KEEPALIVE_KEY, receipt_events
from receiptcore.entrypoints.http.fastpath import fast_reads
from receiptcore.entrypoints.http.health import HEALTH_HANDLERS, SERVICE_KEY
from receiptcore.entrypoints.http.limits import reject_deep_json
from receiptcore.entrypoints.http.listing_fastpath import fast_listing
from receiptcore.entrypoints.http.merchant_routes import MERCHANT_HANDLERS
from receiptcore.entrypoints.http.observe import RequestObserver, observe_requests
from receiptcore.entrypoints.http.openapi import finish_openapi
from receiptcore.entrypoints.http.preference_routes import PREFERENCE_HANDLERS
from receiptcore.entrypoints.http.raw import with_security_headers
from receiptcore.entrypoints.http.receipt_routes import RECEIPT_HANDLERS
from receiptcore.entrypoints.http.receipt_upload import upload_handler
from receiptcore.entrypoints.http.role_routes import ROLE_HANDLERS
from receiptcore.entrypoints.http.security import CONTAINER_KEY, permission_guard
from receiptcore.entrypoints.http.shedding import shed_logins
from receiptcore.entrypoints.http.user_routes import USER_HANDLERS
from receiptcore.entrypoints.web import web_handlers

logger = logging.getLogger(__name__)

Service = Literal["all", "auth", "receipts"]

# JSON bodies are small (logins, corrections); anything bigger is refused before it is parsed.
JSON_BODY_CAP_BYTES = 1024 * 1024
_SUBSCRIBE_WAIT_SECONDS = 5.0
_RESUBSCRIBE_DELAY_SECONDS = 1.0


async def _feed_auth_events(container: Container, subscribed: asyncio.Event) -> None:
    """Hand every bus event to the Authenticator (cache invalidation), resubscribing after a failure."""
    auth = container.authenticator()
    bus = container.event_bus()
    while True:
        try:
            async with bus.subscribe() as events:
                if subscribed.is_set():
                    # events may have been lost while we were not listening: the caches start over
                    auth.reset_caches()
                subscribed.set()
                async for event in events:
                    try:
                        await auth.handle_event(event)
                    except Exception:
                        logger.exception("auth event handler failed on %s", event.type)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("event subscription failed; resubscribing")
        await asyncio.sleep(_RESUBSCRIBE_DELAY_SECONDS)


@contextlib.asynccontextmanager
async def _lifespan(app: Litestar) -> AsyncIterator[None]:
    container: Container = app.state[CONTAINER_KEY]
    await start_resources(container)  # e.g. the PostgreSQL outbox relay
    subscribed = asyncio.Event()
    task = asyncio.create_task(_feed_auth_events(container, subscribed), name="receiptcore-auth-events")
    with contextlib.suppress(TimeoutError):
        # serve only once revocations can reach us (a bus that never answers must not block startup)
        await asyncio.wait_for(subscribed.wait(), _SUBSCRIBE_WAIT_SECONDS)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await close_container(container)


async def _security_headers(message: Message, scope: Scope) -> None:
    """Headers on every response, errors and streams included (``raw.with_security_headers``)."""
    if message["type"] != "http.response.start":
        return
    message["headers"] = with_security_headers(message.get("headers", ()), scope["path"])


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="receiptcore",
        version=__version__,
        description="Self-hosted receipt vault: sessions, users and roles; receipts, extraction, export, stats.",
        path="/schema",
        render_plugins=render_plugins(),
        components=Components(
            security_schemes={"BearerAuth": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
        ),
        security=[{"BearerAuth": []}],
    )


def _options_handler(path: str, allow: str) -> HTTPRouteHandler:
    def options() -> Response[None]:
        return Response(None, status_code=HTTP_204_NO_CONTENT, headers={"Allow": allow}, media_type=MediaType.TEXT)

    return HTTPRouteHandler(path=path, http_method=[HttpMethod.OPTIONS], include_in_schema=False, sync_to_thread=False)(
        options
    )


def _with_options(handlers: list[Any]) -> list[Any]:
    """One OPTIONS handler per path, listing every method of the path in ``Allow``.

    Litestar's automatic one is made with the first handler registered on a path and then kept when other handler
    functions join the path, so it would list only some of the methods.
    """
    methods: dict[str, set[str]] = {}
    for handler in handlers:
        for path in handler.paths:
            methods.setdefault(path, {"OPTIONS"}).update(handler.http_methods)
    options = [_options_handler(path, ", ".join(sorted(allowed))) for path, allowed in methods.items()]
    return options + handlers


def create_app(
    container: Container,
    service: str = "all",
    *,
    sse_keepalive_seconds: float = DEFAULT_KEEPALIVE_SECONDS,
    debug: bool = False,
    fast_paths: bool = True,
) -> Litestar:
    """Build the HTTP app for ``service`` over ``container``.

    Args:
        container: the composition root (tests pass their own, with overridden providers).
        service: ``"auth"``, ``"receipts"`` or ``"all"``.
        sse_keepalive_seconds: interval of keep-alive comments on ``/api/events`` (tests shorten it).
        debug: Litestar debug mode (never in production: it would not change our problem documents, but logs more).
        fast_paths: answer ``GET /auth/me``, ``GET /api/receipts/{rid}`` (``http/fastpath.py``) and ``GET
            /api/receipts`` (``http/listing_fastpath.py``) before routing;
            False routes them like every other request (tests compare both answers).

    Returns:
        The Litestar application; its lifespan closes ``container`` on shutdown.
    """
    if service not in ("all", "auth", "receipts"):
        msg = f"unknown service {service!r}; expected all, auth or receipts"
        raise ValueError(msg)
    settings = container.settings()
    handlers: list[Any] = list(HEALTH_HANDLERS)
    if service in ("all", "auth"):
        handlers += AUTH_HANDLERS + PREFERENCE_HANDLERS + USER_HANDLERS + ROLE_HANDLERS
    if service in ("all", "receipts"):
        handlers += [upload_handler(settings), *RECEIPT_HANDLERS, *MERCHANT_HANDLERS, receipt_events]
    if service == "all":
        handlers += web_handlers()
    app = Litestar(
        route_handlers=_with_options(handlers),
        dependencies=DEPENDENCIES,
        guards=[permission_guard],
        exception_handlers=EXCEPTION_HANDLERS,
        state=State({CONTAINER_KEY: container, SERVICE_KEY: service, SSE_KEEPALIVE_KEY: sse_keepalive_seconds}),
        lifespan=[_lifespan],
        before_send=[_security_headers],
        before_request=reject_deep_json,
        openapi_config=_openapi(),
        # Litestar would install its own root handler and format; every process logs in ours (entrypoints/logs.py)
        logging_config=None,
        request_max_body_size=JSON_BODY_CAP_BYTES,
        multipart_form_part_limit=settings.max_files_per_upload + 10,
        debug=debug,
    )
    finish_openapi(app, max_files=settings.max_files_per_upload)
    # GET /auth/me and GET /api/receipts/{rid} answered without routing, every check kept (http/fastpath.py)
    handler = fast_reads(app.asgi_handler, container, service) if fast_paths else app.asgi_handler
    if fast_paths:
        # GET /api/receipts too, every check kept (http/listing_fastpath.py)
        handler = fast_listing(handler, container, service, app.state)
    # outside routing and the exception handlers, so every request (a 404 too) gets an id, a log line and its
    # metrics; Litestar's own OpenTelemetry plugin wraps the same handler
    observers: list[RequestObserver] = [container.metrics().observe_request]
    handler = observe_requests(handler, observers)
    if service in ("all", "auth"):
        # logins past the admission bound are refused in front of everything, observed alike (http/shedding.py)
        handler = shed_logins(handler, container.login_admission, observers=observers)
    app.asgi_handler = handler
    return app
