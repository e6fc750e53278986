"""SQL of the SQLite receipt store: schema and row mapping (the listing's WHERE/ORDER BY: ``receipt_page_sql``).

The receipt itself is stored as JSON (``Receipt.model_dump_json``); the columns beside it are derived from it on
every write and exist only to filter, sort, group and enforce uniqueness with indexes. Amounts are integers of
ten-thousandths, never floats, so sums are exact.
"""

from __future__ import annotations

import json
from typing import Any

from receiptcore.adapters.receipt_queries import (
    fold,
    iso_utc,
    search_text,
    total_units,
)

# the listing's SQL (receipt_page_sql), still importable from here as before (``as``: an explicit re-export)
from receiptcore.adapters.sqlite.receipt_page_sql import (
    LIST_DATA as LIST_DATA,  # noqa: PLC0414
)
from receiptcore.adapters.sqlite.receipt_page_sql import (
    LISTED_ATTEMPT_OUTPUTS as LISTED_ATTEMPT_OUTPUTS,  # noqa: PLC0414
)
from receiptcore.adapters.sqlite.receipt_page_sql import (
    after_clause as after_clause,  # noqa: PLC0414
)
from receiptcore.adapters.sqlite.receipt_page_sql import (
    filter_clause as filter_clause,  # noqa: PLC0414
)
from receiptcore.adapters.sqlite.receipt_page_sql import (
    list_statement as list_statement,  # noqa: PLC0414
)
from receiptcore.adapters.sqlite.receipt_page_sql import (
    order_clause as order_clause,  # noqa: PLC0414
)
from receiptcore.adapters.sqlite.receipt_page_sql import (
    page_select as page_select,  # noqa: PLC0414
)
from receiptcore.adapters.sqlite.receipt_page_sql import (
    scope_clause as scope_clause,  # noqa: PLC0414
)
from receiptcore.adapters.sqlite.receipt_page_sql import (
    search_owner as search_owner,  # noqa: PLC0414
)
from receiptcore.adapters.sqlite.receipt_page_sql import (
    sort_column_name as sort_column_name,  # noqa: PLC0414
)
from receiptcore.adapters.sqlite.receipt_page_sql import (
    through_clause as through_clause,  # noqa: PLC0414
)
from receiptcore.domain.receipt import Receipt
from receiptcore.ports import ListingProjection

# The round robin of claims (ports.ReceiptStore.claim_pending): per owner, the number of the last claim of one of
# their receipts; the claim with the lowest (or no) turn goes next.
CLAIM_TURNS_V1 = """
CREATE TABLE IF NOT EXISTS claim_turns (owner_id TEXT PRIMARY KEY, turn INTEGER NOT NULL);
"""
CLAIM_SQL = (
    "SELECT r.data FROM receipts r LEFT JOIN claim_turns t ON t.owner_id = r.owner_id"
    " WHERE r.status IN ('pending', 'processing') AND ("
    " (r.status = 'pending' AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= :at))"
    " OR (r.status = 'processing' AND (r.lease_until IS NULL OR r.lease_until < :at"
    " OR json_extract(r.data, '$.lease_owner') = :worker)))"
    " ORDER BY r.status = 'processing' AND json_extract(r.data, '$.lease_owner') IS :worker DESC,"
    " r.next_attempt_at IS NOT NULL, coalesce(t.turn, 0), r.created_at, r.id LIMIT 1"
)
TAKE_TURN_SQL = (
    "INSERT INTO claim_turns (owner_id, turn) VALUES (?, (SELECT coalesce(max(turn), 0) + 1 FROM claim_turns))"
    " ON CONFLICT (owner_id) DO UPDATE SET turn = excluded.turn"
)

SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS receipts (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    purchase_date TEXT,
    total_units INTEGER,
    currency TEXT,
    category TEXT,
    merchant_key TEXT,
    merchant_name TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    search TEXT NOT NULL DEFAULT '',
    next_attempt_at TEXT,
    lease_until TEXT,
    data TEXT NOT NULL,
    UNIQUE (owner_id, sha256)
);
CREATE INDEX IF NOT EXISTS receipts_owner_created ON receipts (owner_id, created_at, id);
CREATE INDEX IF NOT EXISTS receipts_owner_date ON receipts (owner_id, purchase_date, id);
CREATE INDEX IF NOT EXISTS receipts_owner_total ON receipts (owner_id, total_units, id);
CREATE INDEX IF NOT EXISTS receipts_created ON receipts (created_at, id);
CREATE INDEX IF NOT EXISTS receipts_date ON receipts (purchase_date, id);
CREATE INDEX IF NOT EXISTS receipts_total ON receipts (total_units, id);
CREATE INDEX IF NOT EXISTS receipts_sha256 ON receipts (sha256);
CREATE INDEX IF NOT EXISTS receipts_owner_status ON receipts (owner_id, status);
CREATE INDEX IF NOT EXISTS receipts_queue ON receipts (created_at, id) WHERE status IN ('pending', 'processing');
CREATE INDEX IF NOT EXISTS receipts_matching ON receipts (owner_id, merchant_key, purchase_date, total_units);
CREATE TABLE IF NOT EXISTS receipt_idempotency (
    owner_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    receipt_ids TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ')),
    PRIMARY KEY (owner_id, key)
);
"""

# Migration receipts_v3: the owner's sort indexes also carry every filter column a listing tests (status,
# category, the other sort columns, tags), so a page that walks one in order filters inside the index and reads
# the table only for the rows it returns (``_walk_columns``). They replace the narrow (owner_id, <sort>, id)
# indexes, which are their prefixes.
SCHEMA_V3 = """
CREATE INDEX IF NOT EXISTS receipts_owner_created_walk
    ON receipts (owner_id, created_at, id, status, category, purchase_date, total_units, tags);
CREATE INDEX IF NOT EXISTS receipts_owner_date_walk
    ON receipts (owner_id, purchase_date, id, status, category, total_units, tags);
CREATE INDEX IF NOT EXISTS receipts_owner_total_walk
    ON receipts (owner_id, total_units, id, status, category, purchase_date, tags);
DROP INDEX IF EXISTS receipts_owner_created;
DROP INDEX IF EXISTS receipts_owner_date;
DROP INDEX IF EXISTS receipts_owner_total;
"""

COLUMNS = (
    "id",
    "owner_id",
    "sha256",
    "status",
    "version",
    "created_at",
    "purchase_date",
    "total_units",
    "currency",
    "category",
    "merchant_key",
    "merchant_name",
    "tags",
    "search",
    "next_attempt_at",
    "lease_until",
    "data",
    "listing",
    "listing_key",
)
INSERT_SQL = f"INSERT INTO receipts ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"  # noqa: S608 - fixed column names
UPDATE_SQL = f"UPDATE receipts SET {', '.join(f'{c} = ?' for c in COLUMNS[1:])} WHERE id = ? AND version = ?"  # noqa: S608


def row_values(receipt: Receipt, projection: ListingProjection | None = None) -> list[Any]:
    """The column values of ``receipt`` in ``COLUMNS`` order; ``projection`` renders its list item (none: the
    listing columns stay NULL and a rendered page renders the receipt when it reads it)."""
    name = (receipt.merchant.name or "").strip()
    return [
        receipt.id,
        receipt.owner_id,
        receipt.source.sha256,
        receipt.status.value,
        receipt.version,
        iso_utc(receipt.created_at),
        receipt.purchase_date.isoformat() if receipt.purchase_date else None,
        total_units(receipt.total),
        receipt.currency,
        fold(receipt.category) or None,
        fold(name) or None,
        name or None,
        json.dumps(sorted({fold(tag) for tag in receipt.tags})),
        search_text(receipt),
        iso_utc(receipt.next_attempt_at) if receipt.next_attempt_at else None,
        iso_utc(receipt.lease_until) if receipt.lease_until else None,
        receipt.model_dump_json(),
        None if projection is None else projection.render(receipt),
        None if projection is None else projection.key,
    ]


def to_receipt(data: str) -> Receipt:
    """The receipt stored in a row's ``data`` column."""
    return Receipt.model_validate_json(data)


# the bytes an owner's receipts hold (each receipt counts its file, even when bytes are shared with another owner)
OWNER_BYTES_SQL = "SELECT COALESCE(SUM(json_extract(data, '$.source.size')), 0) FROM receipts WHERE owner_id = ?"
