"""An in-process stand-in for PyMongo's ``AsyncCollection``: the operations MongoReceiptStore and its tests use.

Every document is stored as it comes back from a BSON round trip (``bson.encode``/``bson.decode`` with the
client's codec options), so what the server cannot store fails here too (a Python ``Decimal`` is InvalidDocument),
datetimes lose sub-millisecond digits and come back timezone-aware, and callers never share state with the store.
Each operation is atomic with respect to the others (no ``await`` inside a change), as single-document operations
are on a server; each first yields to the event loop once, so concurrent callers really interleave.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import bson
from bson import ObjectId
from pymongo import IndexModel, ReturnDocument
from pymongo.errors import DocumentTooLarge, DuplicateKeyError, OperationFailure, ServerSelectionTimeoutError
from pymongo.results import DeleteResult, InsertOneResult, UpdateResult

from tests.support.mongo_emulation.aggregation import run_pipeline
from tests.support.mongo_emulation.semantics import (
    MISSING,
    UnsupportedByEmulation,
    apply_update,
    array_sort_key,
    get_path,
    matches,
    project,
    sort_key,
)

if TYPE_CHECKING:
    from tests.support.mongo_emulation.client import EmulatedDatabase

MAX_BSON_SIZE = 16 * 1024 * 1024
Sort = list[tuple[str, int]]


class EmulatedCursor:
    """The part of ``AsyncCursor`` in use: ``sort``, ``limit``, ``skip``, ``to_list`` and ``async for``."""

    def __init__(
        self,
        produce: Callable[[Sort | None, int, int], list[dict[str, Any]]],
        sort: Sort | None = None,
        limit: int = 0,
        skip: int = 0,
    ) -> None:
        self._produce = produce
        self._sort = sort
        self._limit = limit
        self._skip = skip

    def sort(self, key: str | Sort, direction: int = 1) -> EmulatedCursor:
        self._sort = [(key, direction)] if isinstance(key, str) else list(key)
        return self

    def limit(self, limit: int) -> EmulatedCursor:
        self._limit = limit
        return self

    def skip(self, skip: int) -> EmulatedCursor:
        self._skip = skip
        return self

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        await asyncio.sleep(0)
        found = self._produce(self._sort, self._limit, self._skip)
        return found if length is None else found[:length]

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        for document in await self.to_list(None):
            yield document


class EmulatedCollection:
    """Documents in insertion order, indexes by name (``_id_`` always), unique indexes enforced, TTL indexes
    applied on every access (a server's TTL monitor removes expired documents within about a minute)."""

    def __init__(self, database: EmulatedDatabase, name: str) -> None:
        self.database = database
        self.name = name
        self.full_name = f"{database.name}.{name}"
        self._documents: list[dict[str, Any]] = []
        self._indexes: dict[str, dict[str, Any]] = {"_id_": {"key": {"_id": 1}, "unique": True}}
        self._faults: list[tuple[str, int, BaseException]] = []

    # ---- fault injection (tests only; a server would need failCommand fail points) ----

    def fail_next(self, operation: str, error: BaseException, *, after_calls: int = 0) -> None:
        """Make the ``after_calls``+1-th next call of ``operation`` (e.g. ``"insert_one"``) raise ``error``."""
        self._faults.append((operation, after_calls, error))

    async def _enter(self, operation: str) -> None:
        await asyncio.sleep(0)
        if self.database.client.unreachable:
            raise ServerSelectionTimeoutError("emulated MongoDB is unreachable (test switch), Timeout: 0.2s")
        for index, (name, remaining, error) in enumerate(self._faults):
            if name == operation:
                if remaining == 0:
                    del self._faults[index]
                    raise error
                self._faults[index] = (name, remaining - 1, error)
                break
        self._expire()

    # ---- writes ----

    async def insert_one(self, document: dict[str, Any]) -> InsertOneResult:
        await self._enter("insert_one")
        document.setdefault("_id", ObjectId())  # the driver adds _id to the caller's dict too
        stored = self._encode(document)
        self._check_unique(stored, ignore=None)
        self._documents.append(stored)
        return InsertOneResult(stored["_id"], acknowledged=True)

    async def update_one(self, query: dict[str, Any], update: dict[str, Any], upsert: bool = False) -> UpdateResult:
        await self._enter("update_one")
        target = self._first(query, None)
        if target is None:
            if not upsert:
                return UpdateResult({"n": 0, "nModified": 0, "ok": 1.0}, acknowledged=True)
            stored = self._upsert(query, update)
            return UpdateResult({"n": 1, "nModified": 0, "upserted": stored["_id"], "ok": 1.0}, acknowledged=True)
        changed = self._updated(target, update)
        modified = changed != target
        self._replace(target, changed)
        return UpdateResult({"n": 1, "nModified": int(modified), "ok": 1.0}, acknowledged=True)

    async def find_one_and_update(
        self,
        query: dict[str, Any],
        update: dict[str, Any],
        projection: Any = None,
        *,
        sort: Sort | None = None,
        upsert: bool = False,
        return_document: bool = ReturnDocument.BEFORE,
    ) -> dict[str, Any] | None:
        await self._enter("find_one_and_update")
        target = self._first(query, sort)
        if target is None:
            if not upsert:
                return None
            inserted = self._upsert(query, update)
            return project(self._copy(inserted), projection) if return_document == ReturnDocument.AFTER else None
        changed = self._updated(target, update)
        self._replace(target, changed)
        chosen = changed if return_document == ReturnDocument.AFTER else target
        return project(self._copy(chosen), projection)

    async def find_one_and_delete(
        self, query: dict[str, Any], projection: Any = None, sort: Sort | None = None
    ) -> dict[str, Any] | None:
        await self._enter("find_one_and_delete")
        target = self._first(query, sort)
        if target is None:
            return None
        self._documents.remove(target)
        return project(self._copy(target), projection)

    async def delete_one(self, query: dict[str, Any]) -> DeleteResult:
        await self._enter("delete_one")
        target = self._first(query, None)
        if target is not None:
            self._documents.remove(target)
        return DeleteResult({"n": int(target is not None), "ok": 1.0}, acknowledged=True)

    async def delete_many(self, query: dict[str, Any]) -> DeleteResult:
        await self._enter("delete_many")
        doomed = [d for d in self._documents if matches(d, query)]
        self._documents = [d for d in self._documents if not matches(d, query)]
        return DeleteResult({"n": len(doomed), "ok": 1.0}, acknowledged=True)

    # ---- reads ----

    def find(
        self,
        query: dict[str, Any] | None = None,
        projection: Any = None,
        *,
        sort: Sort | None = None,
        limit: int = 0,
        skip: int = 0,
    ) -> EmulatedCursor:
        def produce(order: Sort | None, count: int, offset: int) -> list[dict[str, Any]]:
            if self.database.client.unreachable:
                raise ServerSelectionTimeoutError("emulated MongoDB is unreachable (test switch), Timeout: 0.2s")
            self._expire()
            found = self._sorted([d for d in self._documents if matches(d, query)], order)[offset:]
            found = found[:count] if count else found
            return [project(self._copy(d), projection) for d in found]

        return EmulatedCursor(produce, sort, limit, skip)

    async def find_one(
        self, query: dict[str, Any] | None = None, projection: Any = None, sort: Sort | None = None
    ) -> dict[str, Any] | None:
        await self._enter("find_one")
        target = self._first(query, sort)
        return None if target is None else project(self._copy(target), projection)

    async def count_documents(self, query: dict[str, Any]) -> int:
        await self._enter("count_documents")
        return sum(1 for d in self._documents if matches(d, query))

    async def aggregate(self, pipeline: list[dict[str, Any]]) -> EmulatedCursor:
        await self._enter("aggregate")
        documents = [self._copy(d) for d in self._documents]
        result = run_pipeline(documents, pipeline)
        return EmulatedCursor(lambda _sort, _limit, _skip: result)

    # ---- indexes ----

    async def create_indexes(self, models: list[IndexModel]) -> list[str]:
        await self._enter("create_indexes")
        names = []
        for model in models:
            spec = dict(model.document)
            name = spec.pop("name")
            spec["key"] = dict(spec["key"])
            existing = self._indexes.get(name)
            if existing is not None:
                if existing != spec:
                    raise OperationFailure(
                        f"An existing index has the same name as the requested index: {name}", code=86
                    )
            else:
                for other, other_spec in self._indexes.items():
                    if other_spec["key"] == spec["key"] and other_spec != spec:
                        raise OperationFailure(f"Index already exists with a different name: {other}", code=85)
                if spec.get("unique"):
                    seen: set[Any] = set()
                    for document in self._documents:
                        key = _index_key(document, spec["key"])
                        if key in seen:
                            raise DuplicateKeyError(
                                f"E11000 duplicate key error collection: {self.full_name} index: {name}", code=11000
                            )
                        seen.add(key)
                self._indexes[name] = spec
            names.append(name)
        return names

    async def create_index(self, keys: Sort, **options: Any) -> str:
        return (await self.create_indexes([IndexModel(keys, **options)]))[0]

    async def index_information(self) -> dict[str, dict[str, Any]]:
        await self._enter("index_information")
        return {name: {"v": 2, **spec, "key": list(spec["key"].items())} for name, spec in self._indexes.items()}

    async def list_indexes(self) -> EmulatedCursor:
        await self._enter("list_indexes")
        listed = [{"v": 2, "name": name, **spec} for name, spec in self._indexes.items()]
        return EmulatedCursor(lambda _sort, _limit, _skip: [dict(d) for d in listed])

    def modify_index(self, name: str, expire_after_seconds: int) -> None:
        """``collMod`` of a TTL index (called by EmulatedDatabase.command)."""
        if name not in self._indexes or "expireAfterSeconds" not in self._indexes[name]:
            raise OperationFailure(f"cannot find a TTL index named {name}", code=27)
        self._indexes[name]["expireAfterSeconds"] = expire_after_seconds

    # ---- internals ----

    def _encode(self, document: dict[str, Any]) -> dict[str, Any]:
        raw = bson.encode(document)  # raises InvalidDocument for what BSON cannot hold, as the driver does
        if len(raw) > MAX_BSON_SIZE:
            raise DocumentTooLarge(f"BSON document too large ({len(raw)} bytes)")
        return bson.decode(raw, codec_options=self.database.client.codec_options)

    def _copy(self, document: dict[str, Any]) -> dict[str, Any]:
        return bson.decode(bson.encode(document), codec_options=self.database.client.codec_options)

    def _first(self, query: dict[str, Any] | None, sort: Sort | None) -> dict[str, Any] | None:
        found = self._sorted([d for d in self._documents if matches(d, query)], sort)
        return found[0] if found else None

    @staticmethod
    def _sorted(documents: list[dict[str, Any]], sort: Sort | None) -> list[dict[str, Any]]:
        # Python's sort is stable, so each key can be applied from the last to the first
        for field, direction in reversed(sort or []):
            if direction not in (1, -1):
                raise UnsupportedByEmulation(f"sort direction {direction!r}")
            documents.sort(
                key=lambda d, f=field, r=direction < 0: array_sort_key(get_path(d, f), r), reverse=direction < 0
            )
        return documents

    def _upsert(self, query: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
        """Insert what an upsert inserts: the query's top-level equality fields, then the update applied (a unique
        index still refuses it: an upsert whose filter missed an existing ``_id`` raises DuplicateKeyError)."""
        seed = {k: v for k, v in query.items() if not k.startswith("$") and not _is_operator_document(v)}
        apply_update(seed, update, inserting=True)
        seed.setdefault("_id", ObjectId())
        stored = self._encode(seed)
        self._check_unique(stored, ignore=None)
        self._documents.append(stored)
        return stored

    def _updated(self, target: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
        changed = self._copy(target)
        apply_update(changed, update)
        changed = self._encode(changed)
        self._check_unique(changed, ignore=target)
        return changed

    def _replace(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self._documents[self._documents.index(old)] = new

    def _check_unique(self, document: dict[str, Any], ignore: dict[str, Any] | None) -> None:
        for name, spec in self._indexes.items():
            if not spec.get("unique"):
                continue
            key = _index_key(document, spec["key"])
            for other in self._documents:
                if other is not ignore and _index_key(other, spec["key"]) == key:
                    value = {f: get_path(document, f) for f in spec["key"]}
                    value = {f: (None if v is MISSING else v) for f, v in value.items()}
                    raise DuplicateKeyError(
                        f"E11000 duplicate key error collection: {self.full_name} index: {name} dup key: {value}",
                        code=11000,
                        details={"index": 0, "code": 11000, "keyPattern": spec["key"], "keyValue": value},
                    )

    def _expire(self) -> None:
        now = self.database.client.clock()
        for spec in self._indexes.values():
            seconds = spec.get("expireAfterSeconds")
            if seconds is None:
                continue
            (field,) = spec["key"]
            cutoff = now - dt.timedelta(seconds=seconds)
            self._documents = [d for d in self._documents if not _expired(get_path(d, field), cutoff)]


def _is_operator_document(value: Any) -> bool:
    return isinstance(value, dict) and any(str(k).startswith("$") for k in value)


def _index_key(document: dict[str, Any], key: dict[str, Any]) -> tuple[Any, ...]:
    # a unique index treats a missing field as null, so two documents without it collide
    return tuple(sort_key(None if (v := get_path(document, f)) is MISSING else v) for f in key)


def _expired(value: Any, cutoff: dt.datetime) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(isinstance(v, dt.datetime) and v <= cutoff for v in values)
