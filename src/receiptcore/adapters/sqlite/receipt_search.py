"""Text search and listing indexes of the SQLite receipt store (migration ``receipts_v2``).

``q`` searches the ``search`` column (merchant, address, items, receipt number, notes, raw text, casefolded) as a
substring. ``LIKE '%q%'`` does that by reading every row; here an FTS5 table with the trigram tokenizer indexes
every three-character sequence of that text, and a quoted FTS5 phrase of the query finds exactly the rows that
contain it as a substring (case-sensitively, on text and query that are both casefolded already, which is what
the ``LIKE`` on casefolded text did). A query shorter than three characters has no trigram, so it keeps the
``LIKE`` scan (it matches a large share of the receipts anyway).

The FTS table indexes ``receipt_search``, a side table with an ``INTEGER PRIMARY KEY`` of its own: FTS5 addresses
rows by rowid, and the rowid of ``receipts`` (a table keyed by text) may change under ``VACUUM``. Triggers keep
``receipt_search`` and the FTS index in step with ``receipts`` inside the writing statement, so in the same
transaction, whatever path writes a receipt (insert, update, claim, delete).

The extra indexes serve the list filters with the default sort inside one owner's receipts (status and category
tabs) and across owners (an auditor's status view), so those pages walk an index in order instead of reading
and discarding every other receipt.
"""

from __future__ import annotations

from typing import Any

# The trigram tokenizer indexes sequences of this many characters; shorter queries cannot use it.
TRIGRAM = 3

SCHEMA_V2 = """
CREATE TABLE IF NOT EXISTS receipt_search (
    rid INTEGER PRIMARY KEY,
    receipt_id TEXT NOT NULL UNIQUE,
    search TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS receipt_search_fts USING fts5(
    search, content='receipt_search', content_rowid='rid', tokenize='trigram case_sensitive 1'
);
CREATE TRIGGER IF NOT EXISTS receipt_search_fts_insert AFTER INSERT ON receipt_search BEGIN
    INSERT INTO receipt_search_fts (rowid, search) VALUES (new.rid, new.search);
END;
CREATE TRIGGER IF NOT EXISTS receipt_search_fts_delete AFTER DELETE ON receipt_search BEGIN
    INSERT INTO receipt_search_fts (receipt_search_fts, rowid, search) VALUES ('delete', old.rid, old.search);
END;
CREATE TRIGGER IF NOT EXISTS receipt_search_fts_update AFTER UPDATE OF search ON receipt_search BEGIN
    INSERT INTO receipt_search_fts (receipt_search_fts, rowid, search) VALUES ('delete', old.rid, old.search);
    INSERT INTO receipt_search_fts (rowid, search) VALUES (new.rid, new.search);
END;
CREATE TRIGGER IF NOT EXISTS receipts_search_insert AFTER INSERT ON receipts BEGIN
    INSERT INTO receipt_search (receipt_id, search) VALUES (new.id, new.search);
END;
CREATE TRIGGER IF NOT EXISTS receipts_search_update AFTER UPDATE OF search ON receipts
WHEN new.search IS NOT old.search BEGIN
    UPDATE receipt_search SET search = new.search WHERE receipt_id = new.id;
END;
CREATE TRIGGER IF NOT EXISTS receipts_search_delete AFTER DELETE ON receipts BEGIN
    DELETE FROM receipt_search WHERE receipt_id = old.id;
END;
INSERT INTO receipt_search (receipt_id, search) SELECT id, search FROM receipts WHERE true
    ON CONFLICT (receipt_id) DO NOTHING;
DROP INDEX IF EXISTS receipts_owner_status;
CREATE INDEX IF NOT EXISTS receipts_owner_status_created ON receipts (owner_id, status, created_at, id);
CREATE INDEX IF NOT EXISTS receipts_owner_category_created ON receipts (owner_id, category, created_at, id);
CREATE INDEX IF NOT EXISTS receipts_status_created ON receipts (status, created_at, id);
"""

# Migration receipts_v4: a match's receipt id comes from a narrow index instead of the receipt_search row, which
# also holds the whole search text (several rows per page, often overflow pages): at 100,000 receipts the join
# from the FTS matches to their ids was 10x the MATCH itself, and this halves it (bench/listing_bench.py).
SCHEMA_V4 = """
CREATE INDEX IF NOT EXISTS receipt_search_ids ON receipt_search (rid, receipt_id);
"""


def search_clause(q: str) -> tuple[str, list[Any]]:
    """The WHERE condition (on ``receipts``) for text search ``q``: rows whose search text contains it."""
    needle = q.casefold()
    if len(needle) < TRIGRAM:
        return "search LIKE ? ESCAPE '\\'", [f"%{_escape_like(needle)}%"]
    return (
        # INDEXED BY: SQLite would otherwise look a rowid up in the table itself (SCHEMA_V4)
        "id IN (SELECT s.receipt_id FROM receipt_search_fts AS f"
        " JOIN receipt_search AS s INDEXED BY receipt_search_ids ON s.rid = f.rowid"
        " WHERE receipt_search_fts MATCH ?)",
        [phrase(needle)],
    )


def scan_clause(q: str) -> tuple[str, list[Any]]:
    """``search_clause`` as a test of each row's search text, for a walk that reads few rows (the trigram phrase
    and ``instr`` select the same rows: both texts are casefolded and the phrase is the substring's trigrams, in
    order)."""
    needle = q.casefold()
    if len(needle) < TRIGRAM:
        return search_clause(q)
    return "instr(search, ?) > 0", [needle]


def phrase(needle: str) -> str:
    """``needle`` as a quoted FTS5 phrase: every character is literal, a double quote is written twice."""
    return '"' + needle.replace('"', '""') + '"'


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
