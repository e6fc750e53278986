"""The aggregation stages the emulation runs: ``$match``, ``$group`` (``$sum``, ``$min``, ``$max``, ``$first``,
``$last``, ``$push``), ``$sort``, ``$limit``, ``$count``. Anything else raises UnsupportedByEmulation."""

from __future__ import annotations

from typing import Any

from pymongo.errors import OperationFailure

from tests.support.mongo_emulation.semantics import (
    MISSING,
    UnsupportedByEmulation,
    add_numbers,
    array_sort_key,
    evaluate,
    get_path,
    matches,
    sort_key,
    type_rank,
)


def run_pipeline(documents: list[dict[str, Any]], pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The documents an aggregation pipeline yields from ``documents``."""
    for stage in pipeline:
        if len(stage) != 1:
            raise OperationFailure("A pipeline stage specification object must contain exactly one field.", code=40323)
        ((name, spec),) = stage.items()
        if name == "$match":
            documents = [d for d in documents if matches(d, spec)]
        elif name == "$group":
            documents = _group(documents, spec)
        elif name == "$sort":
            for field, direction in reversed(list(spec.items())):
                documents.sort(
                    key=lambda d, f=field, r=direction < 0: array_sort_key(get_path(d, f), r), reverse=direction < 0
                )
        elif name == "$limit":
            documents = documents[:spec]
        elif name == "$count":
            documents = [{spec: len(documents)}] if documents else []
        else:
            raise UnsupportedByEmulation(f"aggregation stage {name}")
    return documents


def _group(documents: list[dict[str, Any]], spec: dict[str, Any]) -> list[dict[str, Any]]:
    if "_id" not in spec:
        raise OperationFailure("a group specification must include an _id", code=15955)
    groups: dict[Any, tuple[Any, list[dict[str, Any]]]] = {}
    for document in documents:
        key = evaluate(document, spec["_id"])
        key = None if key is MISSING else key
        groups.setdefault(sort_key(key), (key, []))[1].append(document)
    out = []
    for key, members in groups.values():
        row: dict[str, Any] = {"_id": key}
        for field, accumulator in spec.items():
            if field != "_id":
                row[field] = _accumulate(members, accumulator)
        out.append(row)
    return out


def _accumulate(members: list[dict[str, Any]], accumulator: dict[str, Any]) -> Any:
    ((op, expression),) = accumulator.items()
    values = [evaluate(d, expression) for d in members]
    present = [v for v in values if v is not MISSING and v is not None]
    if op == "$sum":
        # non-numeric values are ignored; the result type follows the widest operand
        return add_numbers([v for v in present if type_rank(v) == 3 and not isinstance(v, bool)])
    if op == "$min":
        return min(present, key=sort_key) if present else None
    if op == "$max":
        return max(present, key=sort_key) if present else None
    if op == "$first":
        return None if not values or values[0] is MISSING else values[0]
    if op == "$last":
        return None if not values or values[-1] is MISSING else values[-1]
    if op == "$push":
        return [v for v in values if v is not MISSING]
    raise UnsupportedByEmulation(f"accumulator {op}")
