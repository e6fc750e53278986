"""Relabelling an owner's receipts after a merchant was renamed or merged: each receipt that carries one of the
merchant's spellings gets its canonical name, audited as a correction by the person who renamed or merged."""

from __future__ import annotations

from receiptcore.domain.events import Event
from receiptcore.domain.lifecycle import ReceiptStatus
from receiptcore.domain.merchants import MerchantEntry
from receiptcore.domain.name_matching import normalised
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery
from receiptcore.errors import NotFound, VersionConflict
from receiptcore.ports import Clock, EventBus, ReceiptStore
from receiptcore.services.corrections import apply_changes

_PAGE = 500
# a receipt in extraction gets the directory's name from the worker; a correction would be refused anyway
_IN_EXTRACTION = frozenset({ReceiptStatus.PENDING, ReceiptStatus.PROCESSING})


async def relabel_receipts(store: ReceiptStore, bus: EventBus, clock: Clock, entry: MerchantEntry, *, by: str) -> int:
    """Give ``entry``'s owner's receipts that carry a spelling of it the canonical name, each as a correction by
    ``by`` publishing ``receipt.updated``. Receipts in extraction, and receipts deleted or changed meanwhile (the
    person's newer edit wins), are left as they are. Returns how many changed.

    One pass over the owner's listing (summaries), then a whole read and a compare-and-set per receipt to change.
    """
    keys = {normalised(s) for s in entry.spellings()}
    owner = Scope.only(entry.owner_id)
    todo: list[str] = []
    cursor: str | None = None
    while True:
        page = await store.list(ReceiptQuery(owner_id=entry.owner_id, limit=_PAGE, cursor=cursor), owner)
        todo += [
            r.id
            for r in page.items
            if r.merchant.name and r.merchant.name != entry.name and normalised(r.merchant.name) in keys
        ]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    changed = 0
    for receipt_id in todo:
        try:
            receipt = await store.get(receipt_id, owner)
            if receipt.status in _IN_EXTRACTION:
                continue
            updated = apply_changes(receipt, {"merchant": {"name": entry.name}}, by=by, at=clock.now())
            if updated is receipt:
                continue
            stored = await store.update(updated, receipt.version)
        except (NotFound, VersionConflict):
            continue
        changed += 1
        await bus.publish(
            Event(
                type="receipt.updated",
                time=clock.now(),
                owner_id=stored.owner_id,
                payload={"id": stored.id, "status": stored.status.value, "version": stored.version},
            )
        )
    return changed
