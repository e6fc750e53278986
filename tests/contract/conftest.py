"""The adapters every contract test runs against: each fixture yields one per parameter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest

from receiptcore.adapters.memory.merchant_directory import MemoryMerchantDirectory
from receiptcore.adapters.memory.receipt_store import MemoryReceiptStore
from receiptcore.adapters.memory.user_repo import MemoryUserRepo
from receiptcore.adapters.mongo.merchant_directory import MongoMerchantDirectory
from receiptcore.adapters.postgres.config import PostgresConfig
from receiptcore.adapters.postgres.database import PostgresDatabase
from receiptcore.adapters.postgres.user_repo import PostgresUserRepo
from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.merchant_directory import SqliteMerchantDirectory
from receiptcore.adapters.sqlite.receipt_store import SqliteReceiptStore
from receiptcore.adapters.sqlite.user_repo import SqliteUserRepo
from receiptcore.ports import MerchantDirectory, ReceiptStore, UserRepo
from tests.servers import postgres_url
from tests.support.mongo_fixtures import MONGO_ID, MongoHarness

__all__ = ["postgres_url"]

RECEIPT_STORES = [
    pytest.param("memory_receipt_store", id="memory", marks=pytest.mark.xdist_group("memory")),
    pytest.param("sqlite_receipt_store", id="sqlite", marks=pytest.mark.xdist_group("sqlite")),
    pytest.param("mongo_receipt_store", id=MONGO_ID, marks=pytest.mark.xdist_group("mongo")),
]


@pytest.fixture(params=RECEIPT_STORES)
def store(request: pytest.FixtureRequest) -> ReceiptStore:
    """Every ReceiptStore adapter in turn, empty."""
    return cast(ReceiptStore, request.getfixturevalue(request.param))


@pytest.fixture
def memory_receipt_store() -> MemoryReceiptStore:
    return MemoryReceiptStore()


@pytest.fixture
async def sqlite_receipt_store(tmp_path: Path) -> AsyncIterator[SqliteReceiptStore]:
    db = SqliteDatabase(tmp_path / "receipts.sqlite3")
    yield SqliteReceiptStore(db, tmp_path / "files")
    await db.aclose()


MERCHANT_BACKENDS = [
    pytest.param("memory_merchant_backend", id="memory", marks=pytest.mark.xdist_group("memory")),
    pytest.param("sqlite_merchant_backend", id="sqlite", marks=pytest.mark.xdist_group("sqlite")),
    pytest.param("mongo_merchant_backend", id=MONGO_ID, marks=pytest.mark.xdist_group("mongo")),
]


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


@pytest.fixture(
    params=[
        pytest.param("memory_user_repo", id="memory"),
        pytest.param("sqlite_user_repo", id="sqlite"),
        pytest.param("postgres_user_repo", id="postgres", marks=pytest.mark.xdist_group("postgres")),
    ]
)
def repo(request: pytest.FixtureRequest) -> UserRepo:
    adapter: UserRepo = request.getfixturevalue(request.param)
    return adapter
