"""Rendered list items of the SQLite receipt store (migration ``receipts_listing_v1``, port ``ListsRendered``).

A listing page used to decode 50 stored receipts into models, turn each into the API's dict and encode that as
JSON: on the 100,000-receipt bench store ~80 µs per receipt (pydantic validation of the stored JSON ~55, the
representation ~27), most of a page's CPU. The list item of a receipt only changes when the receipt does, so it
is rendered when the receipt is written, by the ``ListingProjection`` the composition root gives the store, and
kept in the row beside the receipt (``listing``, with the projection's ``key`` in ``listing_key``); a page is then
the stored bytes of its rows.

A row is served from ``listing`` only when ``listing_key`` equals the key of the projection the page asks for; any
other row (written before this migration, by a store without a projection, or under another key after the
representation changed) is decoded and rendered as before, so a stale rendering is never served. Rows are
rendered again whenever they are written, and a page that had to render rows keeps those renderings
(``KEEP_RENDERING_SQL``, only where the receipt is still the version rendered): an upgraded data dir renders each
receipt once, the first time a page shows it, instead of on every page.
"""

from __future__ import annotations

import builtins
import functools
import logging
import sqlite3
from typing import Any

from receiptcore.adapters.receipt_queries import CursorCodec, CursorPosition, sort_column, sort_value
from receiptcore.adapters.sqlite import receipt_search_page as search
from receiptcore.adapters.sqlite import receipt_sql as sql
from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import Page, ReceiptQuery, SortKey
from receiptcore.domain.receipt import Receipt
from receiptcore.errors import StorageUnavailable
from receiptcore.ports import ListingProjection

log = logging.getLogger(__name__)

# Held here: pydantic keeps a parametrised generic model only weakly, so ``Page[Receipt]`` written in ``list``
# built the class anew (schema and validator, ~4 ms) on most calls once the previous one had been collected.
_RECEIPT_PAGE = Page[Receipt]
_RENDERED_PAGE = Page[bytes]

LISTING_V1 = """
ALTER TABLE receipts ADD COLUMN listing BLOB;
ALTER TABLE receipts ADD COLUMN listing_key TEXT;
"""

# a rendering made by a page, kept only while the receipt is the version it was rendered from (a write since then
# rendered its own)
KEEP_RENDERING_SQL = "UPDATE receipts SET listing = ?, listing_key = ? WHERE id = ? AND version = ?"

_SORT_COLUMNS = {"created_at": "r.created_at", "purchase_date": "r.purchase_date", "total": "r.total_units"}


def rendered_columns(query: ReceiptQuery, key: str) -> tuple[str, tuple[Any, ...]]:
    """The columns (and their parameters) a rendered listing page reads per row (``sql.list_statement``): its id,
    its sort value (for the next cursor), the stored rendering when it was made under ``key`` (else NULL) and,
    only when it was not, the list projection of the receipt's JSON (``sql.LIST_DATA``) to render it from."""
    return _columns(query.sort), (key, key)


@functools.cache  # one text per sort key
def _columns(sort: SortKey) -> str:
    return (
        f"r.id, {_SORT_COLUMNS[sort_column(sort)]},"
        " CASE WHEN r.listing_key = ? THEN r.listing END,"
        f" CASE WHEN r.listing_key = ? THEN NULL ELSE {sql.LIST_DATA} END"
    )


class ListingPages:
    """The listing pages of ``SqliteReceiptStore`` (``list``, ``list_rendered``): one page's rows read by the plan
    that makes it cheap, the next cursor, and the renderings a page had to make kept for the next time.

    Args:
        db: the store's database.
        cursors: the store's cursor codec.
        projection: the projection the store renders receipts with when it writes them (None: it keeps none).
    """

    def __init__(self, db: SqliteDatabase, cursors: CursorCodec, projection: ListingProjection | None) -> None:
        self._db = db
        self._cursors = cursors
        self._projection = projection

    async def list(self, query: ReceiptQuery, scope: Scope) -> Page[Receipt]:
        """One page of matching receipts in ``query.sort`` order (NULLs last), id as tie-breaker; list items
        leave out the extracted copy and the attempts' outputs (``sql.LIST_DATA``), as the port allows."""
        position = self._cursors.decode(query.cursor, query.sort) if query.cursor else None
        await self._db.migrate()
        rows = await self.page_rows(query, scope, position, sql.LIST_DATA)
        items = [sql.to_receipt(row[0]) for row in rows[: query.limit]]
        next_cursor = None
        if len(rows) > query.limit:
            last = items[-1]
            next_cursor = self._cursors.encode(CursorPosition(query.sort, sort_value(last, query.sort), last.id))
        return _RECEIPT_PAGE(items=items, next_cursor=next_cursor)

    async def list_rendered(self, query: ReceiptQuery, scope: Scope, projection: ListingProjection) -> Page[bytes]:
        """The page ``list`` returns, each item the row's stored rendering when it was made under
        ``projection.key``, else rendered now from the row's list projection (``receipt_listing``)."""
        position = self._cursors.decode(query.cursor, query.sort) if query.cursor else None
        await self._db.migrate()
        columns, column_params = rendered_columns(query, projection.key)
        rows = await self.page_rows(query, scope, position, columns, column_params)
        page = rows[: query.limit]
        items: builtins.list[bytes] = []
        stale: builtins.list[tuple[bytes, str, str, int]] = []
        for row in page:
            if row[2] is not None:
                items.append(row[2])
                continue
            receipt = sql.to_receipt(row[3])
            items.append(projection.render(receipt))
            stale.append((items[-1], projection.key, receipt.id, receipt.version))
        if stale and self._projection is not None and self._projection.key == projection.key:
            await self.keep_renderings(stale)
        next_cursor = None
        if len(rows) > query.limit:
            last = page[-1]
            next_cursor = self._cursors.encode(CursorPosition(query.sort, last[1], last[0]))
        return _RENDERED_PAGE.model_construct(items=items, next_cursor=next_cursor)

    async def keep_renderings(self, renderings: builtins.list[tuple[bytes, str, str, int]]) -> None:
        """Store renderings a page made of rows that had none under this key (written before the migration or
        under another key), each only if its receipt is still the version it was rendered from; so an upgraded
        data dir renders each receipt once, when a page first shows it. Best effort: a page never fails here."""
        try:
            async with self._db.transaction() as conn:
                await conn.executemany(KEEP_RENDERING_SQL, renderings)
        except StorageUnavailable as exc:
            log.debug("list renderings not kept: %s", exc)

    async def page_rows(
        self,
        query: ReceiptQuery,
        scope: Scope,
        position: CursorPosition | None,
        columns: str,
        column_params: tuple[object, ...] = (),
    ) -> builtins.list[sqlite3.Row]:
        """The ``columns`` of a listing page's ``query.limit + 1`` rows, a text search by the plan its match count
        makes cheap (``receipt_search_page``); the same rows whichever plan reads them."""
        if search.indexed_needle(query) is not None:
            return await self._db.read(
                lambda conn: search.page_rows(
                    conn, query, scope, position=position, columns=columns, column_params=column_params
                )
            )
        # on the loop's thread while it stays within the loop's budget (SqliteDatabase.fetchall_bounded)
        return await self._db.fetchall_bounded(*sql.list_statement(query, scope, position, columns, column_params))
