"""MongoDB's value semantics, as the emulation needs them: BSON comparison order, query filters, update operators,
projections and the aggregation expressions of ``$group``.

Written from the MongoDB manual's rules (comparison/sort order of BSON types, type-bracketed comparison operators,
null matching missing fields, array fields matching any element, numeric comparison across int, double and
Decimal128). Anything outside what is implemented raises ``OperationFailure`` (as a server does for an unknown
operator) or ``UnsupportedByEmulation``, never a silent wrong answer.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from decimal import Decimal, localcontext
from typing import Any

from bson import ObjectId
from bson.decimal128 import Decimal128, create_decimal128_context
from bson.int64 import Int64
from bson.regex import Regex
from pymongo.errors import OperationFailure, WriteError

MISSING = object()
_DECIMAL128 = create_decimal128_context()


class UnsupportedByEmulation(AssertionError):
    """The adapter used a feature the emulation does not implement: extend the emulation, do not work around it."""


# ---- comparison -------------------------------------------------------------------------------------------------


def type_rank(value: Any) -> int:
    """The BSON comparison order of ``value``'s type (MinKey 1 … MaxKey 14); numbers share one rank."""
    if value is None or value is MISSING:
        return 2
    if isinstance(value, bool):
        return 9
    if isinstance(value, int | float | Decimal128 | Int64):
        return 3
    if isinstance(value, str):
        return 4
    if isinstance(value, dict):
        return 5
    if isinstance(value, list | tuple):
        return 6
    if isinstance(value, bytes):
        return 7
    if isinstance(value, ObjectId):
        return 8
    if isinstance(value, dt.datetime):
        return 10
    if isinstance(value, Regex | re.Pattern):
        return 12
    raise UnsupportedByEmulation(f"no BSON order for {type(value).__name__}")


def number(value: Any) -> Decimal:
    """A BSON number as an exact Decimal (doubles by their exact binary value, as the server compares them)."""
    if isinstance(value, Decimal128):
        return value.to_decimal()
    return Decimal(value)


def sort_key(value: Any) -> tuple[Any, ...]:
    """A Python key ordering values as MongoDB compares them."""
    rank = type_rank(value)
    if rank == 2:
        return (rank,)
    if rank == 3:
        return (rank, number(value))
    if rank == 5:
        return (rank, tuple((sort_key(k), sort_key(v)) for k, v in value.items()))
    if rank == 6:
        return (rank, tuple(sort_key(v) for v in value))
    if rank == 7:
        return (rank, len(value), value)
    if rank == 8:
        return (rank, value.binary)
    if rank == 10:
        return (rank, value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC))
    return (rank, value)


def equal(a: Any, b: Any) -> bool:
    """Whether two values are equal for MongoDB (numbers by value across types; null equals missing)."""
    return sort_key(a) == sort_key(b)


def array_sort_key(value: Any, descending: bool) -> tuple[Any, ...]:
    """The sort key of a field: an array sorts by its smallest element ascending, its largest descending."""
    if isinstance(value, list):
        if not value:
            return (1,)  # an empty array sorts before null
        keys = [sort_key(v) for v in value]
        return max(keys) if descending else min(keys)
    return sort_key(None if value is MISSING else value)


# ---- paths ------------------------------------------------------------------------------------------------------


def get_path(document: dict[str, Any], path: str) -> Any:
    """The value at a dotted path, or MISSING (paths through arrays are not needed by the adapter)."""
    current: Any = document
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list):
            raise UnsupportedByEmulation(f"path {path!r} through an array")
        else:
            return MISSING
    return current


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path, creating embedded documents on the way (as ``$set`` does)."""
    *parents, last = path.split(".")
    current = document
    for part in parents:
        child = current.get(part, MISSING)
        if child is MISSING:
            child = current[part] = {}
        if not isinstance(child, dict):
            raise WriteError(f"Cannot create field '{last}' in element {{{part}: {child!r}}}", code=28)
        current = child
    current[last] = value


# ---- filters ----------------------------------------------------------------------------------------------------


def matches(document: dict[str, Any], query: dict[str, Any] | None) -> bool:
    """Whether ``document`` satisfies the query filter ``query``."""
    for key, condition in (query or {}).items():
        if key == "$and":
            if not all(matches(document, part) for part in _clauses(key, condition)):
                return False
        elif key == "$or":
            if not any(matches(document, part) for part in _clauses(key, condition)):
                return False
        elif key == "$nor":
            if any(matches(document, part) for part in _clauses(key, condition)):
                return False
        elif key.startswith("$"):
            raise OperationFailure(f"unknown top level operator: {key}", code=2)
        elif not _field_matches(get_path(document, key), condition):
            return False
    return True


def _clauses(operator: str, condition: Any) -> list[dict[str, Any]]:
    if not isinstance(condition, list) or not condition:
        raise OperationFailure(f"{operator} must be a nonempty array", code=2)
    return condition


def _field_matches(value: Any, condition: Any) -> bool:
    if isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition):
        options = condition.get("$options", "")
        return all(_operator(value, op, arg, options) for op, arg in condition.items() if op != "$options")
    if isinstance(condition, Regex | re.Pattern):
        return _operator(value, "$regex", condition, "")
    return _equals_match(value, condition)


def _equals_match(value: Any, wanted: Any) -> bool:
    """``{field: wanted}``: equal, or an array field with an equal element; null also matches missing."""
    if wanted is None and value is MISSING:
        return True
    if isinstance(value, list) and any(equal(v, wanted) for v in value):
        return True
    return value is not MISSING and equal(value, wanted)


_COMPARE: dict[str, Callable[[tuple[Any, ...], tuple[Any, ...]], bool]] = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _operator(value: Any, op: str, arg: Any, options: str) -> bool:
    if op == "$eq":
        return _equals_match(value, arg)
    if op == "$ne":
        return not _equals_match(value, arg)
    if op == "$in":
        return any(_equals_match(value, wanted) for wanted in _array(op, arg))
    if op == "$nin":
        return not any(_equals_match(value, wanted) for wanted in _array(op, arg))
    if op == "$exists":
        return (value is not MISSING) == bool(arg)
    if op in _COMPARE:
        return any(_compare(candidate, op, arg) for candidate in _candidates(value))
    if op == "$regex":
        return any(isinstance(c, str) and _regex(arg, options).search(c) is not None for c in _candidates(value))
    raise OperationFailure(f"unknown operator: {op}", code=2)


def _array(op: str, arg: Any) -> list[Any]:
    if not isinstance(arg, list):
        raise OperationFailure(f"{op} needs an array", code=2)
    return arg


def _candidates(value: Any) -> Iterable[Any]:
    """A field's values for an operator: the elements of an array (and the array itself), else the value."""
    if isinstance(value, list):
        return [*value, value]
    return [None if value is MISSING else value]


def _compare(value: Any, op: str, arg: Any) -> bool:
    # comparison operators are type-bracketed: a string bound never matches a number, null, or a date
    if arg is None:
        return value is None and op in {"$gte", "$lte"}
    if value is None or type_rank(value) != type_rank(arg):
        return False
    return _COMPARE[op](sort_key(value), sort_key(arg))


def _regex(pattern: Any, options: str) -> re.Pattern[str]:
    if isinstance(pattern, re.Pattern):
        return pattern
    if isinstance(pattern, Regex):
        pattern, options = pattern.pattern, options or str(pattern.flags)
    flags = 0
    for letter in options:
        flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}.get(letter, 0)
    # PCRE and Python agree on the escaped literals the adapter sends (re.escape output)
    return re.compile(pattern, flags)


# ---- updates ----------------------------------------------------------------------------------------------------


def apply_update(document: dict[str, Any], update: dict[str, Any], *, inserting: bool = False) -> None:
    """Apply update operators to ``document`` in place (the caller keeps a copy to roll back)."""
    if not update or not all(key.startswith("$") for key in update):
        raise ValueError("update only works with $ operators")
    paths = [path for fields in update.values() for path in fields]
    for a in paths:
        for b in paths:
            if a != b and b.startswith(a + "."):
                raise WriteError(f"Updating the path '{b}' would create a conflict at '{a}'", code=40)
    for op, fields in update.items():
        for path, value in fields.items():
            if path == "_id" and not inserting and not equal(document.get("_id"), value):
                raise WriteError(
                    "Performing an update on the path '_id' would modify the immutable field '_id'", code=66
                )
            _apply_operator(document, op, path, value, inserting=inserting)


def _apply_operator(document: dict[str, Any], op: str, path: str, value: Any, *, inserting: bool) -> None:
    if op == "$set" or (op == "$setOnInsert" and inserting):
        set_path(document, path, value)
    elif op == "$setOnInsert":
        return
    elif op == "$inc":
        current = get_path(document, path)
        current = 0 if current is MISSING else current
        if type_rank(current) != 3 or type_rank(value) != 3 or isinstance(current, bool):
            raise WriteError(f"Cannot apply $inc to a value of non-numeric type at {path!r}", code=14)
        set_path(document, path, add_numbers([current, value]))
    elif op == "$unset":
        *parents, last = path.split(".")
        parent = get_path(document, ".".join(parents)) if parents else document
        if isinstance(parent, dict):
            parent.pop(last, None)
    else:
        raise WriteError(f"Unknown modifier: {op}", code=9)


def add_numbers(values: list[Any]) -> Any:
    """The sum of BSON numbers with the server's type rules: Decimal128 if any, else double if any, else integer."""
    if any(isinstance(v, Decimal128) for v in values):
        with localcontext(_DECIMAL128):
            return Decimal128(sum((number(v) for v in values), Decimal(0)))
    if any(isinstance(v, float) for v in values):
        return float(sum(values))
    return int(sum(values))


# ---- projection -------------------------------------------------------------------------------------------------


def project(document: dict[str, Any], projection: dict[str, Any] | None) -> dict[str, Any]:
    """A top-level inclusion or exclusion projection."""
    if not projection:
        return document
    include = {k for k, v in projection.items() if v and k != "_id"}
    exclude = {k for k, v in projection.items() if not v and k != "_id"}
    if include and exclude:
        raise OperationFailure("Cannot do exclusion on field in inclusion projection", code=31254)
    if any("." in k for k in projection):
        raise UnsupportedByEmulation("dotted projections")
    keep_id = projection.get("_id", 1)
    if include:
        out = {k: v for k, v in document.items() if k in include}
    else:
        out = {k: v for k, v in document.items() if k not in exclude}
    if keep_id and "_id" in document:
        out = {"_id": document["_id"], **{k: v for k, v in out.items() if k != "_id"}}
    else:
        out.pop("_id", None)
    return out


# ---- aggregation expressions ------------------------------------------------------------------------------------


def evaluate(document: dict[str, Any], expression: Any) -> Any:
    """An aggregation expression: ``"$field"`` references, embedded documents of expressions, literals."""
    if isinstance(expression, str) and expression.startswith("$"):
        return get_path(document, expression[1:])
    if isinstance(expression, dict):
        if any(k.startswith("$") for k in expression):
            raise UnsupportedByEmulation(f"expression operator {next(iter(expression))}")
        out = {}
        for key, sub in expression.items():
            value = evaluate(document, sub)
            if value is not MISSING:  # a missing field is left out of the computed document
                out[key] = value
        return out
    return expression
