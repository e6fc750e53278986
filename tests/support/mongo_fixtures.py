"""Fixtures of the MongoDB adapter's tests: a real server when ``RECEIPTCORE_TEST_MONGO_URL`` is set, else the
in-process emulation (tests/support/mongo_emulation, a stand-in). ``MONGO_ID`` (``mongo:server`` or
``mongo:emulated``) is the parameter id, so every test's name says which one ran; the pytest header says it too.

Each test gets its own database (``receiptcore_test_<random>``), dropped afterwards, so tests run in any order and
in parallel against one server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from receiptcore.adapters.mongo.config import MongoConfig
from receiptcore.adapters.mongo.connection import MongoConnection
from receiptcore.adapters.mongo.receipt_documents import FILES_BUCKET
from receiptcore.adapters.mongo.receipt_store import MongoReceiptStore
from tests.support.mongo_emulation import EmulatedGridFSBucket, EmulatedMongoClient

MONGO_URL = os.environ.get("RECEIPTCORE_TEST_MONGO_URL") or None
MONGO_MODE = "server" if MONGO_URL else "emulated"
MONGO_ID = f"mongo:{MONGO_MODE}"
TTL_SECONDS = 3600
requires_emulation = pytest.mark.skipif(
    MONGO_URL is not None, reason="injects faults into the in-process emulation (a server needs fail points)"
)


def mongo_header() -> str:
    """The pytest header line saying which MongoDB the suites run on."""
    if MONGO_URL:
        return "mongo: real server from RECEIPTCORE_TEST_MONGO_URL (param id mongo:server)"
    return (
        "mongo: in-process emulation of AsyncMongoClient, a stand-in (param id mongo:emulated); "
        "set RECEIPTCORE_TEST_MONGO_URL to run on a real server"
    )


@dataclass
class MongoHarness:
    """A store on a fresh database, with the database and bucket beside it for tests that look underneath."""

    store: MongoReceiptStore
    database: Any
    files: Any
    emulated: bool

    def new_store(self, ttl_seconds: int = TTL_SECONDS) -> MongoReceiptStore:
        """Another store on the same database (another process, or a restart with other settings)."""
        return MongoReceiptStore(self.database, self.files, idempotency_ttl_seconds=ttl_seconds)

    async def stored_files(self) -> tuple[int, int]:
        """How many GridFS files documents and chunks the bucket holds."""
        files = await self.database[f"{FILES_BUCKET}.files"].count_documents({})
        chunks = await self.database[f"{FILES_BUCKET}.chunks"].count_documents({})
        return files, chunks


@pytest.fixture
async def mongo_harness() -> AsyncIterator[MongoHarness]:
    name = f"receiptcore_test_{uuid.uuid4().hex[:16]}"
    if MONGO_URL:
        from gridfs import AsyncGridFSBucket

        connection = MongoConnection(MongoConfig(url=MONGO_URL, database=name, timeout_seconds=10))
        bucket = AsyncGridFSBucket(connection.database, bucket_name=FILES_BUCKET)
        store = MongoReceiptStore(connection.database, bucket, idempotency_ttl_seconds=TTL_SECONDS)
        try:
            yield MongoHarness(store, connection.database, bucket, emulated=False)
        finally:
            await connection.client.drop_database(name)
            await connection.aclose()
        return
    client = EmulatedMongoClient()
    database = client[name]
    # small chunks, so that a file of a few KiB spans several chunks and a half-finished upload is possible
    bucket = EmulatedGridFSBucket(database, bucket_name=FILES_BUCKET, chunk_size_bytes=1024)
    store = MongoReceiptStore(database, bucket, idempotency_ttl_seconds=TTL_SECONDS)
    yield MongoHarness(store, database, bucket, emulated=True)
    await client.close()


@pytest.fixture
def mongo_receipt_store(mongo_harness: MongoHarness) -> MongoReceiptStore:
    return mongo_harness.store
