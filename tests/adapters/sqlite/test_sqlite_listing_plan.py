"""SQLite listings use an index for every filter, sort and owner scope (EXPLAIN QUERY PLAN), never a table scan.

Speed is measured by bench/, not here; what these tests pin is structural: the query plan of each listing the
API can issue reads ``receipts`` through an index; one owner's page walks an index in the sort's order for every
filter (so its cost does not grow with the store: no sort of all matches), filtering inside the covering
``receipts_owner_*_walk`` indexes; and text search goes through the trigram FTS table instead of a ``LIKE`` scan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from receiptcore.adapters.receipt_queries import CursorPosition
from receiptcore.adapters.sqlite import receipt_sql as sql
from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.receipt_listing import LISTING_V1
from receiptcore.adapters.sqlite.receipt_search import (
    OWNER_SPAN,
    SCHEMA_V2,
    SCHEMA_V4,
    SCHEMA_V5,
    SEARCH_WALK_V1,
    SEARCH_WALK_V2,
)
from receiptcore.adapters.sqlite.receipt_store import SqliteReceiptStore
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery, SortKey
from receiptcore.domain.receipt import Merchant, Receipt, ReceiptStatus
from receiptcore.entrypoints.http.representation import API_LISTING
from tests.factories import make_receipt

SCOPES = {
    "one owner": Scope.only("u1"),
    "two owners": Scope(owner_ids=frozenset({"u1", "u2"})),
    "everyone": Scope.everyone(),
}
FILTERS: dict[str, dict[str, object]] = {
    "none": {},
    "status": {"status": ReceiptStatus.NEEDS_REVIEW},
    "category": {"category": "food"},
    "tag": {"tag": "work"},
    "date range": {"date_from": dt.date(2026, 1, 1), "date_to": dt.date(2026, 3, 31)},
    "total range": {"min_total": Decimal(5), "max_total": Decimal(50)},
    "text": {"q": "durian"},
    "short text": {"q": "du"},
    "owner": {"owner_id": "u1"},
    "merchant": {"merchant": ("Netto", "Nettooy")},
}


# the receipts columns before migration receipts_listing_v1 (the last two are its listing columns)
OLD_COLUMNS = sql.COLUMNS[:-2]
OLD_INSERT_SQL = f"INSERT INTO receipts ({', '.join(OLD_COLUMNS)}) VALUES ({', '.join('?' for _ in OLD_COLUMNS)})"  # noqa: S608


def old_row(receipt: Receipt) -> list[object]:
    """What the store wrote for ``receipt`` before receipts_listing_v1."""
    return sql.row_values(receipt)[: len(OLD_COLUMNS)]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    database = SqliteDatabase(tmp_path / "receipts.sqlite3")
    SqliteReceiptStore(database, tmp_path / "files")
    await database.migrate()
    yield database
    await database.aclose()


async def plan(db: SqliteDatabase, query: ReceiptQuery, scope: Scope) -> list[str]:
    statement, params = sql.list_statement(query, scope, None)
    rows = await db.fetchall(f"EXPLAIN QUERY PLAN {statement}", params)
    return [str(row[3]) for row in rows]


def table_scans(lines: list[str]) -> list[str]:
    """Plan lines that read ``receipts`` (as itself or ``r``) without an index."""
    reads = [line for line in lines if line.startswith(("SCAN receipts", "SEARCH receipts", "SCAN r ", "SEARCH r "))]
    return [line for line in reads if "INDEX" not in line and "PRIMARY KEY" not in line]


@pytest.mark.parametrize("sort", list(SortKey), ids=str)
@pytest.mark.parametrize("filters", FILTERS, ids=str)
@pytest.mark.parametrize("scope", SCOPES, ids=str)
async def test_every_listing_reads_receipts_through_an_index(
    db: SqliteDatabase, scope: str, filters: str, sort: SortKey
) -> None:
    lines = await plan(db, ReceiptQuery(sort=sort, limit=50, **FILTERS[filters]), SCOPES[scope])
    assert not table_scans(lines), lines


@pytest.mark.parametrize("filters", ["none", "status", "category"])
@pytest.mark.parametrize("scope", ["one owner", "everyone"])
async def test_default_listings_walk_an_index_in_order(db: SqliteDatabase, scope: str, filters: str) -> None:
    lines = await plan(db, ReceiptQuery(limit=50, **FILTERS[filters]), SCOPES[scope])
    # the one temporary B-tree left puts the 51 rows of the page back in order; none sorts the matches
    assert sum("TEMP B-TREE" in line for line in lines) == 1, lines
    if filters == "status" or scope == "one owner":
        assert any(line.startswith("SEARCH receipts USING") for line in lines), lines


@pytest.mark.parametrize("sort", list(SortKey), ids=str)
# the merchant filter walks the sort index too, but reads the table for it: merchant_key is not in the walk indexes
@pytest.mark.parametrize("filters", [name for name in FILTERS if name not in {"short text", "merchant"}], ids=str)
async def test_one_owners_page_never_sorts_its_matches(db: SqliteDatabase, filters: str, sort: SortKey) -> None:
    lines = await plan(db, ReceiptQuery(sort=sort, limit=50, **FILTERS[filters]), SCOPES["one owner"])
    # the one temporary B-tree puts the 51 rows of the page back in order (the outer ORDER BY page.position)
    assert sum("TEMP B-TREE" in line for line in lines) == 1, lines
    inner = [line for line in lines if line.startswith("SEARCH receipts USING")]
    assert len(inner) == 1, lines
    # filtering happens inside the index: the table is read only for the rows of the page (SEARCH r ... id=?)
    assert "COVERING INDEX" in inner[0], lines
    if filters not in ("status", "category") or sort.value.lstrip("-") != "created_at":
        column = {"created_at": "created", "purchase_date": "date", "total": "total"}[sort.value.lstrip("-")]
        assert f"receipts_owner_{column}_walk" in inner[0], lines


@pytest.mark.parametrize("sort", [SortKey.CREATED_DESC, SortKey.CREATED_ASC], ids=str)
async def test_a_later_page_seeks_to_its_cursor(db: SqliteDatabase, sort: SortKey) -> None:
    position = CursorPosition(sort, "2026-01-01T00:00:00.000000Z", "0190a000-0000-7000-8000-000000000000")
    statement, params = sql.list_statement(ReceiptQuery(sort=sort, limit=50), SCOPES["one owner"], position)
    rows = await db.fetchall(f"EXPLAIN QUERY PLAN {statement}", params)
    # a range on created_at, not a walk from the first receipt that skips every row before the cursor
    bound = "<" if sort == SortKey.CREATED_DESC else ">"
    assert any(f"(owner_id=? AND created_at{bound}?)" in str(row[3]) for row in rows), [str(r[3]) for r in rows]


async def test_tag_filter_matches_whole_tags_only(db: SqliteDatabase, tmp_path: Path) -> None:
    store = SqliteReceiptStore(db, tmp_path / "files")
    tagged, _ = make_receipt("u1", tags=["Work", "home"])
    lookalike, _ = make_receipt("u1", tags=['x"work', "workshop", "home"])  # "work" inside another tag's JSON
    for receipt in (tagged, lookalike):
        await db.execute(sql.INSERT_SQL, sql.row_values(receipt))
    for tag, expected in [("work", [tagged.id]), ("WORK ", [tagged.id]), ('x"work', [lookalike.id]), ("ork", [])]:
        page = await store.list(ReceiptQuery(tag=tag), Scope.only("u1"))
        assert [r.id for r in page.items] == expected, tag


async def test_text_search_uses_the_trigram_index(db: SqliteDatabase) -> None:
    # "SCAN f VIRTUAL TABLE INDEX 0:M1": the FTS5 table (aliased f) answers a MATCH from its index
    lines = await plan(db, ReceiptQuery(q="durian"), SCOPES["one owner"])
    assert any(line.startswith("SCAN f VIRTUAL TABLE INDEX 0:M") for line in lines), lines
    # each match's receipt id comes from the narrow (rid, receipt_id) index, not the row holding the whole text
    assert "SEARCH s USING COVERING INDEX receipt_search_ids (rid=?)" in lines, lines
    short = await plan(db, ReceiptQuery(q="du"), SCOPES["one owner"])
    assert not any(line.startswith("SCAN f ") for line in short), "two characters have no trigram: LIKE it is"


async def test_upgrading_a_v1_database_indexes_the_receipts_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = SqliteDatabase(path)
    old.register_migration("receipts_v1", sql.SCHEMA_V1)
    await old.migrate()
    receipt, _ = make_receipt("u1", merchant=Merchant(name="Durian Palace"))
    await old.execute(OLD_INSERT_SQL, old_row(receipt))
    await old.aclose()
    upgraded = SqliteDatabase(path)
    store = SqliteReceiptStore(upgraded, tmp_path / "files")
    try:
        page = await store.list(ReceiptQuery(q="rian pal"), Scope.only("u1"))
        assert [r.id for r in page.items] == [receipt.id]
        assert await upgraded.applied_migrations() == [
            "receipts_v1",
            "receipts_v2",
            "receipts_claim_turns_v1",
            "receipts_v3",
            "receipts_v4",
            "receipts_listing_v1",
            "receipts_v5",
            "receipts_search_walk_v1",
            "receipts_search_walk_v2",
            "receipts_search_merge_v1",
        ]
    finally:
        await upgraded.aclose()


async def test_upgrading_a_v2_database_swaps_the_sort_indexes_for_walk_indexes(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite3"
    old = SqliteDatabase(path)
    for name, ddl in [("receipts_v1", sql.SCHEMA_V1), ("receipts_v2", SCHEMA_V2), ("claims", sql.CLAIM_TURNS_V1)]:
        old.register_migration(name, ddl)
    await old.migrate()
    receipts = [
        make_receipt("u1", status=ReceiptStatus.CONFIRMED, tags=["work"], total=Decimal(total), currency="EUR")[0]
        for total in (12, 40, 7)
    ]
    for receipt in receipts:
        await old.execute(OLD_INSERT_SQL, old_row(receipt))
    await old.aclose()
    upgraded = SqliteDatabase(path)
    store = SqliteReceiptStore(upgraded, tmp_path / "files")
    try:
        query = ReceiptQuery(tag="work", status=ReceiptStatus.CONFIRMED, min_total=Decimal(10), sort=SortKey.TOTAL_DESC)
        page = await store.list(query, Scope.only("u1"))
        assert [r.id for r in page.items] == [receipts[1].id, receipts[0].id]
        rows = await upgraded.fetchall("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'receipts'")
        names = {row[0] for row in rows}
        assert {"receipts_owner_created_walk", "receipts_owner_date_walk", "receipts_owner_total_walk"} <= names
        assert not names & {"receipts_owner_created", "receipts_owner_date", "receipts_owner_total"}
    finally:
        await upgraded.aclose()


async def test_an_upgraded_store_keeps_the_renderings_its_pages_make(tmp_path: Path) -> None:
    path = tmp_path / "v4.sqlite3"
    old = SqliteDatabase(path)
    for name, ddl in [("receipts_v1", sql.SCHEMA_V1), ("receipts_v2", SCHEMA_V2), ("claims", sql.CLAIM_TURNS_V1)]:
        old.register_migration(name, ddl)
    await old.migrate()
    receipts = [make_receipt("u1", notes=f"note {n}")[0] for n in range(3)]
    for receipt in receipts:
        await old.execute(OLD_INSERT_SQL, old_row(receipt))
    await old.aclose()
    upgraded = SqliteDatabase(path)
    store = SqliteReceiptStore(upgraded, tmp_path / "files", projection=API_LISTING)
    try:
        page = await store.list_rendered(ReceiptQuery(), Scope.only("u1"), API_LISTING)
        assert sorted(page.items) == sorted(API_LISTING.render(r) for r in receipts)
        rows = await upgraded.fetchall("SELECT id, listing, listing_key FROM receipts")
        assert {row[0]: (row[1], row[2]) for row in rows} == {
            r.id: (API_LISTING.render(r), API_LISTING.key) for r in receipts
        }
        # kept only while the receipt is the version it was rendered from: a stale write-back changes nothing
        changed = await store.update(receipts[0].model_copy(update={"notes": "newer"}), receipts[0].version)
        await store._pages.keep_renderings([(b"stale", API_LISTING.key, receipts[0].id, receipts[0].version)])
        again = await store.list_rendered(ReceiptQuery(), Scope.only("u1"), API_LISTING)
        assert API_LISTING.render(changed) in again.items
        assert b"stale" not in again.items
    finally:
        await upgraded.aclose()


async def test_upgrading_to_owner_search_ranges_keeps_every_search_and_keeps_owners_apart(tmp_path: Path) -> None:
    path = tmp_path / "v4.sqlite3"
    old = SqliteDatabase(path)
    for name, ddl in [
        ("receipts_v1", sql.SCHEMA_V1),
        ("receipts_v2", SCHEMA_V2),
        ("claims", sql.CLAIM_TURNS_V1),
        ("receipts_v3", sql.SCHEMA_V3),
        ("receipts_v4", SCHEMA_V4),
    ]:
        old.register_migration(name, ddl)
    await old.migrate()
    held = [make_receipt(owner, merchant=Merchant(name=f"Durian {n}"))[0] for n, owner in enumerate(["u1", "u2"] * 3)]
    for receipt in held:
        await old.execute(OLD_INSERT_SQL, old_row(receipt))
    await old.aclose()
    upgraded = SqliteDatabase(path)
    store = SqliteReceiptStore(upgraded, tmp_path / "files", projection=API_LISTING)
    try:
        later, content = make_receipt("u1", merchant=Merchant(name="Durian later"))
        await store.add(later, content)
        newcomer, content = make_receipt("u3", merchant=Merchant(name="Durian newcomer"))
        await store.add(newcomer, content)
        for owner in ("u1", "u2", "u3"):
            page = await store.list(ReceiptQuery(q="durian"), Scope.only(owner))
            expected = {r.id for r in [*held, later, newcomer] if r.owner_id == owner}
            assert {r.id for r in page.items} == expected, owner
        everyone = await store.list(ReceiptQuery(q="durian", limit=100), Scope.everyone())
        assert len(everyone.items) == 8
        # every owner's search rows are inside the owner's own range
        rows = await upgraded.fetchall(
            "SELECT r.owner_id, s.rid, o.base FROM receipt_search AS s JOIN receipts AS r ON r.id = s.receipt_id"
            " JOIN receipt_search_owners AS o ON o.owner_id = r.owner_id"
        )
        assert len(rows) == 8
        assert all(base < rid < base + OWNER_SPAN for _, rid, base in rows), rows
        assert len({base for _, _, base in rows}) == 3
        # a receipt given to another owner moves to that owner's range, and its search with it
        await upgraded.execute("UPDATE receipts SET owner_id = 'u3' WHERE id = ?", (held[0].id,))
        moved = await store.list(ReceiptQuery(q="durian 0"), Scope.only("u3"))
        assert [r.id for r in moved.items] == [held[0].id]
        assert (await store.list(ReceiptQuery(q="durian 0"), Scope.only("u1"))).items == []
    finally:
        await upgraded.aclose()


async def test_upgrading_merges_the_trigram_index_into_one_segment_and_keeps_every_search(tmp_path: Path) -> None:
    path = tmp_path / "walk_v2.sqlite3"
    old = SqliteDatabase(path)
    for name, ddl in [
        ("receipts_v1", sql.SCHEMA_V1),
        ("receipts_v2", SCHEMA_V2),
        ("receipts_claim_turns_v1", sql.CLAIM_TURNS_V1),
        ("receipts_v3", sql.SCHEMA_V3),
        ("receipts_v4", SCHEMA_V4),
        ("receipts_listing_v1", LISTING_V1),
        ("receipts_v5", SCHEMA_V5),
        ("receipts_search_walk_v1", SEARCH_WALK_V1),
        ("receipts_search_walk_v2", SEARCH_WALK_V2),
    ]:
        old.register_migration(name, ddl)
    await old.migrate()
    held = [make_receipt(owner, merchant=Merchant(name=f"Durian {n}"))[0] for n, owner in enumerate(["u1", "u2"] * 4)]
    for receipt in held:  # one transaction each: one FTS segment each
        await old.execute(sql.INSERT_SQL, sql.row_values(receipt))
    segments = "SELECT count(DISTINCT segid) FROM receipt_search_fts_idx"
    before = await old.fetchone(segments)
    assert before is not None
    assert before[0] > 1
    await old.aclose()
    upgraded = SqliteDatabase(path)
    store = SqliteReceiptStore(upgraded, tmp_path / "files")
    try:
        for owner in ("u1", "u2"):
            page = await store.list(ReceiptQuery(q="durian"), Scope.only(owner))
            assert {r.id for r in page.items} == {r.id for r in held if r.owner_id == owner}
            one = await store.list(ReceiptQuery(q="durian 3"), Scope.only(owner))
            assert [r.id for r in one.items] == [r.id for r in held[3:4] if r.owner_id == owner]
        after = await upgraded.fetchone(segments)
        assert after is not None
        assert after[0] == 1
        assert (await upgraded.applied_migrations())[-1] == "receipts_search_merge_v1"
    finally:
        await upgraded.aclose()
