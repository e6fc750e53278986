"""The MongoDB behaviour MongoReceiptStore relies on, checked against whichever MongoDB the suite runs on.

On a real server (``mongo:server``) these pin down the server semantics the adapter's queries assume; on the
in-process emulation (``mongo:emulated``) they show the stand-in agrees with the server on exactly those points, so
a green contract suite on the emulation means something. Each case is written as the server behaves (MongoDB
manual: comparison/sort order, query on null or missing fields, unique indexes, update operators).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from bson.decimal128 import Decimal128
from bson.errors import InvalidDocument
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure, WriteError

from tests.support.mongo_fixtures import MongoHarness


@pytest.fixture
async def things(harness: MongoHarness) -> Any:
    collection = harness.database["things"]
    documents = [
        {"_id": "a", "n": Decimal128("10.00"), "s": "2026-01-02", "tags": ["x", "y"], "v": 1},
        {"_id": "b", "n": Decimal128("9.5"), "s": None, "tags": [], "v": 1},
        {"_id": "c", "n": 100, "s": "2026-01-10", "tags": ["y"], "v": 1},
        {"_id": "d", "n": None, "tags": ["z"], "v": 1},  # no "s" at all
        {"_id": "e", "n": Decimal128("-1"), "s": "2025-12-31", "tags": ["x"], "v": 1},
    ]
    for document in documents:
        await collection.insert_one(document)
    return collection


async def _ids(cursor: Any) -> list[str]:
    return [d["_id"] for d in await cursor.to_list(None)]


async def test_decimal128_and_integers_compare_and_sort_as_numbers(things: Any) -> None:
    assert await _ids(things.find({"n": {"$ne": None}}, sort=[("n", ASCENDING)])) == ["e", "b", "a", "c"]
    assert await _ids(things.find({"n": {"$gte": Decimal128("9.50")}}, sort=[("_id", ASCENDING)])) == ["a", "b", "c"]
    assert await _ids(things.find({"n": Decimal128("10")})) == ["a"]
    assert await _ids(things.find({"n": 100})) == ["c"]


async def test_null_matches_missing_fields_and_sorts_before_values(things: Any) -> None:
    assert await _ids(things.find({"s": None}, sort=[("_id", ASCENDING)])) == ["b", "d"]
    assert await _ids(things.find({"s": {"$ne": None}}, sort=[("_id", ASCENDING)])) == ["a", "c", "e"]
    ascending = await _ids(things.find({}, sort=[("s", ASCENDING), ("_id", ASCENDING)]))
    assert ascending[:2] == ["b", "d"]
    descending = await _ids(things.find({}, sort=[("s", DESCENDING), ("_id", DESCENDING)]))
    assert descending == ["c", "a", "e", "d", "b"]


async def test_range_operators_are_type_bracketed(things: Any) -> None:
    # a string bound never matches a null, a missing field or a number
    assert await _ids(things.find({"s": {"$lte": "9999"}}, sort=[("_id", ASCENDING)])) == ["a", "c", "e"]
    assert await _ids(things.find({"n": {"$gte": "0"}})) == []


async def test_an_array_field_matches_any_element(things: Any) -> None:
    assert await _ids(things.find({"tags": "x"}, sort=[("_id", ASCENDING)])) == ["a", "e"]
    assert await _ids(things.find({"$and": [{"tags": "y"}, {"n": {"$lt": 50}}]})) == ["a"]


async def test_escaped_regex_is_a_literal_substring_match(harness: MongoHarness) -> None:
    collection = harness.database["texts"]
    await collection.insert_one({"_id": 1, "t": "ramen 100%_spicy (hot) a.b*c"})
    import re

    for probe, found in [("0%_", True), ("(hot)", True), ("a.b*c", True), ("a.bxc", False), ("RAMEN", False)]:
        assert (await collection.count_documents({"t": {"$regex": re.escape(probe)}}) == 1) is found, probe


async def test_a_unique_index_raises_duplicate_key_error_on_insert_and_update(harness: MongoHarness) -> None:
    collection = harness.database["uniq"]
    await collection.create_indexes([IndexModel([("o", ASCENDING), ("h", ASCENDING)], name="o_h", unique=True)])
    await collection.insert_one({"_id": 1, "o": "x", "h": "1"})
    await collection.insert_one({"_id": 2, "o": "x", "h": "2"})
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"_id": 3, "o": "x", "h": "1"})
    with pytest.raises(DuplicateKeyError):
        await collection.insert_one({"_id": 1, "o": "y", "h": "9"})
    with pytest.raises(DuplicateKeyError):
        await collection.update_one({"_id": 2}, {"$set": {"h": "1"}})
    assert (await collection.find_one({"_id": 2}) or {})["h"] == "2"


async def test_creating_the_same_index_twice_is_fine_but_a_changed_one_under_the_same_name_is_refused(
    harness: MongoHarness,
) -> None:
    collection = harness.database["idx"]
    model = IndexModel([("a", ASCENDING)], name="a")
    await collection.create_indexes([model])
    await collection.create_indexes([model])
    with pytest.raises(OperationFailure):
        await collection.create_indexes([IndexModel([("a", ASCENDING)], name="a", unique=True)])


async def test_find_one_and_update_sorts_sets_dotted_paths_and_returns_the_old_document(things: Any) -> None:
    before = await things.find_one_and_update(
        {"n": {"$ne": None}},
        {"$set": {"sub.k": "set"}, "$inc": {"v": 1}},
        sort=[("n", DESCENDING)],
        return_document=ReturnDocument.BEFORE,
    )
    assert before is not None
    assert (before["_id"], before["v"], "sub" in before) == ("c", 1, False)
    after = await things.find_one({"_id": "c"})
    assert after is not None
    assert (after["v"], after["sub"]) == (2, {"k": "set"})
    with pytest.raises(WriteError):
        await things.update_one({"_id": "a"}, {"$set": {"sub": {}, "sub.k": 1}})


async def test_concurrent_find_one_and_update_claims_each_document_once(harness: MongoHarness) -> None:
    collection = harness.database["queue"]
    for i in range(10):
        await collection.insert_one({"_id": i, "state": "pending"})
    claimed = await asyncio.gather(
        *(
            collection.find_one_and_update(
                {"state": "pending"}, {"$set": {"state": f"w{w}"}}, sort=[("_id", ASCENDING)]
            )
            for w in range(25)
        )
    )
    ids = [d["_id"] for d in claimed if d is not None]
    assert sorted(ids) == list(range(10))


async def test_bson_cannot_hold_a_python_decimal_and_cuts_datetimes_to_milliseconds(harness: MongoHarness) -> None:
    collection = harness.database["types"]
    with pytest.raises(InvalidDocument):
        await collection.insert_one({"_id": 1, "x": Decimal("1.5")})
    moment = dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
    await collection.insert_one({"_id": 2, "t": moment})
    stored = await collection.find_one({"_id": 2})
    assert stored is not None
    assert stored["t"] == moment.replace(microsecond=123000)


async def test_group_sums_decimal128_exactly(things: Any) -> None:
    rows = await (
        await things.aggregate([{"$match": {"n": {"$ne": None}}}, {"$group": {"_id": None, "t": {"$sum": "$n"}}}])
    ).to_list(None)
    assert rows[0]["t"].to_decimal() == Decimal("118.5")
