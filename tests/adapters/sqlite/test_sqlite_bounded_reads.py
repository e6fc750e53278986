"""Bounded reads (``SqliteDatabase.fetchall_bounded``, a listing page's read) run on the event loop's thread while
they stay within ``LOOP_READ_STEPS`` SQLite VM steps; a longer one is stopped there and answered, whole, by a reader
thread, so the loop never spends more than that budget on one."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from receiptcore.adapters.sqlite import database, loop_reads
from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.receipt_store import SqliteReceiptStore
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery, SortKey
from receiptcore.entrypoints.http.representation import API_LISTING
from receiptcore.errors import StorageUnavailable
from tests.factories import make_receipt

# ~300,000 rows of a recursive CTE: far more VM steps than the budget
LONG = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) SELECT sum(i) FROM n"


@pytest.fixture
def db(notes_db: SqliteDatabase) -> SqliteDatabase:
    return notes_db


async def test_a_short_read_runs_on_the_loop_thread(db: SqliteDatabase) -> None:
    before = {thread.ident for thread in threading.enumerate()}
    rows = await db.fetchall_bounded("SELECT id, text FROM notes ORDER BY id")
    assert [tuple(row) for row in rows] == [(1, "committed")]
    assert db._readers.readers == []  # no reader connection (and so no reader thread) was needed
    assert {thread.ident for thread in threading.enumerate()} <= before


async def test_a_read_past_the_budget_is_answered_whole_by_a_reader_thread(db: SqliteDatabase) -> None:
    rows = await db.fetchall_bounded(LONG)
    assert rows[0][0] == 300000 * 300001 // 2
    assert len(db._readers.readers) == 1  # stopped on the loop, run again on a reader's thread
    # the budget is the bounded read's only: the loop's connection reads without one again
    assert (await db.fetchone_point(LONG))[0] == 300000 * 300001 // 2  # type: ignore[index]
    assert len(db._readers.readers) == 1


async def test_a_bounded_read_sees_the_commit_just_before_it(db: SqliteDatabase) -> None:
    for n in range(2, 6):
        await db.execute("INSERT INTO notes (id, text) VALUES (?, 'more')", (n,))
        rows = await db.fetchall_bounded("SELECT count(*) FROM notes")
        assert rows[0][0] == n


async def test_a_bounded_read_cannot_write(db: SqliteDatabase) -> None:
    with pytest.raises(StorageUnavailable):
        await db.fetchall_bounded("INSERT INTO notes (id, text) VALUES (9, 'x') RETURNING id")


async def test_an_in_memory_database_reads_through_its_one_connection() -> None:
    memory = SqliteDatabase(":memory:")
    memory.register_migration("n_v1", "CREATE TABLE n (i INTEGER);")
    try:
        await memory.migrate()
        await memory.execute("INSERT INTO n (i) VALUES (7)")
        assert [row[0] for row in await memory.fetchall_bounded("SELECT i FROM n")] == [7]
    finally:
        await memory.aclose()


@pytest.mark.parametrize("sort", list(SortKey), ids=str)
async def test_a_listing_page_is_the_same_on_the_loop_and_off_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sort: SortKey
) -> None:
    db = SqliteDatabase(tmp_path / "receiptcore.sqlite3")
    store = SqliteReceiptStore(db, tmp_path / "files", projection=API_LISTING)
    try:
        for n in range(7):
            receipt, content = make_receipt("u1", total=f"{n % 3}.50", tags=["work"] if n % 2 else [])
            await store.add(receipt, content)
        other, content = make_receipt("u2")
        await store.add(other, content)
        pages: dict[str, list[object]] = {}
        for where, steps in (("loop", database.LOOP_READ_STEPS), ("thread", 0)):
            monkeypatch.setattr(database, "LOOP_READ_STEPS", steps)
            monkeypatch.setattr(loop_reads, "STEPS_PER_CHECK", 1 if steps == 0 else loop_reads.STEPS_PER_CHECK)
            walked: list[object] = []
            query = ReceiptQuery(sort=sort, limit=3)
            while True:
                page = await store.list_rendered(query, Scope.only("u1"), API_LISTING)
                walked.append((page.items, page.next_cursor))
                if page.next_cursor is None:
                    break
                query = query.model_copy(update={"cursor": page.next_cursor})
            pages[where] = walked
            readers = len(db._readers.readers)
            assert readers == (0 if where == "loop" else 1), where
        assert pages["loop"] == pages["thread"]
        assert len(pages["loop"]) == 3
    finally:
        await db.aclose()
