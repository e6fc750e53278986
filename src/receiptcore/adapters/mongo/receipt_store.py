"""MongoReceiptStore: the ReceiptStore port on MongoDB, parsed receipts in a collection, original files in GridFS.

Writing a receipt is two steps MongoDB cannot make one (GridFS takes no part in transactions): the file is
uploaded first under a fresh id, then the receipt document that references it is inserted. If the insert fails,
the file is deleted again, unless a look-up shows the insert did land (a lost reply), so the outcome is either
both or neither; only when MongoDB becomes unreachable between the two steps can an unreferenced file stay behind,
never a receipt without its file. Deleting goes the other way round: the receipt first, then its file.

Each receipt has its own GridFS file: duplicates are refused per owner (unique ``owner_id, sha256``), so bytes are
shared only between owners, and not sharing them keeps "is this file still referenced?" out of every delete.
"""

from __future__ import annotations

import asyncio
import builtins
import datetime as dt
import logging
from typing import Any

from bson import ObjectId
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pydantic import TypeAdapter
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from receiptcore.adapters.mongo import receipt_claims as claims
from receiptcore.adapters.mongo import receipt_documents as docs
from receiptcore.adapters.mongo.connection import MongoConnection, translated
from receiptcore.adapters.mongo.indexes import create_indexes
from receiptcore.adapters.mongo.receipt_summary import summarize
from receiptcore.adapters.receipt_queries import (
    CursorCodec,
    CursorPosition,
    fold,
    iso_utc,
    quota_message,
    sort_column,
    sort_value,
)
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import Page, ReceiptQuery, SpendingSummary
from receiptcore.domain.receipt import Receipt, ReceiptStatus, SourceFile
from receiptcore.errors import Conflict, NotFound, QuotaExceeded, StorageUnavailable, VersionConflict
from receiptcore.ports import ReceiptStore

log = logging.getLogger(__name__)
_JSON_TIME: TypeAdapter[dt.datetime] = TypeAdapter(dt.datetime)
# reads need only the receipt itself, not the index fields beside it (``search`` repeats the raw text)
_RECEIPT_ONLY = {"receipt": 1}


class MongoReceiptStore(ReceiptStore):
    """Receipts in the ``receipts`` collection, files in the ``receipt_files`` GridFS bucket, idempotency records
    in ``receipt_idempotency`` (TTL). Indexes are created idempotently on first use (or by ``create_indexes``).

    Args:
        database: the receipt database (``AsyncDatabase``).
        files: the GridFS bucket of original files (``AsyncGridFSBucket`` on ``database``).
        idempotency_ttl_seconds: how long idempotency records are kept (the TTL index's ``expireAfterSeconds``).
    """

    def __init__(
        self,
        database: AsyncDatabase[dict[str, Any]],
        files: AsyncGridFSBucket,
        *,
        idempotency_ttl_seconds: int,
        cursor_codec: CursorCodec | None = None,
    ) -> None:
        self._database = database
        self._cursors = cursor_codec or CursorCodec()
        self._receipts = database[docs.RECEIPTS]
        self._idempotency = database[docs.IDEMPOTENCY]
        self._turns = database[claims.TURNS]
        self._files = files
        self._ttl_seconds = idempotency_ttl_seconds
        self._indexes_ready = False
        self._indexes_lock = asyncio.Lock()

    @classmethod
    def on(cls, connection: MongoConnection, cursor_codec: CursorCodec | None = None) -> MongoReceiptStore:
        """The store on ``connection``'s database, with its GridFS bucket."""
        bucket = AsyncGridFSBucket(connection.database, bucket_name=docs.FILES_BUCKET)
        return cls(
            connection.database,
            bucket,
            idempotency_ttl_seconds=connection.config.idempotency_ttl_seconds,
            cursor_codec=cursor_codec,
        )

    async def create_indexes(self) -> None:
        """Create every index the queries need (idempotent; a changed TTL is applied with ``collMod``)."""
        with translated("create the receipt indexes"):
            await create_indexes(self._database, self._ttl_seconds)

    async def add(self, receipt: Receipt, content: bytes, *, quota_bytes: int | None = None) -> tuple[Receipt, bool]:
        """Store a new receipt and its file (file first), or return the owner's existing receipt with the same
        sha256.

        The quota is checked twice: before the upload (a cheap refusal), and after the insert, counting every
        receipt of the owner then stored; over it, the receipt and its file are removed again. Of two concurrent
        adds, the later check of at least one sees both, so they never stay over the quota together (both may be
        refused); the receipt over quota exists for the moment between insert and removal only.
        """
        await self._ready()
        existing = await self._find_same_file(receipt)
        if existing is not None:
            return existing, False
        if quota_bytes is not None:
            used = await self._owner_bytes(receipt.owner_id)
            if used + receipt.source.size > quota_bytes:
                raise QuotaExceeded(quota_message(used, receipt.source.size, quota_bytes))
        file_id = ObjectId()
        metadata = {"receipt_id": receipt.id, "owner_id": receipt.owner_id, "media_type": receipt.source.media_type}
        try:
            with translated("store a receipt", keep=(DuplicateKeyError,)):
                await self._files.upload_from_stream_with_id(file_id, receipt.source.sha256, content, metadata=metadata)
                await self._receipts.insert_one(docs.to_document(receipt, file_id))
        except DuplicateKeyError:
            await self._undo_upload(receipt.id, file_id)
            # a concurrent upload of the same bytes by the same owner won the unique (owner_id, sha256) index
            existing = await self._find_same_file(receipt)
            if existing is not None and existing.id != receipt.id:
                return existing, False
            raise Conflict(f"receipt {receipt.id} already exists") from None
        except BaseException as exc:
            stored = await asyncio.shield(self._undo_upload(receipt.id, file_id))
            if not stored or not isinstance(exc, StorageUnavailable):
                raise
            log.info("receipt %s was stored although its insert reported an error", receipt.id)
        if quota_bytes is not None:
            used = await self._owner_bytes(receipt.owner_id)
            if used > quota_bytes:
                with translated("remove a receipt over quota"):
                    await self._receipts.delete_one({"_id": receipt.id})
                await self._undo_upload(receipt.id, file_id)
                raise QuotaExceeded(quota_message(used - receipt.source.size, receipt.source.size, quota_bytes))
        return receipt, True

    async def _owner_bytes(self, owner_id: str) -> int:
        """The ``source.size`` of every receipt ``owner_id`` has stored, summed by the server."""
        pipeline: builtins.list[dict[str, Any]] = [
            {"$match": {"owner_id": owner_id}},
            {"$group": {"_id": None, "bytes": {"$sum": "$receipt.source.size"}}},
        ]
        with translated("sum an owner's stored bytes"):
            rows = await (await self._receipts.aggregate(pipeline)).to_list(None)
        return int(rows[0]["bytes"]) if rows else 0

    async def get(self, receipt_id: str, scope: Scope) -> Receipt:
        """Return the receipt; NotFound when absent or outside ``scope``."""
        return docs.to_receipt(await self._visible(receipt_id, scope))

    async def open_file(self, receipt_id: str, scope: Scope) -> tuple[SourceFile, bytes]:
        """Return the original file's metadata and bytes from GridFS; NotFound when absent or outside ``scope``."""
        document = await self._visible(receipt_id, scope)
        receipt = docs.to_receipt(document)
        try:
            with translated("read a receipt file", keep=(NoFile,)):
                stream = await self._files.open_download_stream(document["file_id"])
                content = await stream.read()
        except NoFile as exc:
            with translated("read a receipt"):
                still_there = await self._receipts.find_one({"_id": receipt_id}, projection={"_id": 1})
            if still_there is None:  # deleted meanwhile
                raise NotFound(f"receipt {receipt_id} not found") from None
            raise StorageUnavailable(f"the file of receipt {receipt_id} is missing from GridFS") from exc
        return receipt.source, bytes(content)

    async def list(self, query: ReceiptQuery, scope: Scope) -> Page[Receipt]:
        """One page in ``query.sort`` order, NULLs last, id as tie-breaker: receipts with a sort value first (one
        index range), then those without (by id), so both parts walk the same ``(…, field, _id)`` index."""
        position = self._cursors.decode(query.cursor, query.sort) if query.cursor else None
        await self._ready()
        base = docs.list_filter(query, scope)
        wanted = query.limit + 1
        found: builtins.list[dict[str, Any]] = []
        with translated("list receipts"):
            if position is None or position.value is not None:
                after = docs.after_present(position) if position is not None else {}
                where = docs.combine(base, docs.present(query.sort), after)
                page = self._receipts.find(where, _RECEIPT_ONLY, sort=docs.sort_spec(query.sort), limit=wanted)
                found = await page.to_list(None)
            if len(found) < wanted and sort_column(query.sort) != "created_at":
                after = docs.after_missing(position) if position is not None and position.value is None else {}
                where = docs.combine(base, docs.missing(query.sort), after)
                rest = self._receipts.find(
                    where, _RECEIPT_ONLY, sort=docs.id_sort(query.sort), limit=wanted - len(found)
                )
                found += await rest.to_list(None)
        items = [docs.to_receipt(document) for document in found[: query.limit]]
        next_cursor = None
        if len(found) > query.limit:
            last = items[-1]
            next_cursor = self._cursors.encode(CursorPosition(query.sort, sort_value(last, query.sort), last.id))
        return Page[Receipt](items=items, next_cursor=next_cursor)

    async def update(self, receipt: Receipt, expected_version: int) -> Receipt:
        """Compare-and-set on ``version`` in one ``update_one``; the stored copy gets ``expected_version + 1``."""
        await self._ready()
        stored = receipt.model_copy(update={"version": expected_version + 1})
        change = {"$set": {**docs.derived_fields(stored), "receipt": docs.receipt_data(stored)}}
        try:
            with translated("update a receipt", keep=(DuplicateKeyError,)):
                result = await self._receipts.update_one({"_id": receipt.id, "version": expected_version}, change)
                current = None
                if result.matched_count == 0:
                    current = await self._receipts.find_one({"_id": receipt.id}, projection={"version": 1})
        except DuplicateKeyError as exc:
            raise Conflict(f"another receipt of this owner already has the file {receipt.source.sha256}") from exc
        if result.matched_count == 0:
            if current is None:
                raise NotFound(f"receipt {receipt.id} not found")
            version = int(current["version"])
            raise VersionConflict(
                f"receipt {receipt.id} is at version {version}, not {expected_version}", current_version=version
            )
        return stored

    async def delete(self, receipt_id: str, scope: Scope) -> None:
        """Delete the receipt, then its GridFS file."""
        await self._ready()
        with translated("delete a receipt"):
            document = await self._receipts.find_one_and_delete(
                {"_id": receipt_id, **docs.scope_filter(scope)}, projection={"file_id": 1}
            )
        if document is None:
            raise NotFound(f"receipt {receipt_id} not found")
        try:
            await self._files.delete(document["file_id"])
        except NoFile:
            pass
        except PyMongoError:
            # the receipt is gone, which is what was asked; its file stays unreferenced
            log.warning("the file %s of deleted receipt %s could not be deleted", document["file_id"], receipt_id)

    async def claim_pending(self, worker_id: str, now: dt.datetime, lease_until: dt.datetime) -> Receipt | None:
        """Take a claimable receipt in the port's fair order (``receipt_claims``) with a ``find_one_and_update``
        (the server serialises concurrent claims of one document, so two workers never get the same receipt)."""
        await self._ready()
        until = _JSON_TIME.dump_python(lease_until, mode="json")
        claim = {
            "status": ReceiptStatus.PROCESSING.value,
            "lease_until": iso_utc(lease_until),
            "receipt.status": ReceiptStatus.PROCESSING.value,
            "receipt.lease_owner": worker_id,
            "receipt.lease_until": until,
        }
        before = None
        with translated("claim a receipt"):
            for where in await claims.claim_filters(self._receipts, self._turns, iso_utc(now), worker_id):
                before = await self._receipts.find_one_and_update(
                    where,
                    {"$set": claim, "$inc": {"version": 1, "receipt.version": 1}},
                    sort=[("created_at", ASCENDING), ("_id", ASCENDING)],
                    return_document=ReturnDocument.BEFORE,
                )
                if before is not None:
                    break
            if before is None:
                return None
            await claims.take_turn(self._turns, before["owner_id"])
        claimed = docs.to_receipt(before).claimed_by(worker_id, lease_until)
        applied = {**before["receipt"], "status": claim["status"], "lease_owner": worker_id, "lease_until": until}
        applied["version"] = before["receipt"]["version"] + 1
        if applied != docs.receipt_data(claimed):
            # the domain's claim changed more than the fields set above: store its whole result (we hold the lease)
            with translated("claim a receipt"):
                await self._receipts.update_one(
                    {"_id": claimed.id, "version": claimed.version},
                    {"$set": {**docs.derived_fields(claimed), "receipt": docs.receipt_data(claimed)}},
                )
        return claimed

    async def find_matching(self, receipt: Receipt) -> builtins.list[str]:
        """Ids of the owner's other receipts with the same merchant name, date, total and currency."""
        name = fold(receipt.merchant.name)
        if not name or receipt.purchase_date is None or receipt.total is None or receipt.currency is None:
            return []
        await self._ready()
        where = {
            "owner_id": receipt.owner_id,
            "merchant_key": name,
            "purchase_date": receipt.purchase_date.isoformat(),
            "total": docs.decimal128(receipt.total),
            "currency": receipt.currency,
            "_id": {"$ne": receipt.id},
        }
        with translated("find matching receipts"):
            found = await self._receipts.find(where, projection={"_id": 1}, sort=[("_id", ASCENDING)]).to_list(None)
        return [document["_id"] for document in found]

    async def summarize(self, query: ReceiptQuery, scope: Scope) -> SpendingSummary:
        """Totals by month, category and merchant, per currency, summed by the server in Decimal128."""
        await self._ready()
        with translated("summarise receipts"):
            return await summarize(self._receipts, docs.list_filter(query, scope))

    async def recall_idempotency(self, owner_id: str, key: str) -> tuple[str, builtins.list[str]] | None:
        """The remembered (fingerprint, receipt ids) for this owner and key, or None."""
        await self._ready()
        with translated("read an idempotency record"):
            record = await self._idempotency.find_one({"owner_id": owner_id, "key": key})
        return (record["fingerprint"], builtins.list(record["receipt_ids"])) if record else None

    async def remember_idempotency(
        self, owner_id: str, key: str, fingerprint: str, receipt_ids: builtins.list[str]
    ) -> None:
        """Remember an idempotent request's outcome; the first record for a key wins (unique index)."""
        await self._ready()
        record = {
            "owner_id": owner_id,
            "key": key,
            "fingerprint": fingerprint,
            "receipt_ids": builtins.list(receipt_ids),
            "created_at": dt.datetime.now(dt.UTC),
        }
        try:
            with translated("store an idempotency record", keep=(DuplicateKeyError,)):
                await self._idempotency.insert_one(record)
        except DuplicateKeyError:
            pass

    async def _ready(self) -> None:
        """Create the indexes once per store (retried on the next call if MongoDB was unreachable)."""
        if self._indexes_ready:
            return
        async with self._indexes_lock:
            if not self._indexes_ready:
                await self.create_indexes()
                self._indexes_ready = True

    async def _visible(self, receipt_id: str, scope: Scope) -> dict[str, Any]:
        await self._ready()
        with translated("read a receipt"):
            document = await self._receipts.find_one(
                {"_id": receipt_id, **docs.scope_filter(scope)}, projection={"receipt": 1, "file_id": 1}
            )
        if document is None:
            raise NotFound(f"receipt {receipt_id} not found")
        return document

    async def _find_same_file(self, receipt: Receipt) -> Receipt | None:
        with translated("look up a receipt"):
            document = await self._receipts.find_one(
                {"owner_id": receipt.owner_id, "sha256": receipt.source.sha256}, projection=_RECEIPT_ONLY
            )
        return docs.to_receipt(document) if document is not None else None

    async def _undo_upload(self, receipt_id: str, file_id: ObjectId) -> bool:
        """After a failed insert: True when the receipt was stored after all (keep the file), else delete the
        file (also the chunks of a half-finished upload) and return False."""
        try:
            stored = await self._receipts.find_one({"_id": receipt_id, "file_id": file_id}, projection={"_id": 1})
            if stored is not None:
                return True
            await self._files.delete(file_id)
        except NoFile:
            pass
        except PyMongoError:
            log.warning("could not remove the file %s of receipt %s that failed to store", file_id, receipt_id)
        return False
