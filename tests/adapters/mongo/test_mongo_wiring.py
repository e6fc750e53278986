"""RECEIPTCORE_MONGO_URL in the composition root and through HTTP: the Selector picks MongoReceiptStore with its
own config, shutdown closes the client, a missing extra is one line naming it, an unreachable MongoDB makes
readiness and receipt requests 503 with Retry-After, and the API works end to end on the Mongo store."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from receiptcore.adapters.mongo.connection import MongoConnection
from receiptcore.adapters.mongo.merchant_directory import MongoMerchantDirectory
from receiptcore.adapters.mongo.receipt_store import MongoReceiptStore
from receiptcore.entrypoints.container import build_container, close_container
from receiptcore.entrypoints.http.app import create_app
from receiptcore.errors import ConfigurationError
from tests.api.conftest import Api, jpeg, make_container, make_settings
from tests.support.mongo_fixtures import MongoHarness


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"mongodb://127.0.0.1:{probe.getsockname()[1]}/?directConnection=true"


async def test_a_mongo_url_selects_the_mongo_store_with_its_own_config_and_shutdown_closes_it(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, mongo_url="mongodb://127.0.0.1:1/vault", mongo_timeout_seconds=3, mongo_idempotency_ttl_seconds=120
    )
    container = build_container(settings)
    assert container.backends()["receipts"] == "mongo"
    assert isinstance(container.receipt_store(), MongoReceiptStore)
    connection = container.mongo()
    assert isinstance(connection, MongoConnection)
    assert connection.database.name == "vault"
    assert (connection.config.timeout_seconds, connection.config.idempotency_ttl_seconds) == (3, 120)
    assert container.receipt_service()._store is container.receipt_store()
    await close_container(container)
    assert connection.client._closed


def test_a_missing_mongo_extra_is_one_line_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "pymongo" or m.startswith(("pymongo.", "receiptcore.adapters.mongo"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pymongo", None)  # makes `import pymongo` raise ImportError
    with pytest.raises(ConfigurationError) as caught:
        build_container(make_settings(tmp_path, mongo_url="mongodb://127.0.0.1:1"))
    assert "\n" not in str(caught.value)
    assert "receiptcore[mongo]" in str(caught.value)


async def test_an_unreachable_mongodb_is_not_ready_and_receipt_requests_are_503_with_retry_after(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, mongo_url=_closed_port_url(), mongo_timeout_seconds=0.2)
    container = make_container(settings)
    async with AsyncTestClient(app=create_app(container)) as client:
        api = Api(client=client, container=container, settings=settings)
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.headers["retry-after"]
        assert ready.json()["checks"]["receipts"] == "unavailable"
        assert ready.json()["checks"]["users"] == "ok"
        _, headers = await api.user()
        for response in (
            await client.get("/api/receipts", headers=headers),
            await api.upload(headers, ("a.jpg", jpeg())),
        ):
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"]
            assert response.json()["type"].endswith("/storage-unavailable")


@pytest.fixture
async def mongo_api(tmp_path: Path, harness: MongoHarness) -> Any:
    settings = make_settings(tmp_path, mongo_url="mongodb://127.0.0.1:1")
    container = make_container(settings)
    container.receipt_store.override(providers.Object(harness.store))
    # the merchant directory lives beside the receipts, on the same (emulated) database
    container.merchant_directory.override(providers.Object(MongoMerchantDirectory(harness.database)))
    async with AsyncTestClient(app=create_app(container)) as client:
        yield Api(client=client, container=container, settings=settings)


async def test_upload_extract_list_and_download_through_the_api_on_the_mongo_store(mongo_api: Api) -> None:
    _, headers = await mongo_api.user()
    content = jpeg()
    uploaded = await mongo_api.upload(headers, ("shop.jpg", content))
    assert uploaded.status_code == 202, uploaded.text
    rid = uploaded.json()["receipts"][0]["id"]
    again = await mongo_api.upload(headers, ("again.jpg", content))
    assert again.status_code == 200, again.text
    assert again.json()["receipts"][0]["id"] == rid
    await mongo_api.extract_all()
    listed = (await mongo_api.client.get("/api/receipts", headers=headers)).json()
    assert [item["id"] for item in listed["items"]] == [rid]
    assert listed["items"][0]["status"] != "pending"
    download = await mongo_api.client.get(f"/api/receipts/{rid}/file", headers=headers)
    assert download.status_code == 200
    assert download.content == content
