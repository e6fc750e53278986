"""The adapters every contract suite runs against, one parameter list per port.

Each list holds one ``pytest.param`` per adapter: the name of the fixture that builds it, an id (the test name
says which adapter ran) and an xdist group (under ``--dist loadgroup`` every test of one backend runs on one
worker, so a server is never shared by two workers' tests at once and the embedded ones stay together). The
port's fixture (``store``, ``store_with_stats``, ``merchant_backend``, ``repo``, ``throttle_store``, ``bus``,
``spend_books``) picks the adapter with ``request.getfixturevalue``; no fixture branches on the adapter. Adding
an adapter = one fixture building it plus one ``pytest.param`` in its port's list.

Fixtures of servers (``postgres_url``, ``redis_prefix``) come from tests/servers.py: a fresh database or key
prefix per test, a skip when the server does not answer, a failure under ``CI=true``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol, cast

import pytest

from receiptcore.adapters.extractors.llm.budget import FileSpendBook, SpendBook, SpendLedger
from receiptcore.adapters.memory.event_bus import InProcessEventBus
from receiptcore.adapters.memory.merchant_directory import MemoryMerchantDirectory
from receiptcore.adapters.memory.receipt_stats import MemoryReceiptStats
from receiptcore.adapters.memory.receipt_store import MemoryReceiptStore
from receiptcore.adapters.memory.throttle_store import MemoryThrottleStore
from receiptcore.adapters.memory.user_repo import MemoryUserRepo
from receiptcore.adapters.mongo.merchant_directory import MongoMerchantDirectory
from receiptcore.adapters.mongo.receipt_stats import MongoReceiptStats
from receiptcore.adapters.postgres.config import PostgresConfig
from receiptcore.adapters.postgres.database import PostgresDatabase
from receiptcore.adapters.postgres.spend_ledger import PostgresSpendLedger
from receiptcore.adapters.postgres.throttle_store import PostgresThrottleStore
from receiptcore.adapters.postgres.user_repo import PostgresUserRepo
from receiptcore.adapters.redis.config import RedisConfig
from receiptcore.adapters.redis.event_bus import RedisEventBus
from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.merchant_directory import SqliteMerchantDirectory
from receiptcore.adapters.sqlite.receipt_stats import SqliteReceiptStats
from receiptcore.adapters.sqlite.receipt_store import SqliteReceiptStore
from receiptcore.adapters.sqlite.throttle_store import SqliteThrottleStore
from receiptcore.adapters.sqlite.user_repo import SqliteUserRepo
from receiptcore.entrypoints.http.representation import API_LISTING
from receiptcore.ports import EventBus, MerchantDirectory, ReceiptStats, ReceiptStore, ThrottleStore, UserRepo
from tests.servers import REDIS_URL, postgres_url, redis_prefix
from tests.support.mongo_fixtures import MONGO_ID, MongoHarness

__all__ = ["postgres_url", "redis_prefix"]


def _adapter(fixture: str, adapter_id: str, group: str) -> object:
    return pytest.param(fixture, id=adapter_id, marks=pytest.mark.xdist_group(group))


RECEIPT_STORES = [
    _adapter("memory_receipt_store", "memory", "memory"),
    _adapter("sqlite_receipt_store", "sqlite", "sqlite"),
    # as the container builds it: each receipt's list item rendered when it is written (receipt_listing)
    _adapter("sqlite_rendering_receipt_store", "sqlite-rendering", "sqlite"),
    _adapter("mongo_receipt_store", MONGO_ID, "mongo"),
]
RECEIPT_STATS = [
    _adapter("memory_receipt_stats", "memory", "memory"),
    _adapter("sqlite_receipt_stats", "sqlite", "sqlite"),
    _adapter("mongo_receipt_stats", MONGO_ID, "mongo"),
]
USER_REPOS = [
    _adapter("memory_user_repo", "memory", "memory"),
    _adapter("sqlite_user_repo", "sqlite", "sqlite"),
    _adapter("postgres_user_repo", "postgres", "postgres"),
]
THROTTLE_STORES = [
    _adapter("memory_throttle_store", "memory", "memory"),
    _adapter("sqlite_throttle_store", "sqlite", "sqlite"),
    _adapter("postgres_throttle_store", "postgres", "postgres"),
]
EVENT_BUSES = [
    _adapter("inprocess_bus", "inprocess", "memory"),
    _adapter("redis_bus", "redis", "redis"),
]
MERCHANT_BACKENDS = [
    _adapter("memory_merchant_backend", "memory", "memory"),
    _adapter("sqlite_merchant_backend", "sqlite", "sqlite"),
    _adapter("mongo_merchant_backend", MONGO_ID, "mongo"),
]
SPEND_BOOKS = [
    _adapter("file_spend_books", "file", "file"),
    _adapter("postgres_spend_books", "postgres", "postgres"),
]

# the events a bus buffers per subscriber before it drops the oldest (small, so the contract can overflow it)
BUS_QUEUE_SIZE = 4


# --- ReceiptStore -----------------------------------------------------------------------------------------------


@pytest.fixture(params=RECEIPT_STORES)
def store(request: pytest.FixtureRequest) -> ReceiptStore:
    """Every ReceiptStore adapter in turn, empty."""
    return cast(ReceiptStore, request.getfixturevalue(request.param))


@pytest.fixture
def memory_receipt_store() -> MemoryReceiptStore:
    return MemoryReceiptStore()


@pytest.fixture
async def sqlite_receipts_db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    db = SqliteDatabase(tmp_path / "receipts.sqlite3")
    yield db
    await db.aclose()


@pytest.fixture
def sqlite_receipt_store(sqlite_receipts_db: SqliteDatabase, tmp_path: Path) -> SqliteReceiptStore:
    return SqliteReceiptStore(sqlite_receipts_db, tmp_path / "files")


@pytest.fixture
def sqlite_rendering_receipt_store(sqlite_receipts_db: SqliteDatabase, tmp_path: Path) -> SqliteReceiptStore:
    return SqliteReceiptStore(sqlite_receipts_db, tmp_path / "files", projection=API_LISTING)


# mongo_receipt_store: tests/support/mongo_fixtures.py (a real server or the in-process emulation)


# --- ReceiptStats (beside a ReceiptStore) -----------------------------------------------------------------------


@dataclass
class StoreWithStats:
    """A receipt store and the ReceiptStats adapter reading the same receipts."""

    store: ReceiptStore
    stats: ReceiptStats


@pytest.fixture(params=RECEIPT_STATS)
def store_with_stats(request: pytest.FixtureRequest) -> StoreWithStats:
    """Every ReceiptStats adapter in turn, beside its empty store."""
    return cast(StoreWithStats, request.getfixturevalue(request.param))


@pytest.fixture
def memory_receipt_stats(memory_receipt_store: MemoryReceiptStore) -> StoreWithStats:
    return StoreWithStats(memory_receipt_store, MemoryReceiptStats(memory_receipt_store))


@pytest.fixture
def sqlite_receipt_stats(
    sqlite_receipt_store: SqliteReceiptStore, sqlite_receipts_db: SqliteDatabase
) -> StoreWithStats:
    return StoreWithStats(sqlite_receipt_store, SqliteReceiptStats(sqlite_receipts_db))


@pytest.fixture
def mongo_receipt_stats(mongo_harness: MongoHarness) -> StoreWithStats:
    return StoreWithStats(mongo_harness.store, MongoReceiptStats(mongo_harness.database))


# --- UserRepo ---------------------------------------------------------------------------------------------------


@pytest.fixture(params=USER_REPOS)
def repo(request: pytest.FixtureRequest) -> UserRepo:
    """Every UserRepo adapter in turn, empty."""
    return cast(UserRepo, request.getfixturevalue(request.param))


@pytest.fixture
def memory_user_repo() -> UserRepo:
    return MemoryUserRepo()


@pytest.fixture
async def sqlite_user_repo(tmp_path: Path) -> AsyncIterator[UserRepo]:
    db = SqliteDatabase(tmp_path / "users.sqlite3")
    yield SqliteUserRepo(db)
    await db.aclose()


@pytest.fixture
async def postgres_user_repo(postgres_url: str) -> AsyncIterator[UserRepo]:
    db = PostgresDatabase(PostgresConfig(dsn=postgres_url, max_pool_size=5))
    yield PostgresUserRepo(db)
    await db.aclose()


# --- MerchantDirectory (with the receipt store of the same backend) --------------------------------------------


@pytest.fixture(params=MERCHANT_BACKENDS)
def merchant_backend(request: pytest.FixtureRequest) -> tuple[MerchantDirectory, ReceiptStore]:
    """Every MerchantDirectory adapter in turn, empty, with the receipt store of the same backend."""
    return cast(tuple[MerchantDirectory, ReceiptStore], request.getfixturevalue(request.param))


@pytest.fixture
def memory_merchant_backend() -> tuple[MerchantDirectory, ReceiptStore]:
    return MemoryMerchantDirectory(), MemoryReceiptStore()


@pytest.fixture
async def sqlite_merchant_backend(tmp_path: Path) -> AsyncIterator[tuple[MerchantDirectory, ReceiptStore]]:
    db = SqliteDatabase(tmp_path / "receipts.sqlite3")
    yield SqliteMerchantDirectory(db), SqliteReceiptStore(db, tmp_path / "files")
    await db.aclose()


@pytest.fixture
def mongo_merchant_backend(mongo_harness: MongoHarness) -> tuple[MerchantDirectory, ReceiptStore]:
    return MongoMerchantDirectory(mongo_harness.database), mongo_harness.store


# --- ThrottleStore ----------------------------------------------------------------------------------------------


@pytest.fixture(params=THROTTLE_STORES)
def throttle_store(request: pytest.FixtureRequest) -> ThrottleStore:
    """Every ThrottleStore adapter in turn, empty."""
    return cast(ThrottleStore, request.getfixturevalue(request.param))


@pytest.fixture
def memory_throttle_store() -> MemoryThrottleStore:
    return MemoryThrottleStore()


@pytest.fixture
async def sqlite_throttle_store(tmp_path: Path) -> AsyncIterator[SqliteThrottleStore]:
    db = SqliteDatabase(tmp_path / "throttle.sqlite3")
    yield SqliteThrottleStore(db)
    await db.aclose()


@pytest.fixture
async def postgres_throttle_store(postgres_url: str) -> AsyncIterator[PostgresThrottleStore]:
    db = PostgresDatabase(PostgresConfig(dsn=postgres_url, max_pool_size=5))
    yield PostgresThrottleStore(db)
    await db.aclose()


# --- EventBus ---------------------------------------------------------------------------------------------------


class CountingBus(EventBus, Protocol):
    """What both buses expose beside the port, for health reports: open local subscriptions, events dropped."""

    @property
    def subscriber_count(self) -> int: ...

    dropped: int

    async def aclose(self) -> None: ...


@pytest.fixture(params=EVENT_BUSES)
def bus(request: pytest.FixtureRequest) -> CountingBus:
    """Every EventBus adapter in turn, buffering ``BUS_QUEUE_SIZE`` events per subscriber."""
    return cast(CountingBus, request.getfixturevalue(request.param))


@pytest.fixture
async def inprocess_bus() -> AsyncIterator[InProcessEventBus]:
    adapter = InProcessEventBus(queue_size=BUS_QUEUE_SIZE)
    yield adapter
    await adapter.aclose()


@pytest.fixture
async def redis_bus(redis_prefix: str) -> AsyncIterator[RedisEventBus]:
    adapter = RedisEventBus(RedisConfig(url=REDIS_URL, prefix=redis_prefix, queue_size=BUS_QUEUE_SIZE))
    yield adapter
    await adapter.aclose()


# --- SpendBook (the LLM daily spend cap) ------------------------------------------------------------------------

Now = Callable[[], dt.datetime]


class SpendBooks(Protocol):
    """Spend books sharing one record, as the worker hosts (or processes) of one install do."""

    def open(self, cap_usd: Decimal | None, now: Now) -> SpendBook:
        """Another host's book on the shared record, with its own cap and clock."""
        ...

    async def spent_today(self, now: Now) -> Decimal:
        """USD booked on the shared record on ``now()``'s UTC day, reservations included."""
        ...


@dataclass
class FileSpendBooks:
    """Processes sharing one data dir: each opens the same ledger file."""

    path: Path

    def open(self, cap_usd: Decimal | None, now: Now) -> SpendBook:
        return FileSpendBook(SpendLedger(self.path, cap_usd, now=now))

    async def spent_today(self, now: Now) -> Decimal:
        return SpendLedger(self.path, None, now=now).spent_today()


@dataclass
class PostgresSpendBooks:
    """Worker hosts sharing one database."""

    db: PostgresDatabase

    def open(self, cap_usd: Decimal | None, now: Now) -> SpendBook:
        return PostgresSpendLedger(self.db, cap_usd, now=now)

    async def spent_today(self, now: Now) -> Decimal:
        return await PostgresSpendLedger(self.db, None, now=now).spent_today()


@pytest.fixture(params=SPEND_BOOKS)
def spend_books(request: pytest.FixtureRequest) -> SpendBooks:
    """Every SpendBook adapter in turn, on an empty record."""
    return cast(SpendBooks, request.getfixturevalue(request.param))


@pytest.fixture
def file_spend_books(tmp_path: Path) -> FileSpendBooks:
    return FileSpendBooks(tmp_path / "llm-spend.json")


@pytest.fixture
async def postgres_spend_books(postgres_url: str) -> AsyncIterator[PostgresSpendBooks]:
    db = PostgresDatabase(PostgresConfig(dsn=postgres_url, max_pool_size=5))
    yield PostgresSpendBooks(db)
    await db.aclose()
