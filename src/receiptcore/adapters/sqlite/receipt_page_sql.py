"""The SQL of a SQLite receipt listing: the WHERE clause of a query inside a scope, cursors' positions, the order,
and the page's SELECT (``list_statement``). ``receipt_sql`` re-exports every public name here, as before.

A page walks the sort's index in order and stops after ``limit + 1`` matches (``_walk_columns``), so its cost
depends on how selective the filters are, not on how many receipts the store holds.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from receiptcore.adapters.receipt_queries import (
    CursorPosition,
    bound_units,
    fold,
    is_descending,
    merchant_keys,
    sort_column,
)
from receiptcore.adapters.sqlite.receipt_search import scan_clause, search_clause
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery, SortKey

_SORT_COLUMNS = {"created_at": "created_at", "purchase_date": "purchase_date", "total": "total_units"}


def scope_clause(scope: Scope, column: str = "owner_id") -> tuple[str, list[Any]]:
    """``owner_id`` restriction of ``scope`` (``1`` when it reaches every owner), on ``column``."""
    if scope.owner_ids is None:
        return "1", []
    owners = sorted(scope.owner_ids)
    if not owners:
        return "0", []
    return f"{column} IN ({', '.join('?' for _ in owners)})", list(owners)


def filter_clause(
    query: ReceiptQuery,
    scope: Scope,
    walk: SortKey | None = None,
    *,
    text: Literal["index", "scan", "none"] = "index",
    plain: bool = False,
) -> tuple[str, list[Any]]:
    """The WHERE clause (without the keyword) selecting ``query``'s receipts inside ``scope``.

        ``walk``: the listing's sort, for a listing page. Its conditions are then written so that the only indexes
        SQLite can choose give that order (see ``_walk_columns``): a unary ``+`` keeps a column from being an index
        constraint without changing what the condition means. ``plain``: no column is one (a text search then finds
        its receipts by id, ``receipt_search_page``). ``text``: how ``q`` is searched, through the trigram index
    (``search_clause``), by testing each row's text (``scan_clause``), or not at all (``none``).
    """
    indexable = frozenset[str]() if plain else _walk_columns(walk)

    def column(name: str) -> str:
        return name if indexable is None or name in indexable else f"+{name}"

    clause, params = scope_clause(scope, "+owner_id" if plain else "owner_id")
    parts = [clause]
    if query.owner_id is not None:
        parts.append(f"{'+' if plain else ''}owner_id = ?")
        params.append(query.owner_id)
    if query.status is not None:
        parts.append(f"{column('status')} = ?")
        params.append(query.status.value)
    if query.category is not None:
        parts.append(f"{column('category')} = ?")
        params.append(fold(query.category))
    if query.tag is not None:
        # instr() on the index copy of the JSON array first: the tag's own encoding is a substring of every array
        # that holds it, so only those rows pay for json_each, which decides exactly
        tag = fold(query.tag)
        parts.append("instr(tags, ?) > 0 AND EXISTS (SELECT 1 FROM json_each(receipts.tags) WHERE json_each.value = ?)")
        params.extend([json.dumps(tag), tag])
    if query.merchant is not None:
        keys = merchant_keys(query)
        parts.append(f"{column('merchant_key')} IN ({', '.join('?' for _ in keys)})" if keys else "0")
        params.extend(keys)
    if query.date_from is not None:
        parts.append(f"{column('purchase_date')} >= ?")
        params.append(query.date_from.isoformat())
    if query.date_to is not None:
        parts.append(f"{column('purchase_date')} <= ?")
        params.append(query.date_to.isoformat())
    if query.min_total is not None:
        parts.append(f"{column('total_units')} >= ?")
        params.append(bound_units(query.min_total, lower=True))
    if query.max_total is not None:
        parts.append(f"{column('total_units')} <= ?")
        params.append(bound_units(query.max_total, lower=False))
    if query.q and text != "none":
        owner = search_owner(query, scope)
        condition, search_params = search_clause(query.q, owner) if text == "index" else scan_clause(query.q)
        parts.append(condition)
        params.extend(search_params)
    return " AND ".join(parts), params


def search_owner(query: ReceiptQuery, scope: Scope) -> str | None:
    """The one owner whose receipts ``query`` searches inside ``scope`` (their part of the search index is all a
    search reads), or None when it may reach several."""
    if query.owner_id is not None:
        return query.owner_id
    if scope.owner_ids is not None and len(scope.owner_ids) == 1:
        return next(iter(scope.owner_ids))
    return None


def _walk_columns(walk: SortKey | None) -> frozenset[str] | None:
    """Filter columns a listing sorted by ``walk`` lets SQLite use as index constraints (None: all of them).

    A page walks an index in the sort's order and stops after ``limit + 1`` matches, so its cost depends on how
    selective the filters are, not on how many receipts the store holds. An index on a filter column in another
    order (a date range sorted by ``created_at``) reads every receipt of the range and sorts them, a cost that
    grows with the store; SQLite has no statistics to tell the two apart, so only the ordered indexes are left
    to it: the sort column's own (``receipts_owner_*_walk``, which also carry the filter columns, so filtering
    never reads the table), and for the default sort the status and category ones, which are in that order too.
    """
    if walk is None:
        return None
    column = _SORT_COLUMNS[sort_column(walk)]
    if column == "created_at":
        return frozenset({"created_at", "status", "category"})
    return frozenset({column})


def after_clause(position: CursorPosition, *, plain: bool = False) -> tuple[str, list[Any]]:
    """Rows that come after ``position`` in its sort (NULLs last, id as tie-breaker); ``plain``: as conditions no
    index can serve (``filter_clause``)."""
    plus = "+" if plain else ""
    column = plus + _SORT_COLUMNS[sort_column(position.sort)]
    rid = f"{plus}id"
    beyond = "<" if is_descending(position.sort) else ">"
    if position.value is None:
        return f"({column} IS NULL AND {rid} {beyond} ?)", [position.receipt_id]
    if column.endswith("created_at"):
        # never NULL, so the page can start with an index seek to the position instead of walking (and skipping)
        # every row before it: the first condition is redundant with the rest, but SQLite can seek with it
        return (
            f"({column} {beyond}= ? AND ({column} {beyond} ? OR {rid} {beyond} ?))",
            [position.value, position.value, position.receipt_id],
        )
    return (
        f"({column} IS NULL OR {column} {beyond} ? OR ({column} = ? AND {rid} {beyond} ?))",
        [position.value, position.value, position.receipt_id],
    )


def sort_column_name(sort: SortKey) -> str:
    """The column ``sort`` orders by."""
    return _SORT_COLUMNS[sort_column(sort)]


def through_clause(position: CursorPosition) -> tuple[str, list[Any]]:
    """Rows up to ``position`` in its sort, itself included (what ``after_clause`` leaves out); when its value is
    not NULL, with a redundant bound on the sort column that lets a walk of the sort's index stop there."""
    after, params = after_clause(position)
    if position.value is None:
        return f"NOT {after}", params
    column = _SORT_COLUMNS[sort_column(position.sort)]
    short = ">" if is_descending(position.sort) else "<"
    return f"{column} {short}= ? AND NOT {after}", [position.value, *params]


def order_clause(query: ReceiptQuery) -> str:
    """ORDER BY (without the keyword) of ``query.sort``, NULLs last in both directions."""
    column = _SORT_COLUMNS[sort_column(query.sort)]
    if is_descending(query.sort):
        # SQLite puts NULLs last in descending order already, which lets it walk the index backwards
        return f"{column} DESC, id DESC"
    if column == "created_at":  # never NULL
        return "created_at ASC, id ASC"
    return f"{column} ASC NULLS LAST, id ASC"


# What a listing reads of each receipt: the stored JSON without the two parts a list never shows, the extracted
# copy and the attempts' full outputs (the bulk of a receipt), so pydantic never validates them. json_remove of
# fixed paths costs a third of rebuilding the attempts array with json_each (0.5 against 1.3 ms per page of 51
# on the bench data); a missing path is ignored, and the outputs of attempts past the sixteenth stay in the
# item, which the port allows (a list item *may* leave them out).
LISTED_ATTEMPT_OUTPUTS = 16
LIST_DATA = "json_remove(r.data, '$.extracted', {})".format(
    ", ".join(f"'$.extraction_attempts[{n}].output'" for n in range(LISTED_ATTEMPT_OUTPUTS))
)


def list_statement(
    query: ReceiptQuery,
    scope: Scope,
    position: CursorPosition | None,
    columns: str = LIST_DATA,
    column_params: tuple[Any, ...] = (),
) -> tuple[str, list[Any]]:
    """The SELECT of one listing page (``query.limit + 1`` rows of ``columns`` of ``receipts AS r``, by default
    ``LIST_DATA``, to tell whether more follow).

    Only the narrow (key, rowid) rows are sorted, then the JSON of the one page is read: SQLite's sorter would
    otherwise carry every matching row's JSON through the sort. The page's rows are found by ``rowid``, which
    every index entry holds: joining on ``id`` went through the ``id`` index first, a second B-tree descent per
    row (~a third of a page's SQL on the 100,000-receipt store).
    """
    where, params = filter_clause(query, scope, walk=query.sort)
    if position is not None:
        after, after_params = after_clause(position)
        where, params = f"{where} AND {after}", [*params, *after_params]
    order = order_clause(query)
    # named rid, not id: the inner ORDER BY would take an ``id`` result column for the receipt's id column
    inner = f"SELECT rowid AS rid, row_number() OVER (ORDER BY {order}) AS position FROM receipts WHERE {where}"  # noqa: S608
    return page_select(columns, inner, order, key="rowid"), [*column_params, *params, query.limit + 1]


def page_select(columns: str, inner: str, order: str, *, key: Literal["id", "rowid"] = "id") -> str:
    """The SELECT of ``columns`` (of ``receipts AS r``) for the first rows (``LIMIT ?``, the last parameter) in
    ``order`` of ``inner``, a SELECT of the receipt's ``id`` (``key="id"``) or its ``rowid`` as ``rid``
    (``key="rowid"``) and its ``position`` in that order, in that order."""
    joined = "r.id = page.id" if key == "id" else "r.rowid = page.rid"
    return (
        f"SELECT {columns} FROM ({inner} ORDER BY {order} LIMIT ?) AS page"  # noqa: S608
        f" JOIN receipts AS r ON {joined} ORDER BY page.position"
    )
