"""The composition root: the only module that imports both adapters and services.

Adapters are chosen by ``providers.Selector`` on settings; the embedded default is SQLite + local files +
in-process bus + the offline OCR extractor. ``build_container(settings)`` is what the CLI and the HTTP apps
use; tests pass their own settings (or override providers).
"""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

from dependency_injector import containers, providers

from receiptcore.adapters.clock import SystemClock
from receiptcore.adapters.extractors import load_extractor
from receiptcore.adapters.inspection import PillowFileInspector
from receiptcore.adapters.memory import InProcessEventBus, MemoryReceiptStore, MemoryThrottleStore, MemoryUserRepo
from receiptcore.adapters.security import Argon2PasswordHasher, JwtTokenIssuer
from receiptcore.adapters.sqlite import SqliteDatabase, SqliteReceiptStore, SqliteThrottleStore, SqliteUserRepo
from receiptcore.domain.backoff import Backoff
from receiptcore.errors import ConfigurationError
from receiptcore.ports import ReceiptStore
from receiptcore.services.auth import AuthConfig, AuthService
from receiptcore.services.extraction import ExtractionService, WorkerConfig
from receiptcore.services.receipts import ReceiptService, UploadLimits
from receiptcore.services.throttle import LoginThrottle, ThrottlePolicy
from receiptcore.services.users import RoleService, UserService
from receiptcore.settings import Settings


def _throttle_policy(settings: Settings) -> ThrottlePolicy:
    def backoff(free: int) -> Backoff:
        return Backoff(
            free_attempts=free,
            base_seconds=settings.login_backoff_base_seconds,
            max_seconds=settings.login_backoff_max_seconds,
            forget_after_seconds=max(settings.login_backoff_forget_seconds, settings.login_backoff_max_seconds),
        )

    return ThrottlePolicy(
        account=backoff(settings.login_free_attempts), client=backoff(settings.login_client_free_attempts)
    )


def _backend(settings: Settings, family: str) -> str:
    """Which adapter family serves ``family`` ("users", "receipts", "events") under these settings."""
    url = {"users": settings.postgres_url, "receipts": settings.mongo_url, "events": settings.redis_url}[family]
    if family == "receipts" and url is not None:
        return "mongo"
    if url is not None:
        name = {"users": "PostgreSQL", "receipts": "MongoDB", "events": "Redis"}[family]
        raise ConfigurationError(
            f"a {name} URL is set, but this build of receiptcore has no {name} adapter yet; unset it to use the "
            "embedded default"
        )
    if family == "events":
        return "inprocess"
    return "memory" if str(settings.data_dir) == ":memory:" else "sqlite"


def _mongo_config(settings: Settings) -> Any:
    """The MongoDB adapter's own configuration (it never sees ``Settings``)."""
    from receiptcore.adapters.mongo import MongoConfig

    assert settings.mongo_url is not None  # noqa: S101 - only built when _backend chose "mongo"
    return MongoConfig(
        url=settings.mongo_url.get_secret_value(),
        database=settings.mongo_database,
        timeout_seconds=settings.mongo_timeout_seconds,
        idempotency_ttl_seconds=settings.mongo_idempotency_ttl_seconds,
    )


def _mongo_connection(config: Any) -> Any:
    """The MongoDB client (no I/O until first use), closed by ``close_container``."""
    from receiptcore.adapters.mongo import MongoConnection

    return MongoConnection(config)


def _mongo_receipt_store(connection: Any) -> ReceiptStore:
    from receiptcore.adapters.mongo import MongoReceiptStore

    return MongoReceiptStore.on(connection)


class Container(containers.DeclarativeContainer):
    """Every port bound to an adapter, every service built from ports."""

    settings = providers.Dependency(instance_of=Settings)
    backends = providers.Dependency(instance_of=dict)

    clock = providers.Singleton(SystemClock)
    sqlite = providers.Singleton(SqliteDatabase, path=settings.provided.sqlite_path)
    mongo_config = providers.Singleton(_mongo_config, settings)
    mongo = providers.Singleton(_mongo_connection, mongo_config)

    user_repo = providers.Selector(
        backends.provided["users"],
        sqlite=providers.Singleton(SqliteUserRepo, db=sqlite),
        memory=providers.Singleton(MemoryUserRepo),
    )
    receipt_store = providers.Selector(
        backends.provided["receipts"],
        sqlite=providers.Singleton(SqliteReceiptStore, db=sqlite, files_dir=settings.provided.files_dir),
        memory=providers.Singleton(MemoryReceiptStore),
        mongo=providers.Singleton(_mongo_receipt_store, mongo),
    )
    # login attempt counters live with the users (shared by every instance, persisted across restarts)
    throttle_store = providers.Selector(
        backends.provided["users"],
        sqlite=providers.Singleton(SqliteThrottleStore, db=sqlite),
        memory=providers.Singleton(MemoryThrottleStore),
    )
    event_bus = providers.Selector(
        backends.provided["events"],
        inprocess=providers.Singleton(InProcessEventBus),
    )

    hasher = providers.Singleton(Argon2PasswordHasher)
    token_issuer = providers.Singleton(
        JwtTokenIssuer.from_settings,
        settings=settings,
    )
    inspector = providers.Singleton(
        PillowFileInspector,
        max_pixels=settings.provided.max_image_pixels,
        max_pages=settings.provided.max_pdf_pages,
    )
    extractor = providers.Singleton(load_extractor, name=settings.provided.extractor, settings=settings)

    auth_config = providers.Singleton(
        lambda s: AuthConfig(
            refresh_idle_ttl=dt.timedelta(seconds=s.refresh_idle_ttl_seconds),
            refresh_absolute_ttl=dt.timedelta(seconds=s.refresh_absolute_ttl_seconds),
            password_min_length=s.password_min_length,
        ),
        settings,
    )
    login_throttle = providers.Singleton(
        LoginThrottle, store=throttle_store, clock=clock, policy=providers.Singleton(_throttle_policy, settings)
    )
    auth_service = providers.Singleton(
        AuthService,
        users=user_repo,
        hasher=hasher,
        tokens=token_issuer,
        bus=event_bus,
        clock=clock,
        config=auth_config,
        throttle=login_throttle,
    )
    user_service = providers.Singleton(
        UserService, users=user_repo, hasher=hasher, bus=event_bus, clock=clock, config=auth_config
    )
    role_service = providers.Singleton(RoleService, users=user_repo, bus=event_bus)
    receipt_service = providers.Singleton(
        ReceiptService,
        store=receipt_store,
        inspector=inspector,
        bus=event_bus,
        clock=clock,
        limits=providers.Singleton(
            lambda s: UploadLimits(max_bytes=s.max_upload_bytes, max_files=s.max_files_per_upload), settings
        ),
    )
    extraction_service = providers.Singleton(
        ExtractionService,
        store=receipt_store,
        extractor=extractor,
        bus=event_bus,
        clock=clock,
        config=providers.Singleton(
            lambda s: WorkerConfig(
                lease_seconds=s.worker_lease_seconds,
                max_attempts=s.extraction_max_attempts,
                retry_base_seconds=s.extraction_retry_base_seconds,
                default_currency=s.default_currency,
            ),
            settings,
        ),
    )


def build_container(settings: Settings | None = None) -> Container:
    """A container for ``settings`` (read from the environment when None). Raises ConfigurationError."""
    settings = settings or Settings()
    backends = {family: _backend(settings, family) for family in ("users", "receipts", "events")}
    if backends["receipts"] == "mongo":
        import receiptcore.adapters.mongo  # noqa: F401 - a missing extra fails here, with a one-line message
    return Container(settings=settings, backends=backends)


async def close_container(container: Container) -> None:
    """Close the adapters that hold resources (connections, pools, worker threads). Safe to call twice."""
    closers: list[Any] = [container.event_bus(), container.extractor()]
    if container.backends()["users"] == "sqlite" or container.backends()["receipts"] == "sqlite":
        closers.append(container.sqlite())
    if container.backends()["receipts"] == "mongo":
        closers.append(container.mongo())
    for adapter in closers:
        closer = getattr(adapter, "aclose", None)
        if closer is not None:
            result = closer()
            if inspect.isawaitable(result):
                await result
