"""The stored receipt aggregate (DESIGN.md §3) and its named transitions.

``Receipt`` is the data (``receiptcore.domain.receipt_values``) plus identity, ownership, status, audit and
extraction history. Its status changes only through the transition methods below (``claimed_by``, ``extracted_from``,
``deferred``, ``failed``, ``corrected``, ``confirmed``, ``requeued``), each checked against the table in
``receiptcore.domain.lifecycle`` and setting every dependent field (lease, attempts, timestamps) with it. A
transition returns a new, validated copy; the stored version is bumped by the store's compare-and-set (and by
``claimed_by`` itself, since a claim is stored as it is).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, TypedDict, Unpack

from pydantic import Field, StringConstraints

from receiptcore.domain.lifecycle import ReceiptStatus, Transition, check
from receiptcore.domain.receipt_values import (
    Correction,
    ExtractedReceipt,
    ExtractionAttempt,
    FieldSource,
    LineItem,
    LongText,
    Merchant,
    Money,
    Payment,
    PaymentMethod,
    Rate,
    ReceiptData,
    ReceiptType,
    ReceiptWarning,
    ShortText,
    SourceFile,
    Tag,
    TaxLine,
)
from receiptcore.domain.review import needs_review

__all__ = [
    "Correction",
    "ExtractedReceipt",
    "ExtractionAttempt",
    "FieldSource",
    "LineItem",
    "LongText",
    "Merchant",
    "Money",
    "Payment",
    "PaymentMethod",
    "Rate",
    "Receipt",
    "ReceiptData",
    "ReceiptStatus",
    "ReceiptType",
    "ReceiptWarning",
    "ShortText",
    "SourceFile",
    "Tag",
    "TaxLine",
]

_DATA_FIELDS: frozenset[str] = frozenset(ReceiptData.model_fields)


class _Changes(TypedDict, total=False):
    """The fields a transition may set, typed, so a misspelled name or a wrong type fails mypy."""

    version: int
    updated_at: dt.datetime
    source: SourceFile
    category: str | None
    tags: list[str]
    notes: str | None
    warnings: list[ReceiptWarning]
    provenance: dict[str, FieldSource]
    raw_text: str
    extraction_attempts: list[ExtractionAttempt]
    extracted: ReceiptData | None
    corrections: list[Correction]
    possible_duplicate_of: str | None
    lease_owner: str | None
    lease_until: dt.datetime | None
    next_attempt_at: dt.datetime | None
    queued_at: dt.datetime | None


class Receipt(ReceiptData):
    """The stored aggregate: data plus identity, ownership, status, audit and extraction history."""

    id: str
    owner_id: str
    status: ReceiptStatus = ReceiptStatus.PENDING
    version: Annotated[int, Field(ge=1)] = 1
    created_at: dt.datetime
    updated_at: dt.datetime
    source: SourceFile
    category: Annotated[str, StringConstraints(max_length=64)] | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    notes: LongText | None = None
    warnings: list[ReceiptWarning] = Field(default_factory=list)
    provenance: dict[str, FieldSource] = Field(default_factory=dict)
    raw_text: str = ""
    extraction_attempts: list[ExtractionAttempt] = Field(default_factory=list)
    extracted: ReceiptData | None = None
    corrections: list[Correction] = Field(default_factory=list)
    possible_duplicate_of: str | None = None
    # worker lease: set while status is processing; an expired lease lets another worker claim the receipt
    lease_owner: str | None = None
    lease_until: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None
    # when the receipt last entered the queue (upload, re-extract): only failures after it count toward the retry cap
    queued_at: dt.datetime | None = None

    @classmethod
    def uploaded(cls, *, receipt_id: str, owner_id: str, source: SourceFile, at: dt.datetime) -> Receipt:
        """A new receipt for an uploaded file: pending, version 1, queued at ``at``."""
        return cls(
            id=receipt_id,
            owner_id=owner_id,
            status=ReceiptStatus.PENDING,
            created_at=at,
            updated_at=at,
            queued_at=at,
            source=source,
        )

    @property
    def latest_attempt(self) -> ExtractionAttempt | None:
        """The most recent extraction attempt, if any."""
        return self.extraction_attempts[-1] if self.extraction_attempts else None

    def leased_to(self, worker_id: str) -> bool:
        """Whether ``worker_id`` holds this receipt's lease (it is processing and claimed by that worker)."""
        return self.status == ReceiptStatus.PROCESSING and self.lease_owner == worker_id

    def data(self) -> ReceiptData:
        """Just the correctable fields (what a document yields), without identity, status and audit."""
        return ReceiptData.model_validate(self.model_dump(include=set(_DATA_FIELDS)))

    def failures_since_queued(self, *unrecorded: ExtractionAttempt) -> int:
        """Failed attempts since the receipt last entered the queue, ``unrecorded`` ones included: only these
        count toward the retry cap."""
        return sum(
            1
            for a in (*self.extraction_attempts, *unrecorded)
            if a.outcome == "failed" and (self.queued_at is None or a.started_at >= self.queued_at)
        )

    def require(self, transition: Transition) -> None:
        """Raise InvalidTransition unless ``transition`` may start from this receipt's status (checked before
        the input of the transition is judged, so a receipt mid-extraction refuses a correction as such)."""
        check(transition, self.status)

    # --- the worker's transitions ---

    def claimed_by(self, worker_id: str, lease_until: dt.datetime) -> Receipt:
        """A copy of this receipt taken by worker ``worker_id`` until ``lease_until`` (processing, next version).

        Every ReceiptStore adapter's ``claim_pending`` stores this, so a claim means the same in each.
        """
        return self._move(
            Transition.CLAIM,
            ReceiptStatus.PROCESSING,
            lease_owner=worker_id,
            lease_until=lease_until,
            version=self.version + 1,
        )

    def extracted_from(
        self,
        output: ExtractedReceipt,
        attempt: ExtractionAttempt,
        *,
        warnings: Sequence[ReceiptWarning],
        duplicate_of: str | None,
        at: dt.datetime,
        category: str | None = None,
    ) -> Receipt:
        """The extractor's ``output`` stored: data, provenance and raw text replaced (corrections made earlier stay
        in the audit trail), ``needs_review`` when ``warnings`` ask for a person (``receiptcore.domain.review``),
        else ``extracted``; the lease ends. ``category`` (assigned on extraction) is taken unless a person has
        chosen one (a ``category`` correction)."""
        data = output.data()
        if any(c.field == "category" for c in self.corrections):
            category = self.category
        target = (
            ReceiptStatus.NEEDS_REVIEW if needs_review(warnings, data, output.provenance) else ReceiptStatus.EXTRACTED
        )
        return self._move(
            Transition.EXTRACT,
            target,
            data=data,
            release_at=at,
            warnings=list(warnings),
            provenance=dict(output.provenance),
            raw_text=output.raw_text,
            extracted=data,
            possible_duplicate_of=duplicate_of,
            category=category if category is not None else self.category,
            source=self.source.with_pages(max(self.source.pages, output.pages or 1)),
            extraction_attempts=[*self.extraction_attempts, attempt],
        )

    def deferred(self, attempt: ExtractionAttempt, *, until: dt.datetime, at: dt.datetime) -> Receipt:
        """Back to pending, not before ``until``: the extractor asked to wait (not counted as a failure)."""
        return self._move(
            Transition.DEFER,
            ReceiptStatus.PENDING,
            release_at=at,
            extraction_attempts=[*self.extraction_attempts, attempt],
            next_attempt_at=until,
        )

    def failed(self, attempt: ExtractionAttempt, *, retry_at: dt.datetime | None, at: dt.datetime) -> Receipt:
        """A failed attempt recorded: back to pending until ``retry_at``, or ``failed`` for good when it is None."""
        return self._move(
            Transition.FAIL,
            ReceiptStatus.FAILED if retry_at is None else ReceiptStatus.PENDING,
            release_at=at,
            extraction_attempts=[*self.extraction_attempts, attempt],
            next_attempt_at=retry_at,
        )

    # --- a person's transitions ---

    def corrected(
        self,
        edited: Receipt,
        corrections: Sequence[Correction],
        *,
        warnings: Sequence[ReceiptWarning],
        at: dt.datetime,
    ) -> Receipt:
        """The person's values (data, category, tags and notes of ``edited``) with ``corrections`` audited.

        The first correction keeps what extraction produced in ``extracted``, so the original values are never
        lost. A confirmed receipt stays confirmed; any other becomes ``needs_review`` or ``extracted`` by
        ``warnings``. Pending or processing → InvalidTransition.
        """
        if self.status == ReceiptStatus.CONFIRMED:
            target = ReceiptStatus.CONFIRMED
        else:
            doubtful = needs_review(warnings, edited.data(), edited.provenance)
            target = ReceiptStatus.NEEDS_REVIEW if doubtful else ReceiptStatus.EXTRACTED
        return self._move(
            Transition.CORRECT,
            target,
            data=edited,
            category=edited.category,
            tags=list(edited.tags),
            notes=edited.notes,
            extracted=self.extracted or self.data(),
            corrections=[*self.corrections, *corrections],
            warnings=list(warnings),
            updated_at=at,
        )

    def confirmed(self, at: dt.datetime) -> Receipt:
        """Confirmed by a person (extracted or needs_review); this receipt itself when it already is."""
        if self.status == ReceiptStatus.CONFIRMED:
            return self
        return self._move(Transition.CONFIRM, ReceiptStatus.CONFIRMED, updated_at=at)

    def requeued(self, at: dt.datetime) -> Receipt:
        """Back in the queue for a new extraction (attempt history kept, failures counted afresh from ``at``);
        this receipt itself when it is already pending. Processing → InvalidTransition."""
        if self.status == ReceiptStatus.PENDING:
            return self
        return self._move(Transition.REQUEUE, ReceiptStatus.PENDING, release_at=at, queued_at=at)

    def _move(
        self,
        transition: Transition,
        target: ReceiptStatus,
        *,
        data: ReceiptData | None = None,
        release_at: dt.datetime | None = None,
        **changes: Unpack[_Changes],
    ) -> Receipt:
        """A validated copy with status ``target`` after checking ``transition``; ``data`` replaces the
        correctable fields, ``release_at`` ends the lease (and is the update time), ``changes`` set the rest."""
        check(transition, self.status, target)
        values = self.model_dump()
        if data is not None:
            values.update(data.model_dump(include=set(_DATA_FIELDS)))
        if release_at is not None:
            values.update(lease_owner=None, lease_until=None, next_attempt_at=None, updated_at=release_at)
        values.update(changes)
        values["status"] = target
        # validated, not model_copy(update=): a copy would store wrong values unchecked
        return Receipt.model_validate(values)
