"""The composition root: the only module that imports both adapters and services.

Adapters are chosen by ``providers.Selector`` on settings; the embedded default is SQLite + local files +
in-process bus + the offline OCR extractor. ``build_container(settings)`` is what the CLI and the HTTP apps
use; tests pass their own settings (or override providers).
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from dependency_injector import containers, providers

from receiptcore.adapters.caching_cachetools import CachetoolsCacheFactory
from receiptcore.adapters.clock import SystemClock
from receiptcore.adapters.extractors import ExtractorInfo, available_extractors, load_extractor
from receiptcore.adapters.extractors.llm.budget import SpendLedger
from receiptcore.adapters.extractors.llm.config import AnthropicConfig, LlmConfig, OpenAICompatibleConfig
from receiptcore.adapters.inspection import PillowFileInspector
from receiptcore.adapters.memory import InProcessEventBus, MemoryReceiptStore, MemoryThrottleStore, MemoryUserRepo
from receiptcore.adapters.memory.merchant_directory import MemoryMerchantDirectory
from receiptcore.adapters.memory.receipt_stats import MemoryReceiptStats
from receiptcore.adapters.mongo.config import MongoConfig
from receiptcore.adapters.page_images import render_pdf_page
from receiptcore.adapters.postgres.config import PostgresConfig
from receiptcore.adapters.receipt_queries import CursorCodec, cursor_codec
from receiptcore.adapters.redis.config import RedisConfig
from receiptcore.adapters.security import Argon2PasswordHasher, JwksTokenVerifier, JwtTokenIssuer, TokenConfig
from receiptcore.adapters.security.hashing import usable_cpus
from receiptcore.adapters.security.keys import KeyDirectory as KeyDirectory  # noqa: PLC0414 - re-exported (cli_keys)
from receiptcore.adapters.sqlite import SqliteDatabase, SqliteReceiptStore, SqliteThrottleStore, SqliteUserRepo
from receiptcore.adapters.sqlite.merchant_directory import SqliteMerchantDirectory
from receiptcore.adapters.sqlite.receipt_stats import SqliteReceiptStats
from receiptcore.domain.backoff import Backoff
from receiptcore.entrypoints.http.representation import API_LISTING
from receiptcore.entrypoints.metrics import Metrics
from receiptcore.errors import ConfigurationError
from receiptcore.extractor_config import ExtractorConfig
from receiptcore.ports import Closeable, EventBus, ReceiptStore
from receiptcore.services.admission import LoginAdmission
from receiptcore.services.audit import AuthAudit
from receiptcore.services.auth import AuthConfig, AuthService, access_cache_config
from receiptcore.services.authentication import Authenticator
from receiptcore.services.extraction import ExtractionService, WorkerConfig
from receiptcore.services.merchants import MerchantService
from receiptcore.services.preferences import PreferencesService
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
    if family == "users" and settings.postgres_url is not None:
        return "postgres"
    if family == "events":
        return "redis" if settings.redis_url is not None else "inprocess"
    if family == "receipts" and settings.mongo_url is not None:
        return "mongo"
    return "memory" if settings.in_memory else "sqlite"


def _token_backend(settings: Settings) -> str:
    """``jwks`` (public keys fetched from the auth service) for the receipts service, else ``local`` (keys dir)."""
    if settings.service != "receipts":
        return "local"
    if not settings.auth_url:
        raise ConfigurationError(
            "the receipts service verifies access tokens with the auth service's public keys and holds no signing "
            "key: set RECEIPTCORE_AUTH_URL to the auth service's base URL (e.g. http://auth:8000)"
        )
    return "jwks"


def _password_hasher(settings: Settings) -> Argon2PasswordHasher:
    slots = settings.password_verify_slots or usable_cpus()
    return Argon2PasswordHasher(
        memory_cost=settings.password_hash_memory_kib,
        time_cost=settings.password_hash_iterations,
        max_in_flight=slots,
        max_waiting=slots * settings.password_verify_queue_per_slot,
        thread_niceness=settings.password_hash_thread_niceness,
    )


def _login_admission(settings: Settings) -> LoginAdmission:
    # as many logins in progress as the hasher computes and queues: one more would only wait to be shed there
    slots = settings.password_verify_slots or usable_cpus()
    return LoginAdmission(slots * (1 + settings.password_verify_queue_per_slot))


def _jwks_verifier(settings: Settings) -> JwksTokenVerifier:
    return JwksTokenVerifier(str(settings.auth_url), issuer=settings.jwt_issuer, audience=settings.jwt_audience)


def _missing_extra(exc: ImportError, driver: str, extra: str, variable: str) -> ConfigurationError | None:
    """The one-line error for an adapter whose optional driver is not installed (None: another import failed)."""
    if exc.name is None or exc.name.split(".")[0] != driver:
        return None
    return ConfigurationError(
        f"{variable} is set, but the '{extra}' extra is not installed: pip install 'receiptcore[{extra}]'"
    )


def postgres_config(settings: Settings) -> PostgresConfig:
    """The PostgreSQL adapters' own configuration (no Settings reaches them)."""
    if settings.postgres_url is None:
        raise ConfigurationError("RECEIPTCORE_POSTGRES_URL is not set")
    return PostgresConfig(
        dsn=settings.postgres_url.get_secret_value(),
        max_pool_size=settings.postgres_pool_size,
        min_pool_size=min(1, settings.postgres_pool_size),
        migrate_on_start=settings.postgres_migrate_on_start,
    )


def redis_config(settings: Settings) -> RedisConfig:
    """The Redis adapters' own configuration."""
    if settings.redis_url is None:
        raise ConfigurationError("RECEIPTCORE_REDIS_URL is not set")
    return RedisConfig(url=settings.redis_url.get_secret_value(), prefix=settings.redis_prefix)


def token_config(settings: Settings) -> TokenConfig:
    """The token issuer's own configuration; the memory profile keeps its signing key in memory."""
    return TokenConfig(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.access_token_ttl_seconds,
        keys_dir=None if settings.in_memory else settings.keys_dir,
    )


def key_directory(settings: Settings) -> KeyDirectory:
    """The signing keys directory ``receiptcore keys`` manages. Raises ConfigurationError in the memory profile."""
    if settings.in_memory:
        raise ConfigurationError("RECEIPTCORE_PROFILE=memory keeps its signing key in memory: there are no key files")
    return KeyDirectory(settings.keys_dir)


def installed_extractors() -> list[ExtractorInfo]:
    """Every installed extractor plugin (``receiptcore extractors list``), without importing any."""
    return available_extractors()


def extractor_config(settings: Settings) -> ExtractorConfig:
    """The plugin contract's config for the selected extractor: its own ``RECEIPTCORE_EXTRACTOR_<NAME>_*``
    options and the install-wide facts (data dir, concurrency, remote-call timeout, spend cap)."""
    return ExtractorConfig(
        name=settings.extractor,
        options=settings.extractor_options(settings.extractor),
        data_dir=None if settings.in_memory else settings.data_dir,
        concurrency=settings.worker_concurrency,
        timeout_seconds=settings.llm_timeout_seconds,
        daily_spend_cap_usd=settings.llm_daily_spend_cap_usd,
    )


def llm_config(settings: Settings) -> LlmConfig:
    """What the built-in LLM extractors share; the file ledger lives in the data dir (none in memory)."""
    return LlmConfig(
        timeout_seconds=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
        retry_base_seconds=settings.llm_retry_base_seconds,
        retry_max_seconds=settings.llm_retry_max_seconds,
        max_image_side=settings.llm_max_image_side,
        max_pages=settings.llm_max_pages,
        daily_spend_cap_usd=settings.llm_daily_spend_cap_usd,
        ledger_path=None if settings.in_memory else settings.data_dir / "llm-spend.json",
    )


def anthropic_config(settings: Settings) -> AnthropicConfig:
    """The anthropic extractor's own settings; the key falls back to the SDK's ``ANTHROPIC_API_KEY``."""
    secret = settings.anthropic_api_key
    return AnthropicConfig(
        api_key=secret.get_secret_value() if secret is not None else os.environ.get("ANTHROPIC_API_KEY"),
        model=settings.anthropic_model,
        max_tokens=settings.anthropic_max_tokens,
        base_url=settings.anthropic_base_url,
        input_usd_per_mtok=settings.anthropic_input_usd_per_mtok,
        output_usd_per_mtok=settings.anthropic_output_usd_per_mtok,
    )


def openai_config(settings: Settings) -> OpenAICompatibleConfig:
    """The openai-compatible extractor's own settings."""
    secret = settings.openai_api_key
    return OpenAICompatibleConfig(
        base_url=settings.openai_base_url,
        api_key=secret.get_secret_value() if secret is not None else None,
        model=settings.openai_model,
        max_tokens=settings.openai_max_tokens,
        response_format=settings.openai_response_format,
        input_usd_per_mtok=settings.openai_input_usd_per_mtok,
        output_usd_per_mtok=settings.openai_output_usd_per_mtok,
    )


def standalone_extractor(settings: Settings) -> Any:
    """The extractor ``settings`` select, built outside an app (``receiptcore eval``): the same configs as the
    container's, spend booked in the file ledger (no database pool to open and close around it).

    Raises:
        ConfigurationError: unknown extractor, or settings it cannot work with.
    """
    return load_extractor(
        settings.extractor,
        extractor_config(settings),
        llm=llm_config(settings),
        anthropic=anthropic_config(settings),
        openai=openai_config(settings),
    )


def spend_reader(settings: Settings) -> Callable[[], Decimal | None] | None:
    """Today's LLM spend from this host's file ledger for the metrics, or None in the memory profile. The reader
    returns None while no ledger file exists (no LLM extractor ran here)."""
    path = llm_config(settings).ledger_path
    if path is None:
        return None
    ledger = SpendLedger(path, settings.llm_daily_spend_cap_usd)

    def read() -> Decimal | None:
        return ledger.spent_today() if path.exists() else None

    return read


def _postgres_database(config: PostgresConfig) -> Any:
    try:
        from receiptcore.adapters.postgres.database import PostgresDatabase
    except ImportError as exc:
        raise _missing_extra(exc, "asyncpg", "postgres", "RECEIPTCORE_POSTGRES_URL") or exc from exc
    return PostgresDatabase(config)


def _postgres_user_repo(db: Any) -> Any:
    from receiptcore.adapters.postgres.user_repo import PostgresUserRepo

    return PostgresUserRepo(db)


def _postgres_throttle_store(db: Any) -> Any:
    from receiptcore.adapters.postgres.throttle_store import PostgresThrottleStore

    return PostgresThrottleStore(db)


def _postgres_spend_ledger(db: Any, cap_usd: Any) -> Any:
    from receiptcore.adapters.postgres.spend_ledger import PostgresSpendLedger

    return PostgresSpendLedger(db, cap_usd)


def _outbox_relay(db: Any, bus: EventBus) -> Any:
    from receiptcore.adapters.postgres.outbox import OutboxRelay

    return OutboxRelay(db, bus)


def _redis_event_bus(config: RedisConfig) -> Any:
    try:
        from receiptcore.adapters.redis.event_bus import RedisEventBus
    except ImportError as exc:
        raise _missing_extra(exc, "redis", "redis", "RECEIPTCORE_REDIS_URL") or exc from exc
    return RedisEventBus(config)


@runtime_checkable
class _ResubscribingBus(Protocol):
    """A bus that can lose events while disconnected and calls hooks when it subscribes again (RedisEventBus)."""

    def add_subscribe_hook(self, hook: Callable[[], object]) -> None: ...


def _authenticator(bus: EventBus, **kwargs: Any) -> Authenticator:
    """The Authenticator; on a bus that may drop events while disconnected, every (re)subscription resets its
    user-state and role caches (the cache TTLs bound staleness in between)."""
    authenticator = Authenticator(**kwargs)
    if isinstance(bus, _ResubscribingBus):
        bus.add_subscribe_hook(authenticator.reset_caches)
    return authenticator


async def _running(relay: Any) -> AsyncIterator[Any]:
    """The outbox relay as a resource: started by ``start_resources``, stopped by ``close_container``."""
    if relay is not None:
        relay.start()
    try:
        yield relay
    finally:
        if relay is not None:
            await relay.aclose()


def mongo_config(settings: Settings) -> MongoConfig:
    """The MongoDB receipt store's own configuration (no Settings reaches it)."""
    if settings.mongo_url is None:
        raise ConfigurationError("RECEIPTCORE_MONGO_URL is not set")
    return MongoConfig(
        url=settings.mongo_url.get_secret_value(),
        database=settings.mongo_database,
        timeout_seconds=settings.mongo_timeout_seconds,
        idempotency_ttl_seconds=settings.mongo_idempotency_ttl_seconds,
    )


def _import_mongo() -> None:
    """Import the driver-backed MongoDB modules; a missing ``mongo`` extra is one line naming it."""
    try:
        import receiptcore.adapters.mongo.receipt_stats
        import receiptcore.adapters.mongo.receipt_store  # noqa: F401
    except ImportError as exc:
        drivers = ("pymongo", "bson", "gridfs")
        missing = next((e for d in drivers if (e := _missing_extra(exc, d, "mongo", "RECEIPTCORE_MONGO_URL"))), None)
        raise missing or exc from exc


def _mongo_connection(config: MongoConfig) -> Any:
    """The MongoDB client (no I/O until first use; closed by ``close_container``)."""
    _import_mongo()
    from receiptcore.adapters.mongo.connection import MongoConnection

    return MongoConnection(config)


def _mongo_receipt_store(connection: Any, cursor_codec: CursorCodec) -> ReceiptStore:
    from receiptcore.adapters.mongo.receipt_store import MongoReceiptStore

    return MongoReceiptStore.on(connection, cursor_codec)


def _cursor_codec(settings: Settings) -> CursorCodec:
    secret = settings.cursor_secret.get_secret_value() if settings.cursor_secret else None
    return cursor_codec(secret, None if settings.in_memory else settings.data_dir)


def _mongo_merchant_directory(connection: Any) -> Any:
    from receiptcore.adapters.mongo.merchant_directory import MongoMerchantDirectory

    return MongoMerchantDirectory.on(connection)


def _mongo_receipt_stats(connection: Any) -> Any:
    from receiptcore.adapters.mongo.receipt_stats import MongoReceiptStats

    return MongoReceiptStats(connection.database)


def _held(opened: list[Any], adapter: Any) -> Any:
    """Record an adapter that may hold connections, pools or threads as it is built, so ``close_container``
    closes exactly what was opened (the last opened first), never building an adapter only to close it."""
    opened.append(adapter)
    return adapter


class Container(containers.DeclarativeContainer):
    """Every port bound to an adapter, every service built from ports."""

    settings = providers.Dependency(instance_of=Settings)
    backends = providers.Dependency(instance_of=dict)
    # the adapters built so far that may hold resources (``_held``), in the order they were opened
    opened: providers.Singleton[list[Any]] = providers.Singleton(list)

    clock = providers.Singleton(SystemClock)
    sqlite = providers.Singleton(_held, opened, providers.Factory(SqliteDatabase, path=settings.provided.sqlite_path))
    mongo = providers.Singleton(
        _held, opened, providers.Factory(_mongo_connection, config=providers.Singleton(mongo_config, settings))
    )
    postgres = providers.Singleton(
        _held, opened, providers.Factory(_postgres_database, config=providers.Singleton(postgres_config, settings))
    )

    user_repo = providers.Selector(
        backends.provided["users"],
        sqlite=providers.Singleton(SqliteUserRepo, db=sqlite),
        memory=providers.Singleton(MemoryUserRepo),
        postgres=providers.Singleton(_postgres_user_repo, db=postgres),
    )
    # the list cursors' MAC key: a per-install secret (issue 9)
    cursor_codec = providers.Singleton(_cursor_codec, settings)
    receipt_store = providers.Selector(
        backends.provided["receipts"],
        sqlite=providers.Singleton(
            SqliteReceiptStore,
            db=sqlite,
            files_dir=settings.provided.files_dir,
            cursor_codec=cursor_codec,
            min_free_bytes=settings.provided.max_upload_bytes,  # not ready once the largest file no longer fits
            projection=API_LISTING,  # list items rendered when written (adapters/sqlite/receipt_listing.py)
        ),
        memory=providers.Singleton(MemoryReceiptStore, cursor_codec=cursor_codec),
        mongo=providers.Singleton(_mongo_receipt_store, mongo, cursor_codec),
    )
    # the merchant directory lives with the receipts it is learned from
    merchant_directory = providers.Selector(
        backends.provided["receipts"],
        sqlite=providers.Singleton(SqliteMerchantDirectory, db=sqlite),
        memory=providers.Singleton(MemoryMerchantDirectory),
        mongo=providers.Singleton(_mongo_merchant_directory, mongo),
    )
    # login attempt counters live with the users (shared by every instance, persisted across restarts)
    throttle_store = providers.Selector(
        backends.provided["users"],
        sqlite=providers.Singleton(SqliteThrottleStore, db=sqlite),
        memory=providers.Singleton(MemoryThrottleStore),
        postgres=providers.Singleton(_postgres_throttle_store, db=postgres),
    )
    # monitoring figures of the receipt store (optional port: a backend without it has no receipt gauges)
    receipt_stats = providers.Selector(
        backends.provided["receipts"],
        sqlite=providers.Singleton(SqliteReceiptStats, db=sqlite),
        memory=providers.Singleton(MemoryReceiptStats, store=receipt_store),
        mongo=providers.Singleton(_mongo_receipt_stats, mongo),
    )
    metrics = providers.Singleton(Metrics)
    event_bus = providers.Selector(
        backends.provided["events"],
        inprocess=providers.Singleton(_held, opened, providers.Factory(InProcessEventBus)),
        redis=providers.Singleton(
            _held, opened, providers.Factory(_redis_event_bus, config=providers.Singleton(redis_config, settings))
        ),
    )
    # relays committed user events from the PostgreSQL outbox to the bus (nothing to relay elsewhere)
    outbox_relay = providers.Resource(
        _running,
        relay=providers.Selector(
            backends.provided["users"],
            postgres=providers.Singleton(_outbox_relay, db=postgres, bus=event_bus),
            sqlite=providers.Object(None),
            memory=providers.Object(None),
        ),
    )

    hasher = providers.Singleton(_password_hasher, settings)
    login_admission = providers.Singleton(_login_admission, settings)
    token_issuer = providers.Singleton(JwtTokenIssuer.from_config, providers.Singleton(token_config, settings))
    token_verifier = providers.Selector(
        backends.provided["tokens"],
        local=token_issuer,
        jwks=providers.Singleton(_held, opened, providers.Factory(_jwks_verifier, settings)),
    )
    inspector = providers.Singleton(
        PillowFileInspector,
        max_pixels=settings.provided.max_image_pixels,
        max_pages=settings.provided.max_pdf_pages,
    )
    # with PostgreSQL, the LLM daily spend cap is booked there, for every worker host together (ADR 0008)
    spend_ledger = providers.Selector(
        backends.provided["users"],
        postgres=providers.Singleton(
            _postgres_spend_ledger, db=postgres, cap_usd=settings.provided.llm_daily_spend_cap_usd
        ),
        sqlite=providers.Object(None),
        memory=providers.Object(None),
    )
    # the selected plugin gets its ExtractorConfig; the built-in extractors also their own typed configs
    extractor = providers.Singleton(
        _held,
        opened,
        providers.Factory(
            load_extractor,
            name=settings.provided.extractor,
            config=providers.Singleton(extractor_config, settings),
            shared_ledger=spend_ledger,
            llm=providers.Singleton(llm_config, settings),
            anthropic=providers.Singleton(anthropic_config, settings),
            openai=providers.Singleton(openai_config, settings),
        ),
    )
    # PDF page → PNG for the web client's review page (GET /api/receipts/{id}/pages/{n})
    page_renderer = providers.Object(render_pdf_page)

    auth_config = providers.Singleton(
        lambda s: AuthConfig(
            refresh_idle_ttl=dt.timedelta(seconds=s.refresh_idle_ttl_seconds),
            refresh_absolute_ttl=dt.timedelta(seconds=s.refresh_absolute_ttl_seconds),
            password_min_length=s.password_min_length,
        ),
        settings,
    )
    authenticator = providers.Singleton(
        _authenticator,
        bus=event_bus,
        users=user_repo,
        tokens=token_verifier,
        clock=clock,
        config=providers.Singleton(access_cache_config, auth_config),
        caches=providers.Singleton(CachetoolsCacheFactory, clock=clock),
        # the SQLite file is written by the CLI in other processes, without the bus: follow its change counter
        changes=providers.Selector(
            backends.provided["users"],
            sqlite=user_repo,
            memory=providers.Object(None),
            postgres=providers.Object(None),
        ),
    )
    login_throttle = providers.Singleton(
        LoginThrottle, store=throttle_store, clock=clock, policy=providers.Singleton(_throttle_policy, settings)
    )
    # every auth event logged (receiptcore.auth) and counted in /metrics
    auth_audit = providers.Singleton(AuthAudit, observer=metrics.provided.observe_auth_event)
    auth_service = providers.Singleton(
        AuthService,
        users=user_repo,
        hasher=hasher,
        tokens=token_issuer,
        bus=event_bus,
        clock=clock,
        config=auth_config,
        throttle=login_throttle,
        authenticator=authenticator,
        audit=auth_audit,
    )
    user_service = providers.Singleton(
        UserService, users=user_repo, hasher=hasher, bus=event_bus, clock=clock, config=auth_config, audit=auth_audit
    )
    role_service = providers.Singleton(RoleService, users=user_repo, bus=event_bus)
    preferences_service = providers.Singleton(
        PreferencesService, users=user_repo, clock=clock, install_default_currency=settings.provided.default_currency
    )
    merchant_service = providers.Singleton(
        MerchantService, directory=merchant_directory, store=receipt_store, clock=clock, bus=event_bus
    )
    receipt_service = providers.Singleton(
        ReceiptService,
        merchants=merchant_service,
        store=receipt_store,
        inspector=inspector,
        bus=event_bus,
        clock=clock,
        limits=providers.Singleton(
            lambda s: UploadLimits(
                max_bytes=s.max_upload_bytes,
                max_files=s.max_files_per_upload,
                concurrent_per_owner=s.max_concurrent_uploads_per_user,
                concurrent_total=s.max_concurrent_uploads,
                quota_bytes=s.storage_quota_bytes,
            ),
            settings,
        ),
    )
    extraction_service = providers.Singleton(
        ExtractionService,
        merchants=merchant_service,
        preferences=preferences_service,
        store=receipt_store,
        extractor=extractor,
        bus=event_bus,
        clock=clock,
        config=providers.Singleton(
            lambda s: WorkerConfig(
                lease_seconds=s.worker_lease_seconds,
                max_attempts=s.extraction_max_attempts,
                retry_base_seconds=s.extraction_retry_base_seconds,
                timeout_seconds=s.extraction_timeout_seconds,
                default_currency=s.default_currency,
            ),
            settings,
        ),
    )


def build_container(settings: Settings | None = None) -> Container:
    """A container for ``settings`` (read from the environment when None). Raises ConfigurationError."""
    settings = settings or Settings()
    backends = {family: _backend(settings, family) for family in ("users", "receipts", "events")}
    backends["tokens"] = _token_backend(settings)
    if backends["receipts"] == "mongo":
        _import_mongo()  # a missing extra stops start-up here, with one line naming it
    return Container(settings=settings, backends=backends)


async def start_resources(container: Container) -> None:
    """Start the container's background resources (the outbox relay) in the running event loop."""
    result = container.init_resources()
    if inspect.isawaitable(result):
        await result


async def close_container(container: Container) -> None:
    """Close the adapters that hold resources (connections, pools, worker threads). Safe to call twice."""
    result = container.shutdown_resources()
    if inspect.isawaitable(result):
        await result
    # what was opened, the last first: the users of the stores (bus, extractor, verifier) before the stores
    opened: list[Any] = container.opened()
    while opened:
        adapter = opened.pop()
        if isinstance(adapter, Closeable):  # the port; a plugin's aclose may be synchronous (docs/extractors.md)
            closing: object = adapter.aclose()
            if inspect.isawaitable(closing):
                await closing


async def migrate_postgres(settings: Settings) -> tuple[list[str], list[int]]:
    """``receiptcore db migrate``: apply pending PostgreSQL migrations; return (applied names, versions now).

    Raises:
        ConfigurationError: no PostgreSQL URL, or the postgres extra is missing.
        StorageUnavailable: the server cannot be reached.
    """
    config = postgres_config(settings)
    db = _postgres_database(PostgresConfig(dsn=config.dsn, min_pool_size=1, max_pool_size=1, migrate_on_start=False))
    try:
        applied = await db.migrate()
        return [f"{m.version:04d}_{m.name}" for m in applied], await db.applied_versions()
    finally:
        await db.aclose()
