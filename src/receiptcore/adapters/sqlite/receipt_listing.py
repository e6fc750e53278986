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

import functools
from typing import Any

from receiptcore.adapters.receipt_queries import sort_column
from receiptcore.adapters.sqlite import receipt_sql as sql
from receiptcore.domain.queries import ReceiptQuery, SortKey

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
