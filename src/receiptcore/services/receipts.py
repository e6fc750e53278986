"""Receipt use cases: upload, list, get, file, correct, confirm, delete, re-extract, export, summary.

Every method starts from the caller's scope (``receipt_scope``), so a receipt outside it is simply not found.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import unicodedata
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from receiptcore.domain.events import Event, EventType
from receiptcore.domain.ids import new_id
from receiptcore.domain.lifecycle import Transition
from receiptcore.domain.policy import Principal, ReceiptAction, Scope, receipt_scope, require
from receiptcore.domain.queries import Page, ReceiptQuery, SpendingSummary
from receiptcore.domain.receipt import Receipt, SourceFile
from receiptcore.domain.users import RECEIPTS_WRITE
from receiptcore.errors import (
    Conflict,
    InvalidUpload,
    NotFound,
    PermissionDenied,
    UploadTooLarge,
    VersionConflict,
)
from receiptcore.ports import (
    Clock,
    DumpedReceiptReader,
    EventBus,
    FileInspector,
    Inspection,
    ListingProjection,
    ListsRendered,
    ReceiptStore,
    RenderedReceiptReader,
)
from receiptcore.services.corrections import apply_changes
from receiptcore.services.merchants import MerchantService
from receiptcore.services.upload_slots import UploadSlots

# held here: pydantic keeps a parametrised generic model only weakly (adapters/sqlite/receipt_store.ReceiptPage)
RenderedPage = Page[bytes]

_EXPORT_PAGE = 500


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """Caps applied before anything is stored."""

    max_bytes: int = 20 * 1024 * 1024
    max_files: int = 20
    concurrent_per_owner: int = 4
    concurrent_total: int = 16
    quota_bytes: int | None = None  # per owner, all their stored files together; None: no quota


@dataclass(frozen=True, slots=True)
class Upload:
    """One uploaded file as received (the declared type is only a hint; the type is sniffed).

    Either ``content`` holds the bytes, or ``reader`` returns them on demand (a spool file): the service then
    holds one file of a request in memory at a time, not all of them.
    """

    content: bytes = b""
    filename: str | None = None
    declared_type: str | None = None
    reader: Callable[[], bytes] | None = None

    def data(self) -> bytes:
        """The file's bytes."""
        return self.reader() if self.reader is not None else self.content


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    """A stored receipt and whether this upload created it (False: same bytes already uploaded by the owner)."""

    receipt: Receipt
    created: bool


@dataclass(frozen=True, slots=True)
class _Checked:
    upload: Upload
    sha256: str
    size: int
    inspection: Inspection


class ReceiptService:
    """Everything a person does with their receipts."""

    def __init__(
        self,
        store: ReceiptStore,
        inspector: FileInspector,
        bus: EventBus,
        clock: Clock,
        limits: UploadLimits | None = None,
        *,
        merchants: MerchantService | None = None,
    ) -> None:
        self._store = store
        self._dumped = store if isinstance(store, DumpedReceiptReader) else None
        self._rendered = store if isinstance(store, RenderedReceiptReader) else None
        # once here: isinstance of a runtime-checkable Protocol costs ~5-10 µs, on every listing page it was asked
        self._lists_rendered = store if isinstance(store, ListsRendered) else None
        self._inspector = inspector
        self._bus = bus
        self._clock = clock
        self._limits = limits or UploadLimits()
        self._merchants = merchants  # learns from corrections; groups spending by canonical merchant
        self._slots = UploadSlots(self._limits.concurrent_per_owner, self._limits.concurrent_total)

    def upload_slot(self, principal: Principal) -> AbstractContextManager[None]:
        """Needs receipts:write. One of the caller's (and this process's) upload slots, held while the request
        body is read and stored; RateLimited when the caller or the process has the most uploads in progress."""
        require(principal, RECEIPTS_WRITE)
        return self._slots.hold(principal.user_id)

    async def upload(
        self, principal: Principal, uploads: builtins.list[Upload], idempotency_key: str | None = None
    ) -> builtins.list[UploadOutcome]:
        """Needs receipts:write. Validates every file first (size, sniffed type, pixel/page bombs, corruption); if
        any is bad nothing is stored. Stores each as pending, publishes receipt.uploaded. Same bytes from the same
        owner return the existing receipt. The same idempotency key with the same files returns the same receipts;
        with different files → Conflict."""
        require(principal, RECEIPTS_WRITE)
        if not uploads:
            raise InvalidUpload("the request holds no file", errors=[{"field": "file", "message": "required"}])
        if len(uploads) > self._limits.max_files:
            raise UploadTooLarge(f"at most {self._limits.max_files} files per upload, got {len(uploads)}")
        checked = [await self._check(index, upload) for index, upload in enumerate(uploads)]
        owner = principal.user_id
        fingerprint = hashlib.sha256("".join(c.sha256 for c in checked).encode()).hexdigest()
        if idempotency_key is not None:
            replay = await self._replay(owner, idempotency_key, fingerprint)
            if replay is not None:
                return replay
        outcomes = [await self._store_one(owner, c) for c in checked]
        if idempotency_key is not None:
            await self._store.remember_idempotency(
                owner, idempotency_key, fingerprint, [o.receipt.id for o in outcomes]
            )
        return outcomes

    async def list(self, principal: Principal, query: ReceiptQuery) -> Page[Receipt]:
        """Needs receipts:read (scope widened by receipts:read:any)."""
        return await self._store.list(query, receipt_scope(principal, ReceiptAction.READ))

    async def list_rendered(
        self, principal: Principal, query: ReceiptQuery, projection: ListingProjection
    ) -> Page[bytes]:
        """Needs receipts:read. The page ``list`` returns with each item rendered by ``projection``: by the store
        when it keeps rendered items (``ListsRendered``), else here."""
        scope = receipt_scope(principal, ReceiptAction.READ)
        if self._lists_rendered is not None:
            return await self._lists_rendered.list_rendered(query, scope, projection)
        page = await self._store.list(query, scope)
        return RenderedPage(items=[projection.render(r) for r in page.items], next_cursor=page.next_cursor)

    async def get(self, principal: Principal, receipt_id: str) -> Receipt:
        """Needs receipts:read. NotFound outside the caller's scope."""
        return await self._store.get(receipt_id, receipt_scope(principal, ReceiptAction.READ))

    async def get_dumped(self, principal: Principal, receipt_id: str) -> dict[str, Any]:
        """``get`` as ``Receipt.model_dump(mode="json")`` gives it, read from the store's own dump when it keeps
        one (``DumpedReceiptReader``). Needs receipts:read. NotFound outside the caller's scope."""
        scope = receipt_scope(principal, ReceiptAction.READ)
        if self._dumped is not None:
            return await self._dumped.get_dumped(receipt_id, scope)
        return (await self._store.get(receipt_id, scope)).model_dump(mode="json")

    async def get_rendered(
        self, principal: Principal, receipt_id: str, projection: ListingProjection
    ) -> tuple[bytes, int] | None:
        """``projection.render(get(...))`` and the receipt's version from the store's kept rendering
        (``RenderedReceiptReader``), or None when it keeps none under ``projection.key``. Needs receipts:read.
        NotFound outside the caller's scope."""
        if self._rendered is None:
            return None
        return await self._rendered.get_rendered(receipt_id, receipt_scope(principal, ReceiptAction.READ), projection)

    async def open_file(self, principal: Principal, receipt_id: str) -> tuple[SourceFile, bytes]:
        """Needs receipts:read. The original bytes."""
        return await self._store.open_file(receipt_id, receipt_scope(principal, ReceiptAction.READ))

    async def correct(
        self, principal: Principal, receipt_id: str, changes: dict[str, Any], expected_version: int | None
    ) -> Receipt:
        """Needs receipts:write. ``changes`` maps top-level ReceiptData fields (and category, tags, notes) to new
        values; each change is logged as a Correction keeping the old value; the consistency check re-runs.
        ``expected_version`` (If-Match) → VersionConflict on mismatch. Publishes receipt.updated."""
        receipt = await self._writable(principal, receipt_id, expected_version)
        # a receipt mid-extraction refuses before its input is judged
        receipt.require(Transition.CORRECT)
        updated = apply_changes(receipt, changes, by=principal.user_id, at=self._clock.now())
        if updated is receipt:
            return receipt
        stored = await self._save(updated, receipt.version, "receipt.updated")
        if self._merchants is not None:
            await self._merchants.learn(receipt, stored)
        return stored

    async def confirm(self, principal: Principal, receipt_id: str, expected_version: int | None = None) -> Receipt:
        """Needs receipts:write. Marks an extracted/needs_review receipt confirmed (a confirmed one stays as it is);
        pending, processing or failed → InvalidTransition (a Conflict)."""
        receipt = await self._writable(principal, receipt_id, expected_version)
        updated = receipt.confirmed(self._clock.now())
        if updated is receipt:
            return receipt
        return await self._save(updated, receipt.version, "receipt.updated")

    async def delete(self, principal: Principal, receipt_id: str) -> None:
        """Needs receipts:write. Deletes receipt and file; publishes receipt.deleted."""
        scope = receipt_scope(principal, ReceiptAction.WRITE)
        receipt = await self._store.get(receipt_id, scope)
        await self._store.delete(receipt_id, scope)
        await self._publish("receipt.deleted", receipt)

    async def reextract(self, principal: Principal, receipt_id: str) -> Receipt:
        """Needs receipts:write. Puts the receipt back to pending (attempt history kept; a pending one stays as it
        is); processing → InvalidTransition (a Conflict)."""
        receipt = await self._writable(principal, receipt_id, None)
        queued = receipt.requeued(self._clock.now())
        if queued is receipt:
            return receipt
        # receipt.updated with status pending also wakes idle workers early
        return await self._save(queued, receipt.version, "receipt.updated")

    def export(self, principal: Principal, query: ReceiptQuery) -> AsyncIterator[Receipt]:
        """Needs receipts:read. Every receipt matching ``query`` (all pages, in its sort), read a page at a time;
        the HTTP entrypoint writes them as CSV or JSON (``receiptcore.entrypoints.http.export_formats``)."""
        # checked before streaming starts, so a denial is an error response, not a broken download
        scope = receipt_scope(principal, ReceiptAction.READ)
        return self._stream(query.model_copy(update={"limit": _EXPORT_PAGE}), scope)

    async def summary(self, principal: Principal, query: ReceiptQuery) -> SpendingSummary:
        """Needs receipts:read. Spending by month, category and merchant (grouped by canonical merchant)."""
        scope = receipt_scope(principal, ReceiptAction.READ)
        summary = await self._store.summarize(query, scope)
        if self._merchants is None:
            return summary
        if query.owner_id is not None:
            scope = Scope.only(query.owner_id) if scope.allows(query.owner_id) else Scope(frozenset())
        return await self._merchants.canonical_summary(summary, scope)

    def can_see_event(self, principal: Principal, event: Event) -> bool:
        """Whether ``event`` (a receipt.* event) is about a receipt inside the caller's read scope."""
        if not event.type.startswith("receipt."):
            return False
        try:
            scope = receipt_scope(principal, ReceiptAction.READ)
        except PermissionDenied:
            return False
        if event.owner_id is None:
            return scope.owner_ids is None
        return scope.allows(event.owner_id)

    async def _check(self, index: int, upload: Upload) -> _Checked:
        name = upload.filename or f"file {index + 1}"
        content = upload.data()
        size = len(content)
        if size == 0:
            raise InvalidUpload(f"{name} is empty", file=name)
        if size > self._limits.max_bytes:
            raise UploadTooLarge(f"{name} has {size} bytes; the limit is {self._limits.max_bytes}", file=name)
        try:
            # decoding an image and hashing its bytes are CPU work (both release the GIL): off the event loop,
            # in one hop
            inspection, sha256 = await asyncio.to_thread(self._inspect_and_hash, content)
        except InvalidUpload as exc:
            raise type(exc)(f"{name}: {exc.detail}", **{**exc.extra, "file": name}) from exc
        return _Checked(upload, sha256, size, inspection)

    def _inspect_and_hash(self, content: bytes) -> tuple[Inspection, str]:
        inspection = self._inspector.inspect(content)
        return inspection, hashlib.sha256(content).hexdigest()

    async def _replay(self, owner: str, key: str, fingerprint: str) -> builtins.list[UploadOutcome] | None:
        record = await self._store.recall_idempotency(owner, key)
        if record is None:
            return None
        remembered, receipt_ids = record
        if remembered != fingerprint:
            raise Conflict("this Idempotency-Key was already used for a request with other files")
        scope = Scope.only(owner)
        outcomes: builtins.list[UploadOutcome] = []
        for receipt_id in receipt_ids:
            try:
                outcomes.append(UploadOutcome(await self._store.get(receipt_id, scope), created=False))
            except NotFound:
                continue  # deleted since the first request: a replay does not resurrect it
        return outcomes

    async def _store_one(self, owner: str, checked: _Checked) -> UploadOutcome:
        receipt = Receipt.uploaded(
            receipt_id=new_id(),
            owner_id=owner,
            at=self._clock.now(),
            source=SourceFile(
                filename=_safe_filename(checked.upload.filename),
                media_type=checked.inspection.media_type,
                size=checked.size,
                sha256=checked.sha256,
                pages=max(1, checked.inspection.pages),
            ),
        )
        # read again (from the spool): only the file being stored is in memory
        content = checked.upload.data()
        stored, created = await self._store.add(receipt, content, quota_bytes=self._limits.quota_bytes)
        if created:
            await self._publish("receipt.uploaded", stored)
        return UploadOutcome(stored, created)

    async def _writable(self, principal: Principal, receipt_id: str, expected_version: int | None) -> Receipt:
        receipt = await self._store.get(receipt_id, receipt_scope(principal, ReceiptAction.WRITE))
        if expected_version is not None and receipt.version != expected_version:
            raise VersionConflict(
                f"the receipt is at version {receipt.version}, not {expected_version}",
                current_version=receipt.version,
            )
        return receipt

    async def _save(self, receipt: Receipt, expected_version: int, event: EventType) -> Receipt:
        stored = await self._store.update(receipt, expected_version)
        await self._publish(event, stored)
        return stored

    async def _publish(self, event_type: EventType, receipt: Receipt) -> None:
        event = Event(
            type=event_type,
            time=self._clock.now(),
            owner_id=receipt.owner_id,
            payload={"id": receipt.id, "status": receipt.status.value, "version": receipt.version},
        )
        await self._bus.publish(event)

    async def _stream(self, query: ReceiptQuery, scope: Scope) -> AsyncIterator[Receipt]:
        cursor = query.cursor
        while True:
            page = await self._store.list(query.model_copy(update={"cursor": cursor}), scope)
            for receipt in page.items:
                yield receipt
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


def _safe_filename(filename: str | None) -> str | None:
    """The client's file name without path parts or control characters, at most 255 characters."""
    if not filename:
        return None
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return cleaned[:255] or None
