"""``receiptcore serve``: the HTTP app and the extraction worker in one process and one event loop.

uvicorn runs programmatically inside our own asyncio loop (docs/adr/0003) so the API, the worker task and the
in-process event bus share one container. We bind the listening socket ourselves, before anything else, so an
occupied port is a clear one-line error and no first admin is created by a process that cannot serve. Signals are
ours too: uvicorn's own handlers would re-raise the signal after shutdown, skipping our cleanup.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from receiptcore import __version__
from receiptcore.entrypoints.container import Container, build_container, close_container
from receiptcore.entrypoints.heap import HeapTrimmer, freeze_startup_heap
from receiptcore.entrypoints.logs import flush_logs
from receiptcore.entrypoints.metrics_listener import make_metrics_app, metrics_url, worker_metrics_listener
from receiptcore.entrypoints.worker import ExtractionWorker, stable_worker_id
from receiptcore.errors import ConfigurationError
from receiptcore.extras import require_extra
from receiptcore.settings import Settings

T = TypeVar("T")

log = logging.getLogger("receiptcore.serve")

# How long open HTTP requests may take to finish after a stop signal before uvicorn cancels them.
HTTP_GRACE_SECONDS = 10


class AddressInUseError(ConfigurationError):
    """The host:port to listen on is taken by another process."""

    code = "address-in-use"


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What to run: the service (all, auth, receipts, worker) and whether a worker task joins the HTTP app."""

    service: str = "all"
    worker: bool = True


def bind_socket(host: str, port: int) -> socket.socket:
    """Open the listening socket (port 0 picks a free port). Raises AddressInUseError or ConfigurationError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets whose proto says TCP; without it
    # Nagle + delayed ACK stall every keep-alive response written in two sends by ~40 ms (bench/README.md)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # SO_REUSEADDR only skips TIME_WAIT after a restart; a live listener still makes bind fail (as uvicorn does)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AddressInUseError(
                f"cannot listen on {host}:{port}: the address is already in use (is receiptcore already running? "
                "choose another port with --port or RECEIPTCORE_PORT)"
            ) from exc
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def admin_banner(url: str, email: str, password: str) -> str:
    """The one-time message showing the generated first admin's credentials."""
    rule = "=" * 72
    return "\n".join(
        [
            rule,
            "First start: an administrator account was created.",
            f"  URL:      {url}",
            f"  email:    {email}",
            f"  password: {password}",
            "This password is shown only once. Sign in and change it now: "
            f"{url.rstrip('/')}/settings (or POST /auth/password; see README).",
            rule,
        ]
    )


def _url(settings: Settings, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)  # noqa: S104
    return settings.public_url or f"http://{shown}:{port}"


def _create_app(container: Container, service: str) -> Any:
    try:
        from receiptcore.entrypoints.http.app import create_app
    except ImportError as exc:
        raise ConfigurationError(
            f"the HTTP server needs the 'server' extra: pip install 'receiptcore[server]' ({exc})"
        ) from exc
    return create_app(container, service)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (the server extra), else None (asyncio's own).

    uvicorn's ``loop="auto"`` picks uvloop only for a loop uvicorn creates itself; ``serve`` runs uvicorn inside
    our own loop (docs/adr/0003), so the choice is made here, before that loop exists.
    """
    try:
        import uvloop
    except ImportError:
        return None
    return cast("Callable[[], asyncio.AbstractEventLoop]", uvloop.new_event_loop)


def run_serving(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` (``serve`` and the bench's baseline server) to completion in a fresh loop of
    ``event_loop_factory``: uvloop's transports and scheduling cost the loop less per request than asyncio's.
    The access lines the loop's last turn held back are written before this returns or raises (logs.flush_logs)."""
    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            return runner.run(coro)
    finally:
        flush_logs()


def _make_server(
    app: Any, settings: Settings, *, lifespan: Literal["on", "off"] = "on", log_level: str | None = None
) -> Any:
    try:
        import uvicorn
    except ImportError as exc:
        raise ConfigurationError("the HTTP server needs the 'server' extra: pip install 'receiptcore[server]'") from exc

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            # our loop owns SIGINT/SIGTERM (see the module docstring)
            yield

    config = uvicorn.Config(
        app,
        log_level=log_level or settings.log_level,
        # our one log format (entrypoints/logs.py) for uvicorn's records too, and no second request line: the
        # app logs each request with its id (entrypoints/http/observe.py)
        log_config=None,
        access_log=False,
        lifespan=lifespan,
        # the loop is already running (run_serving chose uvloop)
        loop="auto",
        http=_http_protocol(),
        timeout_graceful_shutdown=HTTP_GRACE_SECONDS,
        server_header=False,
        # X-Forwarded-For/-Proto are believed from the gateway's addresses only (docker/nginx.conf sets them)
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
    )
    return _Server(config)


def _http_protocol() -> Any:
    """httptools' protocol with one write per response and logins refused before ASGI when httptools is installed
    (the server extra: ``entrypoints/http/server_protocol.py``), else uvicorn's choice (h11)."""
    try:
        from receiptcore.entrypoints.http.server_protocol import ServerProtocol
    except ImportError:
        return "auto"
    return ServerProtocol


def _install_signal_handlers(on_stop: Callable[[], None]) -> Callable[[], None]:
    """Route SIGINT/SIGTERM to ``on_stop``; returns a function restoring the defaults."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_stop)
            installed.append(sig)

    def restore() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return restore


def make_worker(container: Container, settings: Settings) -> ExtractionWorker:
    """The extraction worker configured from settings (its extractions are counted in the metrics)."""
    return ExtractionWorker(
        container.extraction_service(),
        container.event_bus(),
        concurrency=settings.worker_concurrency,
        poll_seconds=settings.worker_poll_seconds,
        worker_id=_worker_id(settings),
        on_processed=container.metrics().observe_extraction,
    )


def _worker_id(settings: Settings) -> str:
    """Stable across restarts where the data dir is on disk, so a restarted worker takes its dead leases back."""
    return stable_worker_id(None if str(settings.data_dir) == ":memory:" else Path(settings.data_dir))


async def serve(settings: Settings, options: ServeOptions, echo: Callable[[str], None]) -> int:
    """Run the service until SIGINT/SIGTERM; returns the process exit code.

    Args:
        settings: host, port, data dir, extractor, worker settings.
        options: which service, and whether the worker runs in this process.
        echo: prints a line for the operator (the URL, the first admin's one-time password).

    Raises:
        AddressInUseError: the port is taken. ConfigurationError: settings that cannot work.
    """
    if options.service == "worker":
        return await run_worker(settings, echo, concurrency=settings.worker_concurrency)
    # Everything this process needs is checked before anything is written: a missing extra or a bad extractor
    # must not leave a data dir and a first admin whose one-time password was shown to a process that then died.
    require_extra("server", "the HTTP server")
    sock = bind_socket(settings.host, settings.port)
    metrics_sock: socket.socket | None = None
    try:
        if settings.metrics_port is not None:
            metrics_sock = bind_socket(settings.metrics_host, settings.metrics_port)
        container = build_container(settings)
    except BaseException:
        sock.close()
        if metrics_sock is not None:
            metrics_sock.close()
        raise
    url = _url(settings, sock)
    stop = asyncio.Event()
    restore = _install_signal_handlers(stop.set)
    try:
        server = _make_server(_create_app(container, options.service), settings)
        side: list[tuple[Any, socket.socket]] = []
        if metrics_sock is not None:
            metrics_app = make_metrics_app(container, container.metrics())
            # warning: its "Started server process" would repeat the app server's
            side.append((_make_server(metrics_app, settings, lifespan="off", log_level="warning"), metrics_sock))
        worker = make_worker(container, settings) if options.service == "all" and options.worker else None
        if options.service in ("all", "auth"):
            created = await container.user_service().ensure_first_admin()
            if created is not None:
                user, password = created
                echo(admin_banner(url, user.email, password))

        def announce() -> None:
            echo(_serving_line(settings, url, options, worker))
            if metrics_sock is not None:
                echo(f"metrics on {metrics_url(metrics_sock)} (not for the public: keep this port private)")

        trimmer = HeapTrimmer(settings.memory_trim_seconds)
        return await _run(server, sock, worker, stop, announce, side=side, trimmer=trimmer)
    finally:
        restore()
        sock.close()
        if metrics_sock is not None:
            metrics_sock.close()
        await close_container(container)


def _serving_line(settings: Settings, url: str, options: ServeOptions, worker: ExtractionWorker | None) -> str:
    service = "" if options.service == "all" else f", service: {options.service}"
    work = f", worker: {settings.worker_concurrency}" if worker is not None else ", worker: off"
    return (
        f"receiptcore {__version__} serving {url} (data: {settings.data_dir}, extractor: {settings.extractor}"
        f"{service}{work})"
    )


async def _run(
    server: Any,
    sock: socket.socket,
    worker: ExtractionWorker | None,
    stop: asyncio.Event,
    announce: Callable[[], None],
    *,
    side: list[tuple[Any, socket.socket]] | None = None,
    trimmer: HeapTrimmer | None = None,
) -> int:
    async def http() -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit as exc:
            # uvicorn exits when the app's startup fails; it has logged why
            raise ConfigurationError("the HTTP app failed to start (see the log above)") from exc

    http_task = asyncio.create_task(http(), name="http")
    # side listeners (metrics): served while the app is, stopped with it; their failure does not stop the app
    side_tasks = [
        asyncio.create_task(extra.serve(sockets=[extra_sock]), name="metrics") for extra, extra_sock in side or []
    ]
    worker_task = asyncio.create_task(worker.run(), name="worker") if worker is not None else None
    trim_task = asyncio.create_task(trimmer.run(), name="heap-trim") if trimmer is not None else None
    stop_task = asyncio.create_task(stop.wait(), name="stop")
    announced = False
    while not http_task.done() and not stop.is_set():
        if not announced and server.started:
            announce()
            announced = True
            # no full collection walks what start-up built again: ~60 ms of the loop each (entrypoints/heap.py)
            freeze_startup_heap()
        await asyncio.wait(
            {http_task, stop_task}, timeout=0.05 if not announced else None, return_when=asyncio.FIRST_COMPLETED
        )
    log.info("stopping")
    force = asyncio.Event()

    def force_stop() -> None:
        # a second signal while stopping: drop open connections, abandon the extraction in hand (its lease expires)
        server.force_exit = True
        force.set()

    _install_signal_handlers(force_stop)
    if worker is not None and worker_task is not None:
        # the worker first: the app's lifespan shutdown closes the container the worker is still writing through
        worker.stop()
        force_task = asyncio.create_task(force.wait(), name="force")
        await asyncio.wait({worker_task, force_task}, return_when=asyncio.FIRST_COMPLETED)
        for task in (worker_task, force_task):
            task.cancel()
        await asyncio.gather(worker_task, force_task, return_exceptions=True)
    server.should_exit = True
    for extra, _ in side or []:
        extra.should_exit = True
    stop_task.cancel()
    trims = [trim_task] if trim_task is not None else []
    for trim in trims:
        trim.cancel()
    await asyncio.gather(http_task, stop_task, *side_tasks, *trims, return_exceptions=True)
    failure = http_task.exception()
    if failure is not None:
        raise failure
    return 0


async def run_worker(settings: Settings, echo: Callable[[str], None], *, concurrency: int, once: bool = False) -> int:
    """``receiptcore worker``: the extraction worker alone, until a signal (or an empty queue with ``once``)."""
    container = build_container(settings)
    try:
        worker = ExtractionWorker(
            container.extraction_service(),
            container.event_bus(),
            concurrency=concurrency,
            poll_seconds=settings.worker_poll_seconds,
            worker_id=_worker_id(settings),
            on_processed=container.metrics().observe_extraction,
        )
        if once:
            stats = await worker.drain()
            echo(f"processed {stats.processed} receipt(s), {stats.errors} error(s)")
            return 1 if stats.errors else 0
        restore = _install_signal_handlers(worker.stop)
        try:
            echo(
                f"receiptcore {__version__} worker {worker.worker_id} (data: {settings.data_dir}, extractor: "
                f"{settings.extractor}, concurrency: {concurrency})"
            )
            async with worker_metrics_listener(container, settings, echo):
                stats = await worker.run()
        finally:
            restore()
        echo(f"worker stopped after {stats.processed} receipt(s)")
        return 0
    finally:
        await close_container(container)
