"""MemoryReceiptStore: the ReceiptStore port in process memory.

Production code, not a test fake: it is the double of the unit tests and passes the same contract suite as the
SQLite adapter. Every method finishes without awaiting in the middle of a change, so on one event loop each call
is atomic (two concurrent claimers can never take the same receipt). Receipts are copied in and out, so callers
never share mutable state with the store.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal

from receiptcore.adapters.receipt_queries import (
    MISSING_MERCHANT,
    CursorCodec,
    CursorPosition,
    comes_after,
    fold,
    is_descending,
    matches,
    quota_message,
    sort_value,
    total_units,
    units_to_decimal,
)
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import (
    MISSING_CATEGORY,
    MerchantReceipts,
    Page,
    ReceiptQuery,
    SpendingBucket,
    SpendingSummary,
)
from receiptcore.domain.receipt import Receipt, ReceiptStatus, SourceFile
from receiptcore.errors import NotFound, QuotaExceeded, require_version
from receiptcore.ports import ReceiptStore


class MemoryReceiptStore(ReceiptStore):
    """Receipts, files (content-addressed, shared between owners) and idempotency records in dicts."""

    def __init__(self, cursor_codec: CursorCodec | None = None) -> None:
        self._cursors = cursor_codec or CursorCodec()
        self._receipts: dict[str, Receipt] = {}
        self._files: dict[str, bytes] = {}
        self._idempotency: dict[tuple[str, str], tuple[str, list[str]]] = {}
        # owner -> the number of the last claim of one of their receipts (the round robin of claim_pending)
        self._turns: dict[str, int] = {}

    async def add(self, receipt: Receipt, content: bytes, *, quota_bytes: int | None = None) -> tuple[Receipt, bool]:
        """Store a new receipt and its file, or return the owner's existing receipt with the same sha256.

        No ``await`` between the quota check and the insert: concurrent adds cannot both pass it."""
        used = 0
        for existing in self._receipts.values():
            if existing.owner_id == receipt.owner_id:
                if existing.source.sha256 == receipt.source.sha256:
                    return existing.model_copy(deep=True), False
                used += existing.source.size
        if quota_bytes is not None and used + receipt.source.size > quota_bytes:
            raise QuotaExceeded(quota_message(used, receipt.source.size, quota_bytes))
        self._files.setdefault(receipt.source.sha256, bytes(content))
        self._receipts[receipt.id] = receipt.model_copy(deep=True)
        return receipt.model_copy(deep=True), True

    async def get(self, receipt_id: str, scope: Scope) -> Receipt:
        """Return the receipt; NotFound when absent or outside ``scope``."""
        return self._visible(receipt_id, scope).model_copy(deep=True)

    async def open_file(self, receipt_id: str, scope: Scope) -> tuple[SourceFile, bytes]:
        """Return the original file's metadata and bytes; NotFound when absent or outside ``scope``."""
        receipt = self._visible(receipt_id, scope)
        return receipt.source.model_copy(), self._files[receipt.source.sha256]

    async def list(self, query: ReceiptQuery, scope: Scope) -> Page[Receipt]:
        """One page of matching receipts in ``query.sort`` order (NULLs last), id as tie-breaker."""
        position = self._cursors.decode(query.cursor, query.sort) if query.cursor else None
        keyed = [
            (sort_value(r, query.sort), r.id, r)
            for r in self._receipts.values()
            if scope.allows(r.owner_id) and matches(r, query)
        ]
        desc = is_descending(query.sort)
        present = sorted((k for k in keyed if k[0] is not None), key=lambda k: (k[0], k[1]), reverse=desc)
        missing = sorted((k for k in keyed if k[0] is None), key=lambda k: k[1], reverse=desc)
        ordered = present + missing
        if position is not None:
            ordered = [k for k in ordered if comes_after(k[0], k[1], position)]
        page = ordered[: query.limit]
        next_cursor = None
        if len(ordered) > query.limit:
            value, last_id, _ = page[-1]
            next_cursor = self._cursors.encode(CursorPosition(query.sort, value, last_id))
        return Page[Receipt](items=[r.model_copy(deep=True) for _, _, r in page], next_cursor=next_cursor)

    async def update(self, receipt: Receipt, expected_version: int) -> Receipt:
        """Compare-and-set on ``version``; the stored copy gets ``expected_version + 1``."""
        current = self._receipts.get(receipt.id)
        require_version(f"receipt {receipt.id}", None if current is None else current.version, expected_version)
        stored = receipt.model_copy(update={"version": expected_version + 1}, deep=True)
        self._receipts[receipt.id] = stored
        return stored.model_copy(deep=True)

    async def delete(self, receipt_id: str, scope: Scope) -> None:
        """Delete the receipt, and its file when no other receipt shares the same bytes."""
        receipt = self._visible(receipt_id, scope)
        del self._receipts[receipt_id]
        sha = receipt.source.sha256
        if not any(r.source.sha256 == sha for r in self._receipts.values()):
            self._files.pop(sha, None)

    def snapshot(self) -> builtins.list[Receipt]:
        """Copies of every receipt held (for ``MemoryReceiptStats``)."""
        return [r.model_copy(deep=True) for r in self._receipts.values()]

    async def claim_pending(self, worker_id: str, now: dt.datetime, lease_until: dt.datetime) -> Receipt | None:
        """Take a claimable receipt (pending and due, or processing with an expired lease) in the fair order of
        the port: first attempts before retries, the least recently served owner, the oldest."""
        candidates = [r for r in self._receipts.values() if _claimable(r, now, worker_id)]
        if not candidates:
            return None
        chosen = min(
            candidates,
            key=lambda r: (
                r.lease_owner != worker_id,  # its own dead lease first
                r.next_attempt_at is not None,
                self._turns.get(r.owner_id, 0),
                r.created_at,
                r.id,
            ),
        )
        claimed = chosen.claimed_by(worker_id, lease_until)
        self._receipts[claimed.id] = claimed
        self._turns[claimed.owner_id] = max(self._turns.values(), default=0) + 1
        return claimed.model_copy(deep=True)

    async def find_matching(self, receipt: Receipt) -> builtins.list[str]:
        """Ids of the owner's other receipts with the same merchant name, date, total and currency."""
        name = fold(receipt.merchant.name)
        if not name or receipt.purchase_date is None or receipt.total is None or receipt.currency is None:
            return []
        return sorted(
            r.id
            for r in self._receipts.values()
            if r.id != receipt.id
            and r.owner_id == receipt.owner_id
            and fold(r.merchant.name) == name
            and r.purchase_date == receipt.purchase_date
            and r.total == receipt.total
            and r.currency == receipt.currency
        )

    async def summarize(self, query: ReceiptQuery, scope: Scope) -> SpendingSummary:
        """Totals by month, category and (owner, merchant), per currency, over the matching receipts."""
        selected = [r for r in self._receipts.values() if scope.allows(r.owner_id) and matches(r, query)]
        months: dict[tuple[str, str | None], list[Decimal]] = defaultdict(list)
        categories: dict[tuple[str, str | None], list[Decimal]] = defaultdict(list)
        merchants: dict[tuple[str, str, str | None], list[Decimal]] = defaultdict(list)
        counts: Counter[tuple[str, str]] = Counter()
        merchant_names: dict[tuple[str, str], str] = {}
        for r in selected:
            merchant = (r.owner_id, fold(r.merchant.name) or "")
            counts[merchant] += 1
            if merchant[1] and r.merchant.name is not None:
                # the display name of a merchant group is its smallest spelling, as the SQL MIN() picks it
                name = r.merchant.name.strip()
                merchant_names[merchant] = min(merchant_names.get(merchant, name), name)
            if r.total is None:
                continue
            if r.purchase_date is not None:
                months[(r.purchase_date.strftime("%Y-%m"), r.currency)].append(r.total)
            categories[(fold(r.category) or MISSING_CATEGORY, r.currency)].append(r.total)
            merchants[(*merchant, r.currency)].append(r.total)
        by_merchant = [
            SpendingBucket(
                key=merchant_names.get((owner, key)) or MISSING_MERCHANT,
                currency=currency,
                total=units_to_decimal(sum(total_units(a) or 0 for a in amounts)),
                count=len(amounts),
                owner_id=owner,
            )
            for (owner, key, currency), amounts in merchants.items()
        ]
        receipts = [
            MerchantReceipts(key=merchant_names.get(group) or MISSING_MERCHANT, owner_id=group[0], count=count)
            for group, count in counts.items()
        ]
        return SpendingSummary(
            by_month=_buckets(months),
            by_category=_buckets(categories),
            by_merchant=sorted(by_merchant, key=lambda b: (b.key, b.owner_id or "", b.currency or "")),
            merchant_receipts=sorted(receipts, key=lambda m: (m.key, m.owner_id)),
            receipt_count=len(selected),
        )

    async def recall_idempotency(self, owner_id: str, key: str) -> tuple[str, builtins.list[str]] | None:
        """The remembered (fingerprint, receipt ids) for this owner and key, or None."""
        record = self._idempotency.get((owner_id, key))
        return (record[0], builtins.list(record[1])) if record else None

    async def remember_idempotency(
        self, owner_id: str, key: str, fingerprint: str, receipt_ids: builtins.list[str]
    ) -> None:
        """Remember an idempotent request's outcome; the first record for a key wins."""
        self._idempotency.setdefault((owner_id, key), (fingerprint, builtins.list(receipt_ids)))

    def _visible(self, receipt_id: str, scope: Scope) -> Receipt:
        receipt = self._receipts.get(receipt_id)
        if receipt is None or not scope.allows(receipt.owner_id):
            raise NotFound(f"receipt {receipt_id} not found")
        return receipt


def _claimable(receipt: Receipt, now: dt.datetime, worker_id: str) -> bool:
    if receipt.status == ReceiptStatus.PENDING:
        return receipt.next_attempt_at is None or receipt.next_attempt_at <= now
    if receipt.status == ReceiptStatus.PROCESSING:
        return receipt.lease_until is None or receipt.lease_until < now or receipt.lease_owner == worker_id
    return False


def _buckets(groups: dict[tuple[str, str | None], list[Decimal]]) -> list[SpendingBucket]:
    out = [
        SpendingBucket(
            key=key,
            currency=currency,
            total=units_to_decimal(sum(total_units(a) or 0 for a in amounts)),
            count=len(amounts),
        )
        for (key, currency), amounts in groups.items()
    ]
    return sorted(out, key=lambda b: (b.key, b.currency or ""))
