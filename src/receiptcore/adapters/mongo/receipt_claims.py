"""The fair claim order of ``MongoReceiptStore.claim_pending`` (ports.ReceiptStore): first attempts before retries,
then round robin by owner, then the oldest.

One ``find_one_and_update`` cannot sort by a value kept in another collection, so a claim is three steps: group the
claimable receipts by owner (first attempts; retries only when there are none), pick the owner whose last claim
is the oldest in the ``claim_turns`` collection (never served: first), then claim that owner's oldest receipt with
the usual atomic ``find_one_and_update``. A concurrent worker may win that receipt meanwhile: then the next owner
is tried, and at worst any claimable receipt is taken, so fairness can slip under a race but a claim never waits.
The turn counter is one document incremented atomically (``$inc``), so turns are strictly ordered across workers.
"""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from receiptcore.adapters.mongo.receipt_documents import claimable_filter

TURNS = "claim_turns"
_COUNTER = "#counter"  # not a user id (those are UUIDs)
_TRIED_OWNERS = 3

Filter = dict[str, Any]


def _first_attempts(at: str, retries: bool) -> Filter:
    kind: Filter = {"next_attempt_at": {"$ne": None}} if retries else {"next_attempt_at": None}
    return {"$and": [claimable_filter(at), kind]}


async def claim_filters(
    receipts: AsyncCollection[Any], turns: AsyncCollection[Any], at: str, worker_id: str
) -> list[Filter]:
    """The filters to try in order: the worker's own dead lease, then one per owner (least recently served
    first), first attempts before retries, then any claimable receipt."""
    own: Filter = {"status": "processing", "receipt.lease_owner": worker_id}
    if await receipts.find_one(own, {"_id": 1}) is not None:
        return [own]
    for retries in (False, True):
        where = _first_attempts(at, retries)
        pipeline = [{"$match": where}, {"$group": {"_id": "$owner_id", "oldest": {"$min": "$created_at"}}}]
        groups = await (await receipts.aggregate(pipeline)).to_list(None)
        if not groups:
            continue
        owners = [group["_id"] for group in groups]
        served = {doc["_id"]: doc["turn"] for doc in await turns.find({"_id": {"$in": owners}}).to_list(None)}
        groups.sort(key=lambda group: (served.get(group["_id"], 0), group["oldest"], group["_id"]))
        return [{"$and": [where, {"owner_id": g["_id"]}]} for g in groups[:_TRIED_OWNERS]] + [claimable_filter(at)]
    return []


async def take_turn(turns: AsyncCollection[Any], owner_id: str) -> None:
    """Make ``owner_id`` the most recently served owner."""
    counter = await turns.find_one_and_update(
        {"_id": _COUNTER}, {"$inc": {"turn": 1}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    turn = counter["turn"] if counter is not None else 1  # upserted with AFTER: never None in practice
    await turns.update_one({"_id": owner_id}, {"$set": {"turn": turn}}, upsert=True)
