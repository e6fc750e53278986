"""Receipt use cases: upload, list, get, file, correct, confirm, delete, re-extract, export, summary.

SKELETON: signatures are the contract; bodies are filled in by the receipts work package.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from receiptcore.domain.events import Event
from receiptcore.domain.policy import Principal
from receiptcore.domain.queries import Page, ReceiptQuery, SpendingSummary
from receiptcore.domain.receipt import Receipt, SourceFile
from receiptcore.ports import Clock, EventBus, FileInspector, ReceiptStore


@dataclass(frozen=True, slots=True)
class UploadLimits:
    """Caps applied before anything is stored."""

    max_bytes: int = 20 * 1024 * 1024
    max_files: int = 20


@dataclass(frozen=True, slots=True)
class Upload:
    """One uploaded file as received (the declared type is only a hint; the type is sniffed)."""

    content: bytes
    filename: str | None = None
    declared_type: str | None = None


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    """A stored receipt and whether this upload created it (False: same bytes already uploaded by the owner)."""

    receipt: Receipt
    created: bool


ExportFormat = Literal["csv", "json"]


class ReceiptService:
    """Everything a person does with their receipts."""

    def __init__(
        self, store: ReceiptStore, inspector: FileInspector, bus: EventBus, clock: Clock,
        limits: UploadLimits | None = None,
    ) -> None:
        ...

    async def upload(
        self, principal: Principal, uploads: list[Upload], idempotency_key: str | None = None
    ) -> list[UploadOutcome]:
        """Needs receipts:write. Validates every file first (size, sniffed type, pixel/page bombs, corruption); if
        any is bad nothing is stored. Stores each as pending, publishes receipt.uploaded. Same bytes from the same
        owner return the existing receipt. The same idempotency key with the same files returns the same receipts;
        with different files → Conflict."""
        ...

    async def list(self, principal: Principal, query: ReceiptQuery) -> Page[Receipt]:
        """Needs receipts:read (scope widened by receipts:read:any)."""
        ...

    async def get(self, principal: Principal, receipt_id: str) -> Receipt:
        """Needs receipts:read. NotFound outside the caller's scope."""
        ...

    async def open_file(self, principal: Principal, receipt_id: str) -> tuple[SourceFile, bytes]:
        """Needs receipts:read. The original bytes."""
        ...

    async def correct(
        self, principal: Principal, receipt_id: str, changes: dict[str, Any], expected_version: int | None
    ) -> Receipt:
        """Needs receipts:write. ``changes`` maps top-level ReceiptData fields (and category, tags, notes) to new
        values; each change is logged as a Correction keeping the old value; the consistency check re-runs.
        ``expected_version`` (If-Match) → VersionConflict on mismatch. Publishes receipt.updated."""
        ...

    async def confirm(self, principal: Principal, receipt_id: str, expected_version: int | None = None) -> Receipt:
        """Needs receipts:write. Marks an extracted/needs_review receipt confirmed; pending/processing → Conflict."""
        ...

    async def delete(self, principal: Principal, receipt_id: str) -> None:
        """Needs receipts:write. Deletes receipt and file; publishes receipt.deleted."""
        ...

    async def reextract(self, principal: Principal, receipt_id: str) -> Receipt:
        """Needs receipts:write. Puts the receipt back to pending (attempt history kept); processing → Conflict."""
        ...

    def export(self, principal: Principal, query: ReceiptQuery, fmt: ExportFormat) -> AsyncIterator[str]:
        """Needs receipts:read. Streams every matching receipt (all pages) as CSV (one row per receipt, RFC 4180,
        formula-injection safe) or a JSON array."""
        ...

    async def summary(self, principal: Principal, query: ReceiptQuery) -> SpendingSummary:
        """Needs receipts:read. Spending by month, category and merchant."""
        ...

    def can_see_event(self, principal: Principal, event: Event) -> bool:
        """Whether ``event`` (a receipt.* event) is about a receipt inside the caller's read scope."""
        ...
