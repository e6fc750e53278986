"""The indexes of the MongoDB receipt store, created idempotently when a store is first used.

Every listing index starts with ``owner_id`` (the scope of a member's every query) and ends with ``_id`` (the
keyset cursor's tie-breaker); the same sorts without the owner serve scopes across owners (``receipts:read:any``).
docs/operations.md lists them with the queries they serve; a test asserts they exist.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from receiptcore.adapters.mongo.receipt_documents import FILES_BUCKET, IDEMPOTENCY, RECEIPTS

TTL_INDEX = "created_ttl"


def receipt_indexes() -> list[IndexModel]:
    """Every index of the receipts collection: each list filter and sort, under the owner scope and without it
    (a ``receipts:read:any`` scope), the claim queue, duplicate detection and the shared file lookup."""

    def index(name: str, *fields: str, unique: bool = False) -> IndexModel:
        return IndexModel([(field, ASCENDING) for field in fields], name=name, unique=unique)

    return [
        index("owner_sha256_unique", "owner_id", "sha256", unique=True),
        index("owner_created", "owner_id", "created_at", "_id"),
        index("owner_purchase_date", "owner_id", "purchase_date", "_id"),
        index("owner_total", "owner_id", "total", "_id"),
        index("owner_status_created", "owner_id", "status", "created_at", "_id"),
        index("owner_category_created", "owner_id", "category", "created_at", "_id"),
        index("owner_tags_created", "owner_id", "tags", "created_at", "_id"),
        index("owner_matching", "owner_id", "merchant_key", "purchase_date", "total"),
        index("created", "created_at", "_id"),
        index("purchase_date", "purchase_date", "_id"),
        index("total", "total", "_id"),
        index("claim_queue", "status", "created_at", "_id"),
    ]


def idempotency_indexes(ttl_seconds: int) -> list[IndexModel]:
    """The idempotency records: one per (owner, key), removed by MongoDB ``ttl_seconds`` after they were made."""
    return [
        IndexModel([("owner_id", ASCENDING), ("key", ASCENDING)], name="owner_key_unique", unique=True),
        IndexModel([("created_at", ASCENDING)], name=TTL_INDEX, expireAfterSeconds=ttl_seconds),
    ]


async def create_indexes(database: AsyncDatabase[Any], ttl_seconds: int) -> None:
    """Create the receipt, idempotency and GridFS indexes; creating an existing index is a no-op, and a TTL that
    changed since the index was made is applied with ``collMod`` (a plain create would be refused)."""
    await database[RECEIPTS].create_indexes(receipt_indexes())
    unique, ttl = idempotency_indexes(ttl_seconds)
    idempotency = database[IDEMPOTENCY]
    await idempotency.create_indexes([unique])
    current = (await idempotency.index_information()).get(TTL_INDEX)
    if current is None:
        await idempotency.create_indexes([ttl])
    elif current.get("expireAfterSeconds") != ttl_seconds:
        await database.command("collMod", IDEMPOTENCY, index={"name": TTL_INDEX, "expireAfterSeconds": ttl_seconds})
    # the indexes the GridFS spec asks for (the driver would add them on the first upload)
    chunks = database[f"{FILES_BUCKET}.chunks"]
    await chunks.create_index([("files_id", ASCENDING), ("n", ASCENDING)], name="files_id_1_n_1", unique=True)
    files = database[f"{FILES_BUCKET}.files"]
    await files.create_index([("filename", ASCENDING), ("uploadDate", ASCENDING)], name="filename_1_uploadDate_1")
