"""How a listing page with a text search (``q`` of three characters or more) finds its receipts.

The FTS5 trigram index answers "which receipts contain q" cheaply (0.1-0.2 µs per match on the 100,000-receipt
bench store), but a page wants the first 51 of the caller's matches in the sort's order, and the plan that
``sql.list_statement`` gives it (walk the caller's sort index, keep the rows in the set of matches) first turns
every match, of every owner, into its receipt id through ``receipt_search`` (~1 µs each): a word on 15% of the
receipts cost 10 ms per page there, a word on none 4 ms (the walk then reads the caller's whole index). Which plan
is cheap depends on how many receipts match, so the page asks the index first, capped (``count_statement``):

- **none**: the page is empty; no other query (a match count of 0 ends every plan).
- **a few** (at most ``DRIVE_MATCHES``, of the caller's when the search is inside one owner's receipts, else of
  the whole store; fewer for ``q`` alone in a smaller owner's receipts, ``drive_cap``): ``drive_statement``
  reads exactly those receipts by id and sorts them (~3-7 µs each).
- **more**: the matches may be dense enough that walking the sort's index and testing each receipt's search text
  (``instr``, the substring test the trigram phrase answers) finds a page in few rows (~1-2 µs each).
  ``walk_statement`` reads at most ``WALK_ROWS`` rows of the index, up to the row ``boundary_statement`` finds
  there (index-only); a walk of the text index (``reads_text_index``) goes on for ``MORE_WALK_ROWS`` more;
  when the page is not full by then, the page is the set-of-matches plan after all.

Each plan returns the rows the set-of-matches plan returns, in the same order: the phrase and ``instr`` select
the same receipts (the search text and the query are both casefolded; ``tests/adapters/sqlite`` checks it on
generated text), and every plan applies the same filters, cursor and sort with id as tie-breaker.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any, Literal

from receiptcore.adapters.receipt_queries import CursorPosition, sort_column
from receiptcore.adapters.sqlite import receipt_sql as sql
from receiptcore.adapters.sqlite.receipt_search import (
    EVERYONE_WALK_INDEX,
    OWNER_SPAN,
    SEARCH_WALK_INDEX,
    SEARCHED,
    TRIGRAM,
    match_clause,
)
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery

# the largest store-wide match count read by id (~1.5 ms); more are walked for
DRIVE_MATCHES = 500
# A search of ``q`` alone walking the text index (``reads_text_index``) is cheaper than reading its M matches by id
# (~5-7 µs each) once M > DRIVE_FACTOR * sqrt(N), N the owner's receipts: the walk needs ~51 * N / M rows at ~0.45
# µs. For a household of 6,600 receipts a word on 250 of them (``tesco``) cost 2.1 ms by id, 1.4-1.7 walked.
DRIVE_FACTOR = 2
# index rows a walk tests before it gives up (~2-4 ms); a page is found within them while its matches are at
# least (limit + 1) / WALK_ROWS of the rows walked (2.5% for 50 per page)
WALK_ROWS = 2000
# rows a walk through the text index (``reads_text_index``, ~0.45 µs per row) may read on past those when its page
# is not full by then (~2.7 ms at most): where a word is on 0.6-2.5% of the receipts walked, the set-of-matches plan
# it went to instead cost 4-7.5 ms on the 100,000-receipt bench store (and grows with the owner's receipts). It
# reads on only as far as twice what the rest of the page needs at the density of the rows walked so far, and not
# at all when that is more than this (the set-of-matches plan is then the better bet)
MORE_WALK_ROWS = 6000


def indexed_needle(query: ReceiptQuery) -> str | None:
    """The casefolded ``q`` when the trigram index can answer it, else None (no ``q``, or too short)."""
    if not query.q:
        return None
    needle = query.q.casefold()
    return needle if len(needle) >= TRIGRAM else None


def count_statement(needle: str, owner: str | None, cap: int | None = None) -> tuple[str, list[Any]]:
    """How many receipts contain ``needle`` (of ``owner``, when given: ``sql.search_owner``), counted up to
    ``cap + 1`` (default ``DRIVE_MATCHES + 1``)."""
    condition, params = match_clause(needle, owner)
    return (
        f"SELECT count(*) FROM (SELECT 1 FROM receipt_search_fts AS f WHERE {condition} LIMIT ?)",  # noqa: S608
        [*params, (DRIVE_MATCHES if cap is None else cap) + 1],
    )


# the owner's receipts at most (their search rowids are allocated one after another from the range's base)
OWNER_SIZE_SQL = (
    "SELECT (SELECT rid FROM receipt_search WHERE rid > o.base AND rid < o.base + ? ORDER BY rid DESC LIMIT 1)"
    " - o.base FROM receipt_search_owners AS o WHERE o.owner_id = ?"
)


def drive_cap(conn: sqlite3.Connection, query: ReceiptQuery, scope: Scope) -> int:
    """The most matches a page reads by id (``drive_statement``): ``DRIVE_MATCHES``, or fewer for a search of
    ``q`` alone that walks the text index (``DRIVE_FACTOR``), by the owner's receipts (an index seek: the
    owner's largest search rowid, which deleted receipts leave as large, so it errs towards the drive)."""
    owner = sql.search_owner(query, scope)
    if owner is None or not reads_text_index(query, scope) or not _text_alone(query):
        return DRIVE_MATCHES
    size = _rows(conn, (OWNER_SIZE_SQL, [OWNER_SPAN, owner]))
    if not size or size[0][0] is None:
        return DRIVE_MATCHES
    return min(DRIVE_MATCHES, int(DRIVE_FACTOR * math.sqrt(size[0][0])))


def _text_alone(query: ReceiptQuery) -> bool:
    """No filter but ``q`` (and the owner): every receipt a walk reads may be a match, so the matches' share is
    the walk's."""
    return all(
        value is None
        for value in (query.tag, query.merchant, query.date_from, query.date_to, query.min_total, query.max_total)
    )


def _where(
    query: ReceiptQuery,
    scope: Scope,
    position: CursorPosition | None,
    *,
    text: Literal["index", "scan", "none"],
    plain: bool,
) -> tuple[str, list[Any]]:
    where, params = sql.filter_clause(query, scope, walk=query.sort, text=text, plain=plain)
    if position is not None:
        after, after_params = sql.after_clause(position, plain=plain)
        where, params = f"{where} AND {after}", [*params, *after_params]
    return where, params


def drive_statement(
    query: ReceiptQuery, scope: Scope, position: CursorPosition | None, columns: str, column_params: tuple[Any, ...]
) -> tuple[str, list[Any]]:
    """``sql.list_statement``'s page read through the matches' ids: every filter column is kept from being an
    index constraint, so the id set of the text search is the only way in (``SEARCH receipts USING INDEX
    sqlite_autoindex_receipts_1 (id=?)``), then the few matches are sorted."""
    where, params = _where(query, scope, position, text="index", plain=True)
    order = sql.order_clause(query)
    inner = f"SELECT rowid AS rid, row_number() OVER (ORDER BY {order}) AS position FROM receipts WHERE {where}"  # noqa: S608
    return sql.page_select(columns, inner, order, key="rowid"), [*column_params, *params, query.limit + 1]


def boundary_statement(
    query: ReceiptQuery, scope: Scope, position: CursorPosition | None, rows: int | None = None
) -> tuple[str, list[Any]]:
    """The sort value and id of the ``rows``-th (default ``WALK_ROWS``) row a walk would read (the other filters
    passed, in the sort's order, after ``position``): an index-only read; no row when there are fewer."""
    where, params = _where(query, scope, position, text="none", plain=False)
    order = sql.order_clause(query)
    column = sql.sort_column_name(query.sort)
    return (
        f"SELECT {column}, id FROM receipts WHERE {where} ORDER BY {order} LIMIT 1 OFFSET ?",  # noqa: S608
        [*params, (WALK_ROWS if rows is None else rows) - 1],
    )


def walk_statement(
    query: ReceiptQuery,
    scope: Scope,
    position: CursorPosition | None,
    columns: str,
    column_params: tuple[Any, ...],
    *,
    boundary: CursorPosition | None,
    limit: int | None = None,
) -> tuple[str, list[Any]]:
    """``sql.list_statement``'s page (``limit`` rows, default ``query.limit + 1``) with the text tested on each
    row the walk reads (``sql.scan_clause``), up to ``boundary`` (``boundary_statement``; None: to the end),
    which bounds the walk to ``WALK_ROWS`` rows."""
    where, params = _where(query, scope, position, text="scan", plain=False)
    if boundary is not None:
        through, through_params = sql.through_clause(boundary)
        where, params = f"{where} AND {through}", [*params, *through_params]
    source = "receipts"
    index = text_index(query, scope)
    if index is not None:
        # SEARCHED changes nothing (a needle of three characters or more is in no empty text) but makes the
        # partial index usable
        source, where = f"receipts INDEXED BY {index}", f"{where} AND {SEARCHED}"
    order = sql.order_clause(query)
    # the page's rows by rowid, as sql.list_statement finds them (no descent of the id index per row)
    inner = f"SELECT rowid AS rid, row_number() OVER (ORDER BY {order}) AS position FROM {source} WHERE {where}"  # noqa: S608
    return sql.page_select(columns, inner, order, key="rowid"), [*column_params, *params, limit or query.limit + 1]


def page_rows(
    conn: sqlite3.Connection,
    query: ReceiptQuery,
    scope: Scope,
    *,
    position: CursorPosition | None,
    columns: str,
    column_params: tuple[Any, ...],
) -> list[sqlite3.Row]:
    """The ``columns`` of the page's ``query.limit + 1`` rows (``q`` has an ``indexed_needle``) by the plan its
    match count makes cheap, read on ``conn`` in one go (``SqliteDatabase.read``: one hop to a reader's thread for
    the count, the boundary and the walk, where each statement was an awaited hop of its own, and one snapshot)."""
    needle = indexed_needle(query)
    if needle is None:
        raise ValueError("page_rows reads a search the trigram index answers")
    cap = drive_cap(conn, query, scope)
    count = _rows(conn, count_statement(needle, sql.search_owner(query, scope), cap))
    matches = count[0][0] if count else 0
    if matches == 0:
        return []
    if matches <= cap:
        return _rows(conn, drive_statement(query, scope, position, columns, column_params))
    edge = _rows(conn, boundary_statement(query, scope, position))
    boundary = CursorPosition(query.sort, edge[0][0], edge[0][1]) if edge else None
    rows = _rows(conn, walk_statement(query, scope, position, columns, column_params, boundary=boundary))
    more = _more_rows(query, scope, len(rows)) if boundary is not None else 0
    if more:
        # on past the boundary (the last row walked) for the rest of the page
        start = boundary
        edge = _rows(conn, boundary_statement(query, scope, start, more))
        boundary = CursorPosition(query.sort, edge[0][0], edge[0][1]) if edge else None
        onward = walk_statement(
            query, scope, start, columns, column_params, boundary=boundary, limit=query.limit + 1 - len(rows)
        )
        rows += _rows(conn, onward)
    if len(rows) > query.limit or boundary is None:
        return rows  # a full page, or the walk saw every candidate
    return _rows(conn, sql.list_statement(query, scope, position, columns, column_params))


def _more_rows(query: ReceiptQuery, scope: Scope, found: int) -> int:
    """How many rows a walk that found ``found`` matches in its ``WALK_ROWS`` reads on (``MORE_WALK_ROWS``): 0
    when its page is full, it read the table (not ``reads_text_index``), found none, or would need more."""
    missing = query.limit + 1 - found
    if missing <= 0 or found == 0 or not reads_text_index(query, scope):
        return 0
    more = -(-2 * missing * WALK_ROWS // found)  # twice the rows the missing matches need at the density so far
    return more if more <= MORE_WALK_ROWS else 0


def _rows(conn: sqlite3.Connection, statement: tuple[str, list[Any]]) -> list[sqlite3.Row]:
    # fetchall steps the statement to its end, which resets it: its read transaction ends here
    rows: list[sqlite3.Row] = conn.execute(*statement).fetchall()
    return rows


def reads_text_index(query: ReceiptQuery, scope: Scope) -> bool:
    """Whether a walk reads one of the text indexes (``text_index``)."""
    return text_index(query, scope) is not None


def text_index(query: ReceiptQuery, scope: Scope) -> str | None:
    """The index with every receipt's text a walk reads (~5x cheaper per row than the receipt's row), if any:
    in the default sort's order, ``SEARCH_WALK_INDEX`` inside one owner's receipts (where the walk would
    otherwise read ``receipts_owner_created_walk`` for the same rows), ``EVERYONE_WALK_INDEX`` across every
    owner's (``receipts_created``). A status or category filter keeps its own index (only the receipts in it
    are read, and ``boundary_statement`` counts the ``WALK_ROWS`` there), and so does a scope of several owners
    but not all (the walk would read every other owner's rows too)."""
    if sort_column(query.sort) != "created_at" or query.status is not None or query.category is not None:
        return None
    if sql.search_owner(query, scope) is not None:
        return SEARCH_WALK_INDEX
    return EVERYONE_WALK_INDEX if scope.owner_ids is None and query.owner_id is None else None
