"""Merchant use cases: match new receipts to the owner's directory, learn from corrections, list/rename/merge,
and group spending by the canonical merchant.

The directory is per owner (ADR 0012). Extraction calls ``enrich``; a correction calls ``learn``; the HTTP API
calls ``list``/``get``/``update``/``merge``; ``ReceiptService.summary`` calls ``canonical_summary``.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from receiptcore.domain.categories import known_categories, suggest_category
from receiptcore.domain.ids import new_id
from receiptcore.domain.merchants import (
    MerchantEntry,
    group_by_merchant,
    group_receipts_by_merchant,
    learnable_address,
    match_merchant,
)
from receiptcore.domain.name_matching import normalised
from receiptcore.domain.policy import Principal, ReceiptAction, Scope, receipt_scope
from receiptcore.domain.queries import MISSING_CATEGORY, ReceiptQuery, SpendingBucket, SpendingSummary
from receiptcore.domain.receipt import ExtractedReceipt, FieldSource, Receipt
from receiptcore.errors import Conflict, NotFound, StorageUnavailable, ValidationFailed, VersionConflict
from receiptcore.ports import Clock, EventBus, MerchantDirectory, ReceiptStore
from receiptcore.services.merchant_relabel import relabel_receipts

log = logging.getLogger(__name__)

MERCHANT_METHOD = "merchant_directory"
_PAGE = 500


@dataclass(frozen=True, slots=True)
class Enrichment:
    """An extractor's output with the canonical merchant and its provenance, and the category to assign."""

    output: ExtractedReceipt
    category: str | None


@dataclass(frozen=True, slots=True)
class CategoryName:
    """A category to suggest: whether the bundled map has it, and whether the caller uses or taught it."""

    name: str
    bundled: bool
    yours: bool


@dataclass(frozen=True, slots=True)
class MerchantFigures:
    """One merchant's receipts (with a total or without) and their spend per currency (receipts with a total)."""

    receipts: int
    spend: list[SpendingBucket]


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    """The entry that absorbed the others and how many receipts now carry its name."""

    entry: MerchantEntry
    receipts_updated: int


class MerchantService:
    """The merchant directory's use cases (ports only; no I/O of its own)."""

    def __init__(self, directory: MerchantDirectory, store: ReceiptStore, clock: Clock, bus: EventBus) -> None:
        self._directory = directory
        self._store = store
        self._clock = clock
        self._bus = bus

    # --- extraction -----------------------------------------------------------------------------------------

    async def enrich(self, owner_id: str, output: ExtractedReceipt) -> Enrichment:
        """Match the printed merchant name to ``owner_id``'s directory and choose a category.

        A match replaces the name by the entry's canonical name, with the match score as the ``merchant.name``
        confidence (the printed text kept in its provenance, ``method`` ``merchant_directory``); an unmatched
        name becomes a new entry. The category comes from ``receiptcore.domain.categories`` (the entry's learned
        category first) and gets a ``category`` provenance. Directory outages are logged, never raised: a
        receipt is still worth storing without its merchant matched.
        """
        printed = output.merchant.name
        try:
            entries = await self._directory.entries(owner_id)
            # CPU work (≈0.1 ms per known spelling): off the event loop, as file inspection is
            match = await asyncio.to_thread(match_merchant, printed, entries)
            if match is None and printed and normalised(printed):
                await self._remember(owner_id, printed, output.merchant.address)
        except Exception:  # a directory fault must not cost the extraction
            log.exception("the merchant directory failed while matching a receipt of %s", owner_id)
            match = None
        values = output.model_dump()
        provenance = dict(output.provenance)
        if match is not None:
            read = provenance.get("merchant.name") or FieldSource()
            provenance["merchant.name"] = FieldSource(
                confidence=match.score, text=printed, page=read.page, box=read.box, method=MERCHANT_METHOD
            )
            values["merchant"] = {**values["merchant"], "name": match.entry.name}
            if not values["merchant"].get("address") and match.entry.address:
                values["merchant"]["address"] = match.entry.address
        suggestion = suggest_category(
            learned=match.entry.category if match is not None else None,
            merchant_name=values["merchant"]["name"],
            receipt_type=output.receipt_type,
            items=output.line_items,
        )
        if suggestion is not None:
            provenance["category"] = FieldSource(
                confidence=suggestion.confidence, text=suggestion.evidence, method=f"category:{suggestion.source}"
            )
        values["provenance"] = provenance
        return Enrichment(ExtractedReceipt.model_validate(values), suggestion.category if suggestion else None)

    async def _remember(self, owner_id: str, name: str, address: str | None) -> None:
        now = self._clock.now()
        entry = MerchantEntry.new(
            entry_id=new_id(), owner_id=owner_id, name=name, address=learnable_address(address), at=now
        )
        # Conflict: another worker added the same name meanwhile; the entry exists, which is all we wanted
        with contextlib.suppress(Conflict):
            await self._directory.add(entry)

    # --- learning from corrections --------------------------------------------------------------------------

    async def learn(self, before: Receipt, after: Receipt) -> None:
        """Teach the owner's directory what a person's correction of ``before`` into ``after`` says.

        A new merchant name: the entry with that name (created if none) learns the spelling the extractor read,
        and an entry that was only that spelling is merged into it. A new category: the receipt's merchant entry
        remembers it as this owner's choice. Another owner's entries are never touched. The correction is
        already stored, so a directory outage (or a concurrent edit of the entry) is logged, not raised.
        """
        try:
            await self._learn(before, after)
        except (StorageUnavailable, Conflict, ValueError) as exc:
            # ValueError: an entry the model refuses (it should not happen: entries take any receipt's name)
            log.warning("the merchant directory did not learn from receipt %s: %s", after.id, exc)

    async def _learn(self, before: Receipt, after: Receipt) -> None:
        owner = after.owner_id
        name_changed = normalised(before.merchant.name or "") != normalised(after.merchant.name or "")
        entry: MerchantEntry | None = None
        if name_changed and after.merchant.name and normalised(after.merchant.name):
            entry = await self._teach_name(owner, _printed(before), after.merchant.name, after.merchant.address)
        if after.category != before.category and after.merchant.name and normalised(after.merchant.name):
            entry = entry or await self._entry_for(owner, after.merchant.name, after.merchant.address)
            await self._save(entry, entry.with_category(after.category, self._clock.now()))

    async def _teach_name(self, owner: str, printed: str | None, name: str, address: str | None) -> MerchantEntry:
        target = await self._entry_for(owner, name, address)
        if not printed or normalised(printed) == target.key:
            return target
        now = self._clock.now()
        others = [e for e in await self._directory.entries(owner) if e.id != target.id]
        spelled = next((e for e in others if e.key == normalised(printed)), None)
        if spelled is not None and not spelled.variants:
            # an entry that was only this spelling (made from an earlier receipt): the person says it is ``name``
            target = await self._save(target, target.absorbing(spelled, now))
            await self._directory.delete(spelled.id, Scope.only(owner))
            return target
        if spelled is not None:
            return target  # the spelling names another known merchant too: teaching it would make both ambiguous
        return await self._save(target, target.with_variant(printed, now))

    async def _entry_for(self, owner: str, name: str, address: str | None) -> MerchantEntry:
        """The owner's entry that knows ``name`` exactly, created when there is none."""
        for entry in await self._directory.entries(owner):
            if entry.knows(name):
                return entry
        entry = MerchantEntry.new(
            entry_id=new_id(), owner_id=owner, name=name, address=learnable_address(address), at=self._clock.now()
        )
        try:
            await self._directory.add(entry)
        except Conflict:
            return next(e for e in await self._directory.entries(owner) if e.knows(name))
        return entry

    async def _save(self, current: MerchantEntry, changed: MerchantEntry) -> MerchantEntry:
        if changed is current:
            return current
        return await self._directory.save(changed, current.version)

    # --- the API --------------------------------------------------------------------------------------------

    async def list(self, principal: Principal, *, limit: int, after: str | None) -> builtins.list[MerchantEntry]:
        """Needs receipts:read. The entries in the caller's read scope (their own, or every owner's with
        receipts:read:any), by id."""
        return await self._directory.list(receipt_scope(principal, ReceiptAction.READ), limit=limit, after=after)

    async def get(self, principal: Principal, entry_id: str) -> MerchantEntry:
        """Needs receipts:read. NotFound outside the caller's scope."""
        return await self._directory.get(entry_id, receipt_scope(principal, ReceiptAction.READ))

    async def categories(self, principal: Principal) -> builtins.list[CategoryName]:
        """Needs receipts:read. The categories to suggest to the caller: every one of the bundled map, and the
        caller's own ones (those their merchants learned and those on their receipts with a total, as the
        statistics count them), by name, each once (case-insensitively; the bundled or learned spelling kept)."""
        receipt_scope(principal, ReceiptAction.READ)  # the permission; the categories are the caller's own
        own = Scope.only(principal.user_id)
        learned = [e.category for e in await self._directory.entries(principal.user_id) if e.category]
        summary = await self._store.summarize(ReceiptQuery(owner_id=principal.user_id), own)
        used = [b.key for b in summary.by_category if b.key != MISSING_CATEGORY]
        names: dict[str, CategoryName] = {}
        for name in known_categories():
            names[name.casefold()] = CategoryName(name, bundled=True, yours=False)
        for name in [*learned, *used]:
            known = names.get(name.casefold())
            names[name.casefold()] = CategoryName(
                known.name if known else name, bundled=bool(known and known.bundled), yours=True
            )
        return sorted(names.values(), key=lambda c: c.name.casefold())

    async def receipt_query(self, principal: Principal, query: ReceiptQuery, entry_id: str) -> ReceiptQuery:
        """Needs receipts:read. ``query`` narrowed to the receipts of the merchant ``entry_id``: its owner's
        receipts carrying its canonical name or one of its known spellings (case-insensitively). ValidationFailed
        (``merchant_id``) when no merchant in the caller's read scope has that id."""
        try:
            entry = await self.get(principal, entry_id)
        except NotFound:
            raise ValidationFailed(
                "merchant_id names no merchant you can see",
                errors=[{"field": "merchant_id", "message": "no such merchant"}],
            ) from None
        owner = query.owner_id or entry.owner_id
        return query.model_copy(update={"merchant": tuple(entry.spellings()), "owner_id": owner})

    async def update(
        self, principal: Principal, entry_id: str, changes: dict[str, Any], expected_version: int | None
    ) -> MergeOutcome:
        """Needs receipts:write. Rename (``name``; the old name stays a variant), set ``address`` or ``category``.
        A rename relabels the owner's receipts that carry one of the entry's spellings. Conflict when another
        entry of the owner already has the name (merge them instead); ValidationFailed on unknown fields."""
        entry = await self._writable(principal, entry_id, expected_version)
        unknown = sorted(set(changes) - {"name", "address", "category"})
        if unknown or not changes:
            raise ValidationFailed(
                "send name, address or category" if not unknown else f"these fields cannot be changed: {unknown}",
                errors=[{"field": name, "message": "unknown field"} for name in unknown],
            )
        now = self._clock.now()
        changed = entry
        try:
            if "name" in changes:
                changed = changed.renamed(_text(changes, "name", required=True) or "", now)
            if "address" in changes:
                changed = changed.readdressed(_text(changes, "address", required=False), now)
            if "category" in changes:
                changed = changed.with_category(_text(changes, "category", required=False), now)
        except ValueError as exc:
            raise ValidationFailed("some values are not valid", errors=[{"field": "", "message": str(exc)}]) from exc
        stored = await self._save(entry, changed)
        relabelled = await self._relabel(principal, stored) if stored.name != entry.name else 0
        return MergeOutcome(stored, relabelled)

    async def merge(
        self, principal: Principal, target_id: str, source_ids: Sequence[str], expected_version: int | None
    ) -> MergeOutcome:
        """Needs receipts:write. Merge the entries ``source_ids`` into ``target_id`` (same owner): their spellings
        become the target's variants, they are deleted, and the owner's receipts carrying any of those spellings
        are relabelled with the target's name."""
        target = await self._writable(principal, target_id, expected_version)
        if not source_ids or target_id in source_ids or len(set(source_ids)) != len(source_ids):
            raise ValidationFailed(
                "name one or more other merchants to merge, each once",
                errors=[{"field": "merge", "message": "empty, repeated or the target itself"}],
            )
        scope = receipt_scope(principal, ReceiptAction.WRITE)
        sources = [await self._directory.get(sid, scope) for sid in source_ids]
        if any(s.owner_id != target.owner_id for s in sources):
            raise ValidationFailed(
                "merchants of different owners cannot be merged",
                errors=[{"field": "merge", "message": "another owner's merchant"}],
            )
        changed = target
        for source in sources:
            changed = changed.absorbing(source, self._clock.now())
        stored = await self._save(target, changed)
        for source in sources:
            await self._directory.delete(source.id, scope)
        return MergeOutcome(stored, await self._relabel(principal, stored))

    async def _writable(self, principal: Principal, entry_id: str, expected_version: int | None) -> MerchantEntry:
        entry = await self._directory.get(entry_id, receipt_scope(principal, ReceiptAction.WRITE))
        if expected_version is not None and entry.version != expected_version:
            raise VersionConflict(
                f"the merchant is at version {entry.version}, not {expected_version}", current_version=entry.version
            )
        return entry

    async def _relabel(self, principal: Principal, entry: MerchantEntry) -> int:
        return await relabel_receipts(self._store, self._bus, self._clock, entry, by=principal.user_id)

    # --- statistics -----------------------------------------------------------------------------------------

    async def canonical_summary(self, summary: SpendingSummary, scope: Scope) -> SpendingSummary:
        """``summary`` with its merchant buckets and receipt counts grouped by canonical merchant, per owner: a
        bucket whose name is a known spelling of one of its owner's entries counts under the entry's name and id
        (per currency). Owners are never added together: with receipts:read:any each owner's merchant is a bucket
        of its own."""
        entries = await self._entries(scope, {b.owner_id for b in summary.by_merchant if b.owner_id})
        return summary.model_copy(
            update={
                "by_merchant": group_by_merchant(summary.by_merchant, entries),
                "merchant_receipts": group_receipts_by_merchant(summary.merchant_receipts, entries),
            }
        )

    async def figures(self, principal: Principal, entries: Sequence[MerchantEntry]) -> dict[str, MerchantFigures]:
        """Needs receipts:read. Per entry of ``entries`` (by id): how many receipts its owner has of it (with a
        total or not) and their spend per currency, computed by the store's summary (one per call)."""
        scope = receipt_scope(principal, ReceiptAction.READ)
        owners = {e.owner_id for e in entries if scope.allows(e.owner_id)}
        if not owners:
            return {}
        query = ReceiptQuery(owner_id=next(iter(owners))) if len(owners) == 1 else ReceiptQuery()
        summary = await self._store.summarize(query, scope)
        spend = group_by_merchant(summary.by_merchant, entries)
        counts = group_receipts_by_merchant(summary.merchant_receipts, entries)
        out = {e.id: MerchantFigures(receipts=0, spend=[]) for e in entries if e.owner_id in owners}
        for row in counts:
            if row.merchant_id in out:
                out[row.merchant_id] = MerchantFigures(receipts=row.count, spend=out[row.merchant_id].spend)
        for bucket in spend:
            if bucket.merchant_id in out:
                out[bucket.merchant_id].spend.append(bucket)
        return out

    async def _entries(self, scope: Scope, owners: set[str]) -> builtins.list[MerchantEntry]:
        """The entries of ``owners`` inside ``scope`` (one owner: their entries; several: the scope's, paged)."""
        owners = {o for o in owners if scope.allows(o)}
        if len(owners) == 1:
            return await self._directory.entries(next(iter(owners)))
        if not owners:
            return []
        entries: builtins.list[MerchantEntry] = []
        while True:
            batch = await self._directory.list(scope, limit=_PAGE, after=entries[-1].id if entries else None)
            entries += batch
            if len(batch) < _PAGE:
                break
        return entries


def _printed(receipt: Receipt) -> str | None:
    """The merchant name as the extractor read it: the provenance text of a directory match, else the name."""
    source = receipt.provenance.get("merchant.name")
    if source is not None and source.method == MERCHANT_METHOD and source.text:
        return source.text
    original = receipt.extracted.merchant.name if receipt.extracted is not None else None
    return original or receipt.merchant.name


def _text(changes: dict[str, Any], field: str, *, required: bool) -> str | None:
    value = changes[field]
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValidationFailed(
            f"{field} must be {'a non-empty' if required else 'a'} string{'' if required else ' or null'}",
            errors=[{"field": field, "message": "not a string"}],
        )
    return value.strip() or None
