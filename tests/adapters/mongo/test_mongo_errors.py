"""No PyMongo exception leaves MongoReceiptStore: an unreachable server and every kind of driver failure become
``StorageUnavailable`` (503 + Retry-After at the HTTP layer), a URL the driver refuses is a one-line
ConfigurationError that does not echo the URL (it may hold a password)."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from bson.errors import InvalidDocument
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WriteConcernError,
)

from receiptcore.adapters.mongo.config import MongoConfig
from receiptcore.adapters.mongo.connection import MongoConnection
from receiptcore.adapters.mongo.receipt_store import MongoReceiptStore
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery
from receiptcore.domain.receipt import Merchant
from receiptcore.errors import ConfigurationError, StorageUnavailable
from tests.factories import T0, make_receipt
from tests.support.mongo_fixtures import MongoHarness

EVERYONE = Scope.everyone()


def _every_port_method(store: MongoReceiptStore) -> dict[str, Callable[[], Awaitable[Any]]]:
    receipt, content = make_receipt(
        merchant=Merchant(name="Shop"), purchase_date=dt.date(2026, 1, 2), total=Decimal(1), currency="EUR"
    )
    return {
        "create_indexes": store.create_indexes,
        "add": lambda: store.add(receipt, content),
        "get": lambda: store.get(receipt.id, EVERYONE),
        "open_file": lambda: store.open_file(receipt.id, EVERYONE),
        "list": lambda: store.list(ReceiptQuery(), EVERYONE),
        "update": lambda: store.update(receipt, 1),
        "delete": lambda: store.delete(receipt.id, EVERYONE),
        "claim_pending": lambda: store.claim_pending("w", T0, T0 + dt.timedelta(minutes=5)),
        "find_matching": lambda: store.find_matching(receipt),
        "summarize": lambda: store.summarize(ReceiptQuery(), EVERYONE),
        "recall_idempotency": lambda: store.recall_idempotency("o", "k"),
        "remember_idempotency": lambda: store.remember_idempotency("o", "k", "fp", []),
    }


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def unreachable() -> AsyncIterator[MongoReceiptStore]:
    # the real driver against a port nobody listens on: what a MongoDB outage looks like from the receipt API
    url = f"mongodb://127.0.0.1:{_closed_port()}/?directConnection=true"
    connection = MongoConnection(MongoConfig(url=url, database="unreachable", timeout_seconds=0.2))
    yield MongoReceiptStore.on(connection)
    await connection.aclose()


async def test_every_method_on_an_unreachable_server_is_storage_unavailable(unreachable: MongoReceiptStore) -> None:
    for name, call in _every_port_method(unreachable).items():
        with pytest.raises(StorageUnavailable) as caught:
            await call()
        assert not isinstance(caught.value, PyMongoError), name
        assert isinstance(caught.value.__cause__, ServerSelectionTimeoutError), name
        assert "cannot be reached" in caught.value.detail, name


class _Failing:
    """A collection or bucket whose every operation raises ``error`` (cursors too, when they are read)."""

    def __init__(self, error: BaseException) -> None:
        self._error = error

    def __getattr__(self, name: str) -> Any:
        error = self._error

        class Cursor:
            async def to_list(self, length: int | None = None) -> list[Any]:
                raise error

        async def operation(*args: Any, **kwargs: Any) -> Any:
            raise error

        def cursor(*args: Any, **kwargs: Any) -> Cursor:
            return Cursor()

        return cursor if name == "find" else operation


DRIVER_ERRORS = [
    AutoReconnect("connection reset"),
    ServerSelectionTimeoutError("no primary"),
    NetworkTimeout("timed out"),
    ConnectionFailure("refused"),
    OperationFailure("not authorized", code=13),
    ExecutionTimeout("operation exceeded time limit", code=50),
    WriteConcernError("waiting for replication timed out", code=64),
    InvalidDocument("cannot encode object"),
]


@pytest.mark.parametrize("error", DRIVER_ERRORS, ids=lambda e: type(e).__name__)
async def test_no_driver_exception_escapes_any_method(harness: MongoHarness, error: BaseException) -> None:
    store = harness.store
    await store.create_indexes()
    store._receipts = _Failing(error)  # type: ignore[assignment]
    store._idempotency = _Failing(error)  # type: ignore[assignment]
    store._files = _Failing(error)  # type: ignore[assignment]
    for name, call in _every_port_method(store).items():
        if name == "create_indexes":
            continue
        with pytest.raises(StorageUnavailable) as caught:
            await call()
        assert caught.value.__cause__ is error, name


def test_a_url_the_driver_refuses_is_a_one_line_configuration_error_without_the_url() -> None:
    with pytest.raises(ConfigurationError) as caught:
        MongoConnection(MongoConfig(url="http://user:s3cret@db.example/receipts"))
    assert "s3cret" not in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "RECEIPTCORE_MONGO_URL" in str(caught.value)


async def test_the_database_comes_from_the_config_then_the_url_then_the_default() -> None:
    named = MongoConnection(MongoConfig(url="mongodb://127.0.0.1:1/fromurl", database="explicit"))
    from_url = MongoConnection(MongoConfig(url="mongodb://127.0.0.1:1/fromurl"))
    default = MongoConnection(MongoConfig(url="mongodb://127.0.0.1:1"))
    connections = (named, from_url, default)
    assert [c.database.name for c in connections] == ["explicit", "fromurl", "receiptcore"]
    for connection in connections:
        await connection.aclose()
