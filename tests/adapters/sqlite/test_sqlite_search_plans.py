"""Every plan a text search page can take (``receipt_search_page``) gives the page the set-of-matches plan gives.

The thresholds are lowered so that small stores take each plan: none (no match), drive (few matches, read by id),
walk (a full page within the walk's rows), walk to the end (fewer candidates than the walk reads) and walk then
fallback (a page not full within the walk's rows). Each page, its cursor and the next pages are compared with
``sql.list_statement``'s (the FTS set-of-matches plan), for every sort, with filters and across owners. The plan
tests pin the index each plan reads, and a property test that the trigram phrase and ``instr`` select the same
texts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiptcore.adapters.receipt_queries import CursorPosition
from receiptcore.adapters.sqlite import receipt_search_page as search
from receiptcore.adapters.sqlite import receipt_sql as sql
from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.receipt_search import EVERYONE_WALK_INDEX, SEARCH_WALK_INDEX, phrase
from receiptcore.adapters.sqlite.receipt_store import SqliteReceiptStore
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery, SortKey
from receiptcore.domain.receipt import LineItem, Merchant, ReceiptStatus
from tests.factories import T0, make_receipt

OWNERS = ("u1", "u2")
WORDS = ("durian", "kopi", "teh tarik", "roti", "nasi lemak")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteReceiptStore]:
    db = SqliteDatabase(tmp_path / "receipts.sqlite3")
    store = SqliteReceiptStore(db, tmp_path / "files")
    await db.migrate()
    for n in range(60):
        # "durian" on every third receipt, "kopi" on every one of u1's first ten, "teh tarik" on one, "roti" on
        # most; ties on created_at, NULL totals and dates; every tenth receipt has no text at all (it is not in
        # the partial index a walk reads) and every fourth a tag
        words = [
            w
            for w, keep in zip(WORDS, (n % 3 == 0, n < 20 and n % 2 == 0, n == 17, n % 7 != 0, False), strict=True)
            if keep
        ]
        receipt, _ = make_receipt(
            OWNERS[n % 2],
            created_at=T0 + dt.timedelta(minutes=n // 3),
            status=ReceiptStatus.CONFIRMED if n % 4 else ReceiptStatus.NEEDS_REVIEW,
            merchant=Merchant(name=None if n % 10 == 4 else " ".join(words) or f"Shop {n}"),
            total=None if n % 11 == 0 else Decimal(n % 9),
            purchase_date=None if n % 13 == 0 else dt.date(2026, 1, 1 + n % 5),
            line_items=[] if n % 10 == 4 else [LineItem(description=f"item {n}", amount=Decimal(1))],
            tags=["work"] if n % 4 == 1 else [],
        )
        await db.execute(sql.INSERT_SQL, sql.row_values(receipt))
    yield store
    await db.aclose()


async def _reference(store: SqliteReceiptStore, query: ReceiptQuery, scope: Scope) -> list[list[str]]:
    """Every page of ``query`` through the set-of-matches plan: the ids of each page."""
    pages, position = [], None
    while True:
        statement, params = sql.list_statement(query, scope, position, "r.id, " + _sort_column(query))
        rows = await store._db.fetchall(statement, params)
        pages.append([row[0] for row in rows[: query.limit]])
        if len(rows) <= query.limit:
            return pages
        position = CursorPosition(query.sort, rows[query.limit - 1][1], rows[query.limit - 1][0])


def _sort_column(query: ReceiptQuery) -> str:
    return "r." + sql.sort_column_name(query.sort)


async def _pages(store: SqliteReceiptStore, query: ReceiptQuery, scope: Scope) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = await store.list(query.model_copy(update={"cursor": cursor}), scope)
        pages.append([r.id for r in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


# (DRIVE_MATCHES, WALK_ROWS, MORE_WALK_ROWS): as shipped (drive, these stores are small), then walks to the end,
# walks that fill a page or give up (8 rows), walks of the text index that go on 8 more rows (and then fill it or
# give up) or to the end, and walks that always give up (1 row, and 1 more)
@pytest.mark.parametrize(
    "thresholds", [(500, 2000, 6000), (0, 2000, 6000), (0, 8, 0), (0, 8, 8), (0, 8, 6000), (0, 1, 1)], ids=str
)
@pytest.mark.parametrize("sort", list(SortKey), ids=str)
@pytest.mark.parametrize(
    "filters",
    [
        {"q": "durian"},
        {"q": "kopi"},
        {"q": "teh tarik"},
        {"q": "roti", "status": ReceiptStatus.CONFIRMED},
        {"q": "oti", "min_total": Decimal(3)},
        {"q": "roti", "tag": "work", "date_from": dt.date(2026, 1, 2)},
        {"q": "durian", "owner_id": "u2"},
        {"q": "zzz"},
        {"q": "nasi lemak"},
    ],
    ids=str,
)
async def test_every_plan_pages_like_the_set_of_matches(
    store: SqliteReceiptStore,
    monkeypatch: pytest.MonkeyPatch,
    thresholds: tuple[int, int, int],
    sort: SortKey,
    filters: dict[str, object],
) -> None:
    monkeypatch.setattr(search, "DRIVE_MATCHES", thresholds[0])
    monkeypatch.setattr(search, "WALK_ROWS", thresholds[1])
    monkeypatch.setattr(search, "MORE_WALK_ROWS", thresholds[2])
    for scope in (Scope.only("u1"), Scope.everyone()):
        query = ReceiptQuery(sort=sort, limit=4, **filters)  # type: ignore[arg-type]
        assert await _pages(store, query, scope) == await _reference(store, query, scope), scope


async def test_each_plan_reads_the_index_it_is_for(store: SqliteReceiptStore) -> None:
    db = store._db
    scope = Scope.only("u1")
    query = ReceiptQuery(q="durian", status=ReceiptStatus.CONFIRMED, limit=50)

    async def plan(statement: tuple[str, list[object]]) -> list[str]:
        return [str(row[3]) for row in await db.fetchall(f"EXPLAIN QUERY PLAN {statement[0]}", statement[1])]

    drive = await plan(search.drive_statement(query, scope, None, "r.id", ()))
    # the matches' ids are the way in: no walk of an owner index
    assert any("sqlite_autoindex_receipts_1 (id=?)" in line and line.startswith("SEARCH receipts") for line in drive), (
        drive
    )
    assert not any("receipts_owner" in line for line in drive), drive
    # and the matches are the caller's only: the trigram index seeks to their rowid range (receipts_v5)
    assert "SCAN f VIRTUAL TABLE INDEX 0:M1><" in drive, drive
    boundary = await plan(search.boundary_statement(query, scope, None))
    assert any("COVERING INDEX receipts_owner_status_created" in line for line in boundary), boundary
    position = CursorPosition(query.sort, "2026-01-01T00:00:00.000000Z", "0190a000-0000-7000-8000-000000000000")
    walk = await plan(search.walk_statement(query, scope, None, "r.id", (), boundary=position))
    # the walk seeks to its bound in the sort's index instead of reading on to the end of it
    assert any("receipts_owner_status_created (owner_id=? AND status=? AND created_at>?)" in line for line in walk), (
        walk
    )
    # without a status or category filter the walk reads the text from the index beside the sort's columns
    plain = ReceiptQuery(q="durian", tag="work", limit=50)
    walk = await plan(search.walk_statement(plain, scope, None, "r.id", (), boundary=position))
    assert any(f"COVERING INDEX {SEARCH_WALK_INDEX} (owner_id=? AND created_at>?)" in line for line in walk), walk
    # and across every owner's receipts from the index of all of them
    walk = await plan(search.walk_statement(plain, Scope.everyone(), None, "r.id", (), boundary=position))
    assert any(f"COVERING INDEX {EVERYONE_WALK_INDEX} (created_at>?)" in line for line in walk), walk


@pytest.mark.parametrize("sort", list(SortKey), ids=str)
@pytest.mark.parametrize(
    "filters",
    [{}, {"tag": "work"}, {"status": ReceiptStatus.CONFIRMED}, {"date_from": dt.date(2026, 1, 2)}, {"q": "durian"}],
    ids=str,
)
async def test_no_other_read_takes_the_walks_text_index(
    store: SqliteReceiptStore, sort: SortKey, filters: dict[str, object]
) -> None:
    """The partial index of the walk's text is wider than the listing's own: a listing page, the set-of-matches
    plan and the other plans' statements keep to the indexes they read before it existed."""
    query = ReceiptQuery(sort=sort, limit=50, **filters)  # type: ignore[arg-type]
    for scope in (Scope.only("u1"), Scope.everyone()):
        statements = [sql.list_statement(query, scope, None, "r.id"), search.boundary_statement(query, scope, None)]
        if query.q:
            statements.append(search.drive_statement(query, scope, None, "r.id", ()))
        for statement, params in statements:
            lines = await store._db.fetchall(f"EXPLAIN QUERY PLAN {statement}", params)
            assert not any(
                index in str(line[3]) for line in lines for index in (SEARCH_WALK_INDEX, EVERYONE_WALK_INDEX)
            ), (statement, scope)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(st.text(alphabet='ab "\u00e9\u4e2d%_', max_size=12), min_size=1, max_size=8),
    needle=st.text(alphabet='ab "\u00e9\u4e2d%_', min_size=3, max_size=5),
)
async def test_the_trigram_phrase_and_instr_select_the_same_texts(
    store: SqliteReceiptStore, texts: list[str], needle: str
) -> None:
    db = store._db
    await db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS t USING fts5(x, tokenize='trigram case_sensitive 1')")
    await db.execute("DELETE FROM t")
    for text in texts:
        await db.execute("INSERT INTO t (x) VALUES (?)", (text,))
    matched = await db.fetchall("SELECT rowid FROM t WHERE t MATCH ? ORDER BY rowid", (phrase(needle),))
    scanned = await db.fetchall("SELECT rowid FROM t WHERE instr(x, ?) > 0 ORDER BY rowid", (needle,))
    assert [r[0] for r in matched] == [r[0] for r in scanned]


async def test_a_search_of_text_alone_in_a_small_owners_receipts_reads_fewer_matches_by_id(
    store: SqliteReceiptStore,
) -> None:
    async def cap(query: ReceiptQuery, scope: Scope) -> int:
        return await store._db.read(lambda conn: search.drive_cap(conn, query, scope))

    # u1 holds 30 receipts: a walk of the text index beats reading more than 2 * sqrt(30) matches by id
    assert await cap(ReceiptQuery(q="durian"), Scope.only("u1")) == 10
    assert await cap(ReceiptQuery(q="durian", owner_id="u1"), Scope.everyone()) == 10
    # with another filter, across owners, for an owner without receipts, or where the walk reads the table: as set
    assert await cap(ReceiptQuery(q="durian", tag="work"), Scope.only("u1")) == search.DRIVE_MATCHES
    assert await cap(ReceiptQuery(q="durian"), Scope.everyone()) == search.DRIVE_MATCHES
    assert await cap(ReceiptQuery(q="durian"), Scope.only("nobody")) == search.DRIVE_MATCHES
    status = ReceiptQuery(q="durian", status=ReceiptStatus.CONFIRMED)
    assert await cap(status, Scope.only("u1")) == search.DRIVE_MATCHES
    by_date = ReceiptQuery(q="durian", sort=SortKey.DATE_DESC)
    assert await cap(by_date, Scope.only("u1")) == search.DRIVE_MATCHES
