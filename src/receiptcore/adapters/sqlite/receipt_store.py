"""SqliteReceiptStore: the ReceiptStore port on the shared SQLite database plus a content-addressed file tree.

Files live under ``files_dir/<sha256[:2]>/<sha256>``, shared by every receipt (of any owner) with the same bytes.
A file is written durably (temp file, fsync, rename, directory fsync) just before the ``BEGIN IMMEDIATE``
transaction that inserts the row, checked to still be there inside it (``receipt_files.settle``), and removed
again if the insert fails; it is deleted only when no receipt references its sha256 any more, inside the write
transaction. Holding SQLite's write lock from the check to the commit, and from "is this file still referenced?" to
"unlink it", is what keeps two processes from committing a row whose file another one just removed.

Beside this module: the row mapping and schema (``receipt_sql``), the listing's SQL (``receipt_page_sql``), its
pages and rendered items (``receipt_listing``), text search (``receipt_search``, ``receipt_search_page``), spending
summaries (``receipt_summary``), the file tree (``receipt_files``) and its sweep after a crash (``receipt_sweep``).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import datetime as dt
import json
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from receiptcore.adapters.receipt_queries import (
    CursorCodec,
    fold,
    iso_utc,
    quota_message,
    total_units,
)
from receiptcore.adapters.sqlite import receipt_files as files
from receiptcore.adapters.sqlite import receipt_sql as sql
from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.receipt_listing import LISTING_V1, ListingPages
from receiptcore.adapters.sqlite.receipt_search import (
    SCHEMA_V2,
    SCHEMA_V4,
    SCHEMA_V5,
    SEARCH_MERGE_V1,
    SEARCH_WALK_V1,
    SEARCH_WALK_V2,
)
from receiptcore.adapters.sqlite.receipt_summary import summarize
from receiptcore.adapters.sqlite.receipt_sweep import OrphanSweep
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import (
    Page,
    ReceiptQuery,
    SpendingSummary,
)
from receiptcore.domain.receipt import Receipt, SourceFile
from receiptcore.errors import Conflict, NotFound, QuotaExceeded, StorageUnavailable, require_version
from receiptcore.ports import (
    DumpedReceiptReader,
    ListingProjection,
    ListsRendered,
    ReceiptStore,
    RenderedReceiptReader,
)

log = logging.getLogger(__name__)

_RECEIPT_FIELDS = frozenset(Receipt.model_fields)
# msgspec's parser gives the same values as json.loads (and as pydantic's JSON mode) in about half the time
_parse_json = msgspec.json.Decoder().decode


class SqliteReceiptStore(ReceiptStore, ListsRendered, DumpedReceiptReader, RenderedReceiptReader):
    """Receipts in SQLite, original files on local disk.

    Args:
        db: the shared SQLite database (migrations are registered here and applied on first use).
        files_dir: root of the content-addressed file tree.
        cursor_codec: signs list cursors (default: a random key, valid in this process only).
        min_free_bytes: less free space than this in ``files_dir`` makes ``check_writable`` fail.
        projection: renders each receipt's list item when it is written, for ``list_rendered``
            (``receipt_listing``); None keeps no renderings (pages are then rendered when they are read).
    """

    def __init__(
        self,
        db: SqliteDatabase,
        files_dir: Path,
        cursor_codec: CursorCodec | None = None,
        min_free_bytes: int = files.MIN_FREE_BYTES,
        projection: ListingProjection | None = None,
    ) -> None:
        self._db = db
        self._projection = projection
        self._files_dir = Path(files_dir)
        self._cursors = cursor_codec or CursorCodec()
        self._pages = ListingPages(db, self._cursors, projection)
        self._space = files.SpaceProbe(self._files_dir, min_free_bytes)
        self._sweep = OrphanSweep(db, self._files_dir)
        db.register_migration("receipts_v1", sql.SCHEMA_V1)
        db.register_migration("receipts_v2", SCHEMA_V2)
        db.register_migration("receipts_claim_turns_v1", sql.CLAIM_TURNS_V1)
        db.register_migration("receipts_v3", sql.SCHEMA_V3)
        db.register_migration("receipts_v4", SCHEMA_V4)
        db.register_migration("receipts_listing_v1", LISTING_V1)
        db.register_migration("receipts_v5", SCHEMA_V5)
        db.register_migration("receipts_search_walk_v1", SEARCH_WALK_V1)
        db.register_migration("receipts_search_walk_v2", SEARCH_WALK_V2)
        db.register_migration("receipts_search_merge_v1", SEARCH_MERGE_V1)

    async def add(self, receipt: Receipt, content: bytes, *, quota_bytes: int | None = None) -> tuple[Receipt, bool]:
        """Store a new receipt and its file, or return the owner's existing receipt with the same sha256. The
        quota is summed inside the write transaction (``BEGIN IMMEDIATE``), so concurrent adds, even from other
        processes, are checked one after another. The file is made durable before the transaction (its fsyncs
        do not hold the write lock) and checked again inside it (``files.settle``)."""
        await self._db.migrate()
        await self._swept_once()
        sha = receipt.source.sha256
        path = self._path(sha)
        # rendered here, not under the write lock
        insertion = _Insertion(receipt, sql.row_values(receipt, self._projection), quota_bytes, path, content)
        try:
            insertion.placed = await files.place_off_loop(path, content)
            insertion.wrote = insertion.placed is not None
            # the whole transaction in one hop to the writer's thread: each awaited statement was a round trip
            # (a wake-up of the writer's thread, then of the loop), five per upload
            existing = await self._db.write(insertion)
        except sqlite3.IntegrityError as exc:
            await self._discard_unreferenced(sha, insertion.wrote)
            raise Conflict(f"receipt {receipt.id} already exists") from exc
        except BaseException:
            await self._discard_unreferenced(sha, insertion.wrote)
            raise
        finally:
            if insertion.placed is not None:
                insertion.placed.close()
        if existing is not None:
            return sql.to_receipt(existing), False
        return receipt, True

    async def get(self, receipt_id: str, scope: Scope) -> Receipt:
        """Return the receipt; NotFound when absent or outside ``scope``."""
        row = await self._visible_row(receipt_id, scope, "data")
        return sql.to_receipt(row[0])

    async def get_dumped(self, receipt_id: str, scope: Scope) -> dict[str, Any]:
        """The ``data`` column as it was written (``Receipt.model_dump_json()`` of a validated receipt), parsed
        but not validated again (ports.DumpedReceiptReader); NotFound when absent or outside ``scope``.

        A row written before a field existed lacks its key, where validation would fill its default: such a row
        (any set of keys but the model's) goes through ``get``, so the answer is always the dump of what ``get``
        returns. Only the store's own rows are read this way; a value is trusted as the validated model dumped it.
        """
        row = await self._visible_row(receipt_id, scope, "data")
        try:
            dumped = _parse_json(row[0])
        except msgspec.DecodeError:  # e.g. an integer past 64 bits in a correction's value: pydantic reads it
            dumped = None
        if type(dumped) is not dict or dumped.keys() != _RECEIPT_FIELDS:
            return sql.to_receipt(row[0]).model_dump(mode="json")
        return dumped

    async def get_rendered(
        self, receipt_id: str, scope: Scope, projection: ListingProjection
    ) -> tuple[bytes, int] | None:
        """The ``listing`` column and the version, when ``listing_key`` is ``projection.key`` (a rendering is
        written with its receipt, or kept by a page only while the receipt is the version rendered:
        ``receipt_listing``), else None (ports.RenderedReceiptReader); NotFound when absent or outside ``scope``."""
        row = await self._visible_row(receipt_id, scope, "listing_key, listing, version")
        if row[0] != projection.key or row[1] is None:
            return None
        return bytes(row[1]), int(row[2])

    async def open_file(self, receipt_id: str, scope: Scope) -> tuple[SourceFile, bytes]:
        """Return the original file's metadata and bytes; NotFound when absent or outside ``scope``."""
        receipt = await self.get(receipt_id, scope)
        try:
            content = await asyncio.to_thread(self._path(receipt.source.sha256).read_bytes)
        except OSError as exc:
            raise StorageUnavailable(f"the file of receipt {receipt_id} cannot be read") from exc
        return receipt.source, content

    async def list(self, query: ReceiptQuery, scope: Scope) -> Page[Receipt]:
        """One page of matching receipts in ``query.sort`` order (NULLs last), id as tie-breaker; list items
        leave out the extracted copy and the attempts' outputs (``receipt_listing.ListingPages.list``)."""
        return await self._pages.list(query, scope)

    async def list_rendered(self, query: ReceiptQuery, scope: Scope, projection: ListingProjection) -> Page[bytes]:
        """The page ``list`` returns, each item the row's stored rendering when it was made under
        ``projection.key``, else rendered now from the row's list projection (``receipt_listing``)."""
        return await self._pages.list_rendered(query, scope, projection)

    async def update(self, receipt: Receipt, expected_version: int) -> Receipt:
        """Compare-and-set on ``version``; the stored copy gets ``expected_version + 1``."""
        await self._db.migrate()
        stored = receipt.model_copy(update={"version": expected_version + 1})
        async with self._db.transaction() as conn:
            cursor = await conn.execute("SELECT version FROM receipts WHERE id = ?", (receipt.id,))
            row = await cursor.fetchone()
            require_version(f"receipt {receipt.id}", None if row is None else row[0], expected_version)
            await conn.execute(
                sql.UPDATE_SQL, [*sql.row_values(stored, self._projection)[1:], receipt.id, expected_version]
            )
        return stored

    async def delete(self, receipt_id: str, scope: Scope) -> None:
        """Delete the receipt, and its file when no other receipt shares the same bytes."""
        await self._db.migrate()
        where, params = sql.scope_clause(scope)
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                f"SELECT sha256 FROM receipts WHERE id = ? AND {where}",  # noqa: S608
                [receipt_id, *params],
            )
            row = await cursor.fetchone()
            if row is None:
                raise NotFound(f"receipt {receipt_id} not found")
            await conn.execute("DELETE FROM receipts WHERE id = ?", (receipt_id,))
            cursor = await conn.execute("SELECT 1 FROM receipts WHERE sha256 = ? LIMIT 1", (row[0],))
            if await cursor.fetchone() is None:
                await asyncio.to_thread(_unlink, self._path(row[0]))

    async def claim_pending(self, worker_id: str, now: dt.datetime, lease_until: dt.datetime) -> Receipt | None:
        """Take a claimable receipt (pending and due, or processing with an expired lease) in the fair order of
        the port, and make its owner the most recently served, in one ``BEGIN IMMEDIATE`` transaction."""
        await self._db.migrate()
        await self._swept_once()  # a worker's first claim comes right after start
        at = iso_utc(now)
        async with self._db.transaction() as conn:
            # BEGIN IMMEDIATE holds SQLite's write lock from here to COMMIT: no other process or coroutine can
            # pick the same row between this SELECT and the UPDATE.
            cursor = await conn.execute(sql.CLAIM_SQL, {"at": at, "worker": worker_id})
            row = await cursor.fetchone()
            if row is None:
                return None
            current = sql.to_receipt(row[0])
            claimed = current.claimed_by(worker_id, lease_until)
            await conn.execute(
                sql.UPDATE_SQL, [*sql.row_values(claimed, self._projection)[1:], current.id, current.version]
            )
            await conn.execute(sql.TAKE_TURN_SQL, (claimed.owner_id,))
        return claimed

    async def find_matching(self, receipt: Receipt) -> builtins.list[str]:
        """Ids of the owner's other receipts with the same merchant name, date, total and currency."""
        name = fold(receipt.merchant.name)
        if not name or receipt.purchase_date is None or receipt.total is None or receipt.currency is None:
            return []
        await self._db.migrate()
        rows = await self._db.fetchall(
            "SELECT id FROM receipts WHERE owner_id = ? AND merchant_key = ? AND purchase_date = ?"
            " AND total_units = ? AND currency = ? AND id != ? ORDER BY id",
            (
                receipt.owner_id,
                name,
                receipt.purchase_date.isoformat(),
                total_units(receipt.total),
                receipt.currency,
                receipt.id,
            ),
        )
        return [row[0] for row in rows]

    async def summarize(self, query: ReceiptQuery, scope: Scope) -> SpendingSummary:
        """Totals by month, category and (owner, merchant), per currency, and the receipts per owner and merchant
        (``receipt_summary``)."""
        await self._db.migrate()
        return await summarize(self._db, query, scope)

    async def recall_idempotency(self, owner_id: str, key: str) -> tuple[str, builtins.list[str]] | None:
        """The remembered (fingerprint, receipt ids) for this owner and key, or None."""
        await self._db.migrate()
        row = await self._db.fetchone(
            "SELECT fingerprint, receipt_ids FROM receipt_idempotency WHERE owner_id = ? AND key = ?", (owner_id, key)
        )
        return (row[0], json.loads(row[1])) if row else None

    async def remember_idempotency(
        self, owner_id: str, key: str, fingerprint: str, receipt_ids: builtins.list[str]
    ) -> None:
        """Remember an idempotent request's outcome; the first record for a key wins."""
        await self._db.migrate()
        await self._db.execute(
            "INSERT OR IGNORE INTO receipt_idempotency (owner_id, key, fingerprint, receipt_ids) VALUES (?, ?, ?, ?)",
            (owner_id, key, fingerprint, json.dumps(receipt_ids)),
        )

    async def _visible_row(self, receipt_id: str, scope: Scope, columns: str) -> sqlite3.Row:
        await self._db.migrate()
        where, params = sql.scope_clause(scope)
        # a primary-key read: on the loop's thread, no hop to a reader thread (SqliteDatabase.fetchone_point)
        row = await self._db.fetchone_point(
            f"SELECT {columns} FROM receipts WHERE id = ? AND {where}",  # noqa: S608
            [receipt_id, *params],
        )
        if row is None:
            raise NotFound(f"receipt {receipt_id} not found")
        return row

    async def _discard_unreferenced(self, sha: str, wrote: bool) -> None:
        """Remove a file this call wrote when no committed receipt references it (no half state)."""
        if not wrote:
            return
        with contextlib.suppress(StorageUnavailable):
            async with self._db.transaction() as conn:
                cursor = await conn.execute("SELECT 1 FROM receipts WHERE sha256 = ? LIMIT 1", (sha,))
                if await cursor.fetchone() is None:
                    await asyncio.to_thread(_unlink, self._path(sha))

    async def sweep_orphan_files(self) -> int:
        """Delete what a crash left in the file tree (temporary files, files no receipt references); return how
        many (``receipt_sweep``). Runs once per store on first use (the readiness probe, a worker's first claim or
        the first upload)."""
        return await self._sweep.run()

    async def check_writable(self) -> None:
        """StorageUnavailable when the file tree cannot take a new file (read-only, or less free space than
        ``min_free_bytes``); the answer is cached for a few seconds (the readiness probe asks often)."""
        self._sweep.start()  # not awaited: a large tree must not make the probe time out
        await asyncio.to_thread(self._space.check)

    async def _swept_once(self) -> None:
        await self._sweep.once()

    def _path(self, sha: str) -> Path:
        return self._files_dir / sha[:2] / sha


@dataclass(slots=True)
class _Insertion:
    """``add``'s write transaction, called on the writer's thread (``SqliteDatabase.write``): the data of the
    owner's receipt with these bytes when there is one, else the quota checked, the file made sure of
    (``files.settle``) and the row inserted (None)."""

    receipt: Receipt
    values: builtins.list[Any]
    quota_bytes: int | None
    path: Path
    content: bytes
    placed: files.Placed | None = None
    wrote: bool = False  # this add wrote the file (placed it, or settle wrote it again): removed if it fails

    def __call__(self, conn: sqlite3.Connection) -> str | None:
        owner, source = self.receipt.owner_id, self.receipt.source
        existing = conn.execute(
            "SELECT data FROM receipts WHERE owner_id = ? AND sha256 = ?", (owner, source.sha256)
        ).fetchone()
        if existing is not None:
            return str(existing[0])
        if self.quota_bytes is not None:
            row = conn.execute(sql.OWNER_BYTES_SQL, (owner,)).fetchone()
            used = int(row[0]) if row is not None else 0
            if used + source.size > self.quota_bytes:
                raise QuotaExceeded(quota_message(used, source.size, self.quota_bytes))
        try:
            # one stat (the file was just written, its inode is cached); written again when it is not the one placed
            if not files.is_placed(self.path, self.placed) and files.settle(self.path, self.placed, self.content):
                self.wrote = True
        finally:
            # checked under the write lock: nothing can remove the file before this transaction ends, so the
            # descriptor has done its work (closed here, not by a syscall on the event loop)
            if self.placed is not None:
                self.placed.close()
        conn.execute(sql.INSERT_SQL, self.values)
        return None


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise StorageUnavailable("cannot delete a receipt file") from exc
