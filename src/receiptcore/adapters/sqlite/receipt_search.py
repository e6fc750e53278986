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


# Migration receipts_v5: each owner's receipts get search rowids in a range of their own (``OWNER_SPAN`` wide,
# starting at the owner's ``base``), so a search inside one owner's receipts matches only those: the trigram index
# seeks to the range (FTS5 takes rowid bounds beside MATCH) and only the owner's matches are turned into receipt
# ids. Before, a search matched every owner's receipts and kept the caller's after that join (~1 µs per match on
# the 100,000-receipt bench store; at 1,000,000 a word on 15% of the receipts cost 0.1-0.5 s per page). The
# rowids are allocated by the insert trigger (the owner's largest + 1); the rows are copied with new rowids and
# the FTS index is rebuilt once, in the migration's transaction.
OWNER_SPAN = 1 << 32
# what both triggers that give a receipt to an owner run: the owner gets a range (the next free base) if new, and
# the row the owner's largest rowid + 1 in it
_INDEX_NEW_ROW = f"""\
    INSERT OR IGNORE INTO receipt_search_owners (owner_id, base)
        VALUES (new.owner_id, (SELECT coalesce(max(base), 0) + {OWNER_SPAN} FROM receipt_search_owners));
    INSERT INTO receipt_search (rid, receipt_id, search)
        SELECT coalesce((SELECT max(s.rid) FROM receipt_search AS s
                         WHERE s.rid > o.base AND s.rid < o.base + {OWNER_SPAN}), o.base) + 1, new.id, new.search
        FROM receipt_search_owners AS o WHERE o.owner_id = new.owner_id;
"""  # noqa: S608 - a constant (the span is a number)
SCHEMA_V5 = f"""
DROP TRIGGER IF EXISTS receipts_search_insert;
DROP TRIGGER IF EXISTS receipts_search_update;
DROP TRIGGER IF EXISTS receipts_search_delete;
DROP TRIGGER IF EXISTS receipt_search_fts_insert;
DROP TRIGGER IF EXISTS receipt_search_fts_delete;
DROP TRIGGER IF EXISTS receipt_search_fts_update;
DROP TABLE IF EXISTS receipt_search_fts;
DROP TABLE IF EXISTS receipt_search;
CREATE TABLE receipt_search_owners (owner_id TEXT PRIMARY KEY, base INTEGER NOT NULL UNIQUE);
INSERT INTO receipt_search_owners (owner_id, base)
    SELECT owner_id, {OWNER_SPAN} * row_number() OVER (ORDER BY owner_id) FROM receipts GROUP BY owner_id;
CREATE TABLE receipt_search (
    rid INTEGER PRIMARY KEY,
    receipt_id TEXT NOT NULL UNIQUE,
    search TEXT NOT NULL
);
INSERT INTO receipt_search (rid, receipt_id, search)
    SELECT o.base + row_number() OVER (PARTITION BY r.owner_id ORDER BY r.rowid), r.id, r.search
    FROM receipts AS r JOIN receipt_search_owners AS o ON o.owner_id = r.owner_id;
CREATE INDEX receipt_search_ids ON receipt_search (rid, receipt_id);
CREATE VIRTUAL TABLE receipt_search_fts USING fts5(
    search, content='receipt_search', content_rowid='rid', tokenize='trigram case_sensitive 1'
);
INSERT INTO receipt_search_fts (receipt_search_fts) VALUES ('rebuild');
CREATE TRIGGER receipt_search_fts_insert AFTER INSERT ON receipt_search BEGIN
    INSERT INTO receipt_search_fts (rowid, search) VALUES (new.rid, new.search);
END;
CREATE TRIGGER receipt_search_fts_delete AFTER DELETE ON receipt_search BEGIN
    INSERT INTO receipt_search_fts (receipt_search_fts, rowid, search) VALUES ('delete', old.rid, old.search);
END;
CREATE TRIGGER receipt_search_fts_update AFTER UPDATE OF search ON receipt_search BEGIN
    INSERT INTO receipt_search_fts (receipt_search_fts, rowid, search) VALUES ('delete', old.rid, old.search);
    INSERT INTO receipt_search_fts (rowid, search) VALUES (new.rid, new.search);
END;
CREATE TRIGGER receipts_search_insert AFTER INSERT ON receipts BEGIN
{_INDEX_NEW_ROW}END;
CREATE TRIGGER receipts_search_update AFTER UPDATE OF search ON receipts
WHEN new.search IS NOT old.search AND new.owner_id IS old.owner_id BEGIN
    UPDATE receipt_search SET search = new.search WHERE receipt_id = new.id;
END;
CREATE TRIGGER receipts_search_owner AFTER UPDATE OF owner_id ON receipts
WHEN new.owner_id IS NOT old.owner_id BEGIN
    DELETE FROM receipt_search WHERE receipt_id = old.id;
{_INDEX_NEW_ROW}END;
CREATE TRIGGER receipts_search_delete AFTER DELETE ON receipts BEGIN
    DELETE FROM receipt_search WHERE receipt_id = old.id;
END;
"""  # noqa: S608 - a constant (the span is a number)


# Migration receipts_search_walk_v1: the index a text search's walk reads (``receipt_search_page``), for the default
# sort inside one owner's receipts. The walk tests each receipt's search text on its way down the sort's index;
# through ``receipts_owner_created_walk`` each test read the receipt's row (~5 KB, a leaf page of its own in a
# 900 MB file: ~1.5-2.5 µs per row on the 100,000-receipt bench store, ~1,100 rows for a word on 4% of the
# receipts). This index carries the text beside every column the walk filters on, so the walk never leaves it
# (~0.35 µs per row). It is partial (``SEARCHED``): a row without text is never found by a search, and a listing
# without ``q`` does not say ``search <> ''``, so it cannot take this wider index instead of its own. The other
# sorts keep their walk through the table: each such index holds a copy of every receipt's text.
SEARCH_WALK_INDEX = "receipts_owner_created_search"
SEARCHED = "search <> ''"
SEARCH_WALK_V1 = f"""
CREATE INDEX IF NOT EXISTS {SEARCH_WALK_INDEX}
    ON receipts (owner_id, created_at, id, status, category, purchase_date, total_units, tags, merchant_key, search)
    WHERE {SEARCHED};
"""

# Migration receipts_search_walk_v2: the same for a search across every owner's receipts (``receipts:read:any``: an
# admin, who in a household install is the first user, or an auditor), whose walk read the rows in the order of
# ``receipts_created`` (1.1-2.6 ms per page for the bench's words on the 100,000-receipt store).
EVERYONE_WALK_INDEX = "receipts_created_search"
SEARCH_WALK_V2 = f"""
CREATE INDEX IF NOT EXISTS {EVERYONE_WALK_INDEX}
    ON receipts (created_at, id, owner_id, status, category, purchase_date, total_units, tags, merchant_key, search)
    WHERE {SEARCHED};
"""


# Migration receipts_search_merge_v1: the trigram index merged into one segment, once. FTS5 writes each transaction's
# rows as a new segment and merges them only four at a time per level (its ``automerge``), so a store written one
# receipt at a time holds a dozen or more segments (the 100,000-receipt bench store: 16), and every phrase query
# opens an iterator per trigram in each of them: that was 0.06-0.15 ms of every search page's capped count before
# it read a single match (0.008-0.02 ms on one segment; docs/benchmarks.md, "Text search, 2026-12-07 night").
# Later writes add small segments again, which automerge keeps to a few per level; the large merged one stays.
# ~3 s for 100,000 receipts on the loaded bench machine; no row, rowid or match changes.
SEARCH_MERGE_V1 = "INSERT INTO receipt_search_fts (receipt_search_fts) VALUES ('optimize');"


def search_clause(q: str, owner: str | None = None) -> tuple[str, list[Any]]:
    """The WHERE condition (on ``receipts``) for text search ``q``: rows whose search text contains it; with
    ``owner`` (a search inside one owner's receipts), only that owner's part of the index is searched."""
    needle = q.casefold()
    if len(needle) < TRIGRAM:
        return "search LIKE ? ESCAPE '\\'", [f"%{_escape_like(needle)}%"]
    condition, params = match_clause(needle, owner)
    return (
        # INDEXED BY: SQLite would otherwise look a rowid up in the table itself (SCHEMA_V4)
        "id IN (SELECT s.receipt_id FROM receipt_search_fts AS f"  # noqa: S608 - fixed SQL, bound parameters
        f" JOIN receipt_search AS s INDEXED BY receipt_search_ids ON s.rid = f.rowid WHERE {condition})",
        params,
    )


def match_clause(needle: str, owner: str | None) -> tuple[str, list[Any]]:
    """The MATCH of ``needle`` (three characters or more) on ``receipt_search_fts AS f``, inside ``owner``'s
    rowid range when given (no rowid at all for an owner without receipts)."""
    if owner is None:
        return "receipt_search_fts MATCH ?", [phrase(needle)]
    base = "(SELECT base FROM receipt_search_owners WHERE owner_id = ?)"
    return (
        f"receipt_search_fts MATCH ? AND f.rowid > {base} AND f.rowid < {base} + {OWNER_SPAN}",
        [phrase(needle), owner, owner],
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
