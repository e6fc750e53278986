"""MongoMerchantDirectory: the MerchantDirectory port on MongoDB, one document per entry in ``merchants``.

A document holds the entry under ``entry`` (``MerchantEntry.model_dump(mode="json")``) and, beside it, ``owner_id``,
``key`` and ``version`` to filter, to compare-and-set, and to enforce with the unique index ``owner_key_unique``
that an owner's entries have distinct keys. Each write is one single-document operation, atomic on the server.
"""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from receiptcore.adapters.mongo.connection import MongoConnection, translated
from receiptcore.domain.merchants import MerchantEntry
from receiptcore.domain.policy import Scope
from receiptcore.errors import Conflict, NotFound, VersionConflict
from receiptcore.ports import MerchantDirectory

MERCHANTS = "merchants"


def merchant_indexes() -> list[IndexModel]:
    """The unique (owner, key) index and the owner listing index."""
    return [
        IndexModel([("owner_id", ASCENDING), ("key", ASCENDING)], name="owner_key_unique", unique=True),
        IndexModel([("owner_id", ASCENDING), ("_id", ASCENDING)], name="owner_id"),
    ]


def _scope_filter(scope: Scope) -> dict[str, Any]:
    return {} if scope.owner_ids is None else {"owner_id": {"$in": sorted(scope.owner_ids)}}


def _document(entry: MerchantEntry) -> dict[str, Any]:
    return {
        "_id": entry.id,
        "owner_id": entry.owner_id,
        "key": entry.key,
        "version": entry.version,
        "entry": entry.model_dump(mode="json"),
    }


def _entry(document: dict[str, Any]) -> MerchantEntry:
    return MerchantEntry.model_validate(document["entry"])


class MongoMerchantDirectory(MerchantDirectory):
    """Merchant entries in the ``merchants`` collection; indexes are created idempotently on first use.

    Args:
        database: the receipt database (``AsyncDatabase``).
    """

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self._collection = database[MERCHANTS]
        self._indexes_ready = False
        self._indexes_lock = asyncio.Lock()

    @classmethod
    def on(cls, connection: MongoConnection) -> MongoMerchantDirectory:
        """The directory on ``connection``'s database."""
        return cls(connection.database)

    async def entries(self, owner_id: str) -> builtins.list[MerchantEntry]:
        """Every entry of ``owner_id``, ordered by id."""
        return await self._find({"owner_id": owner_id}, limit=0)

    async def list(self, scope: Scope, *, limit: int = 100, after: str | None = None) -> builtins.list[MerchantEntry]:
        """Entries inside ``scope`` by id, after ``after``, at most ``limit``."""
        if limit <= 0:
            return []
        query = _scope_filter(scope)
        if after is not None:
            query["_id"] = {"$gt": after}
        return await self._find(query, limit=limit)

    async def get(self, entry_id: str, scope: Scope) -> MerchantEntry:
        """The entry; NotFound when absent or outside ``scope``."""
        await self._ready()
        with translated("read a merchant"):
            document = await self._collection.find_one({"_id": entry_id, **_scope_filter(scope)})
        if document is None:
            raise NotFound(f"merchant {entry_id} not found")
        return _entry(document)

    async def add(self, entry: MerchantEntry) -> None:
        """Store a new entry; Conflict on a taken id or owner key (the unique indexes decide)."""
        await self._ready()
        try:
            with translated("store a merchant", keep=(DuplicateKeyError,)):
                await self._collection.insert_one(_document(entry))
        except DuplicateKeyError:
            raise Conflict(f"the merchant {entry.name!r} already exists") from None

    async def save(self, entry: MerchantEntry, expected_version: int) -> MerchantEntry:
        """Compare-and-set with one ``update_one`` filtered on id, owner and version."""
        await self._ready()
        stored = entry.model_copy(update={"version": expected_version + 1})
        document = _document(stored)
        del document["_id"]
        try:
            with translated("store a merchant", keep=(DuplicateKeyError,)):
                result = await self._collection.update_one(
                    {"_id": entry.id, "owner_id": entry.owner_id, "version": expected_version}, {"$set": document}
                )
        except DuplicateKeyError:
            raise Conflict(f"another merchant is already named {entry.name!r}") from None
        if result.matched_count == 0:
            with translated("read a merchant"):
                current = await self._collection.find_one({"_id": entry.id, "owner_id": entry.owner_id})
            if current is None:
                raise NotFound(f"merchant {entry.id} not found")
            version = int(current["version"])
            raise VersionConflict(
                f"merchant {entry.id} is at version {version}, not {expected_version}", current_version=version
            )
        return stored

    async def delete(self, entry_id: str, scope: Scope) -> None:
        """Delete the entry; NotFound when absent or outside ``scope``."""
        await self._ready()
        with translated("delete a merchant"):
            result = await self._collection.delete_one({"_id": entry_id, **_scope_filter(scope)})
        if result.deleted_count == 0:
            raise NotFound(f"merchant {entry_id} not found")

    async def _find(self, query: dict[str, Any], *, limit: int) -> builtins.list[MerchantEntry]:
        await self._ready()
        with translated("list merchants"):
            cursor = self._collection.find(query).sort([("_id", ASCENDING)])
            if limit:
                cursor = cursor.limit(limit)
            documents = await cursor.to_list(None)
        return [_entry(d) for d in documents]

    async def _ready(self) -> None:
        if self._indexes_ready:
            return
        async with self._indexes_lock:
            if not self._indexes_ready:
                with translated("create the merchant indexes"):
                    await self._collection.create_indexes(merchant_indexes())
                self._indexes_ready = True
