"""A receipt's life cycle under random sequences of operations (hypothesis stateful testing).

Drives ReceiptService and ExtractionService over the memory adapters and a scripted extractor through uploads,
worker runs (one or several workers at once), corrections (fresh and stale), confirmations, re-extractions,
deletions and clock jumps, and checks after every step what must hold whatever the order:

- a receipt's status only moves along the transitions of ``receiptcore.domain.lifecycle.LIFECYCLE``;
- its version strictly increases whenever it changes, and never changes without a new version;
- a deleted receipt is NotFound for every operation;
- a correction keeps the extracted values (``receipt.extracted``) and audits the old value;
- no receipt is handed to two extractions at once, and one worker batch never processes a receipt twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, multiple, rule

from receiptcore.adapters.clock import ManualClock
from receiptcore.adapters.inspection import PillowFileInspector
from receiptcore.adapters.memory.event_bus import InProcessEventBus
from receiptcore.adapters.memory.extractor import MemoryExtractor
from receiptcore.adapters.memory.receipt_store import MemoryReceiptStore
from receiptcore.domain.lifecycle import NEXT_STATUSES
from receiptcore.domain.policy import Scope
from receiptcore.domain.receipt import ExtractedReceipt, LineItem, Merchant, Receipt, ReceiptStatus
from receiptcore.errors import Conflict, ExtractionDeferred, ExtractionFailed, NotFound, VersionConflict
from receiptcore.ports import Document
from receiptcore.services.extraction import ExtractionService, WorkerConfig
from receiptcore.services.receipts import ReceiptService, Upload, UploadLimits
from tests.factories import T0, unique_png
from tests.factories import make_principal as principal

S = ReceiptStatus


def _observable(status: ReceiptStatus) -> frozenset[ReceiptStatus]:
    """The statuses one step may show after ``status``, from the domain's table: unchanged, one transition, or,
    since a worker run goes pending → processing → result inside one step, a transition through processing."""
    once = NEXT_STATUSES[status]
    through = NEXT_STATUSES[S.PROCESSING] if S.PROCESSING in once else frozenset()
    return frozenset({status}) | once | through


ALLOWED: dict[ReceiptStatus, frozenset[ReceiptStatus]] = {status: _observable(status) for status in S}
OUTCOMES = ("ok", "review", "fail", "defer")
MAX_ATTEMPTS = 3


def _output(seed: int, *, consistent: bool) -> ExtractedReceipt:
    """A receipt whose total is unique per seed (no duplicate warnings); inconsistent → total mismatch."""
    amount = Decimal(seed % 997 + 1) + Decimal("0.25")
    return ExtractedReceipt(
        merchant=Merchant(name=f"SHOP {seed}"),
        purchase_date=dt.date(2026, 1, 1) + dt.timedelta(days=seed % 300),
        currency="EUR",
        line_items=[LineItem(description="ITEM", quantity=Decimal(1), unit_price=amount, amount=amount)],
        subtotal=amount,
        total=amount if consistent else amount + Decimal(5),
    )


def _answer(outcome: str, seed: int) -> ExtractedReceipt | BaseException:
    if outcome == "ok":
        return _output(seed, consistent=True)
    if outcome == "review":
        return _output(seed, consistent=False)
    if outcome == "fail":
        return ExtractionFailed("unreadable")
    return ExtractionDeferred("provider busy", retry_after=30)


class WatchedExtractor(MemoryExtractor):
    """The scripted extractor, failing the test when one document is being extracted twice at the same time."""

    def __init__(self) -> None:
        super().__init__(delay=0.001)
        self.in_flight: set[bytes] = set()
        self.overlaps: list[bytes] = []

    async def extract(self, document: Document) -> ExtractedReceipt:
        if document.content in self.in_flight:
            self.overlaps.append(document.content)
        self.in_flight.add(document.content)
        try:
            return await super().extract(document)
        finally:
            self.in_flight.discard(document.content)


class ReceiptLifecycle(RuleBasedStateMachine):
    """One owner's receipts going through random operations; ``seen`` is the last observed state of each."""

    receipts = Bundle("receipts")
    deleted = Bundle("deleted")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.store = MemoryReceiptStore()
        self.bus = InProcessEventBus()
        self.clock = ManualClock(T0)
        self.extractor = WatchedExtractor()
        self.service = ReceiptService(
            self.store, PillowFileInspector(max_pixels=1_000_000, max_pages=3), self.bus, self.clock, UploadLimits()
        )
        self.worker = ExtractionService(
            self.store,
            self.extractor,
            self.bus,
            self.clock,
            WorkerConfig(lease_seconds=60, max_attempts=MAX_ATTEMPTS, retry_base_seconds=10),
        )
        self.owner = principal()
        self.seen: dict[str, Receipt] = {}
        self.gone: set[str] = set()

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def teardown(self) -> None:
        self.run(self.bus.aclose())
        self.loop.close()

    def current(self, rid: str) -> Receipt:
        return self.run(self.store.get(rid, Scope.everyone()))

    @rule(target=receipts, seed=st.integers(0, 40), outcome=st.sampled_from(OUTCOMES))
    def upload(self, seed: int, outcome: str) -> Any:
        content = unique_png(seed)
        [done] = self.run(self.service.upload(self.owner, [Upload(content, f"r{seed}.png")]))
        receipt = done.receipt
        if done.created:
            assert receipt.id not in self.seen
            assert (receipt.status, receipt.version) == (S.PENDING, 1)
            self.seen[receipt.id] = receipt
        else:
            # the same bytes again: the owner's existing receipt, untouched
            assert receipt.id in self.seen
            assert receipt == self.current(receipt.id)
            return multiple()  # already in the bundle
        self.extractor.script(_answer(outcome, seed), sha256=receipt.source.sha256)
        return receipt.id

    @rule(workers=st.integers(1, 3))
    def run_workers(self, workers: int) -> None:
        async def batch() -> list[Receipt | None]:
            return await asyncio.gather(*(self.worker.run_once(f"w{i}") for i in range(workers)))

        results = self.run(batch())
        processed = [r.id for r in results if r is not None]
        assert len(processed) == len(set(processed)), "one receipt processed twice in one batch"
        for receipt in results:
            if receipt is not None and receipt.status in (S.EXTRACTED, S.NEEDS_REVIEW):
                assert receipt.extracted is not None
                assert receipt.extracted.total == receipt.total

    @rule(seconds=st.sampled_from([1, 30, 120, 3600]))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule(rid=receipts, notes=st.text(min_size=1, max_size=8), category=st.sampled_from(["food", "fuel", None]))
    def correct(self, rid: str, notes: str, category: str | None) -> None:
        before = self.current(rid)
        changes: dict[str, Any] = {"notes": notes, "category": category, "total": Decimal("1.00")}
        try:
            after = self.run(self.service.correct(self.owner, rid, changes, before.version))
        except VersionConflict:
            raise  # the version was current: a conflict here is a bug
        except Conflict:
            assert before.status in (S.PENDING, S.PROCESSING)
            return
        assert before.status not in (S.PENDING, S.PROCESSING)
        assert after.total == Decimal("1.00")
        # the extractor's reading survives every correction
        if before.extracted is not None:
            assert after.extracted == before.extracted
        elif after.version != before.version:
            assert after.extracted is not None
            assert after.extracted.total == before.total
        for correction in after.corrections[len(before.corrections) :]:
            old = before.model_dump(mode="json")[correction.field]
            assert correction.from_value == old

    @rule(rid=receipts)
    def stale_correction_is_refused(self, rid: str) -> None:
        before = self.current(rid)
        with pytest.raises(VersionConflict):
            self.run(self.service.correct(self.owner, rid, {"notes": "stale"}, before.version - 1))
        assert self.current(rid) == before

    @rule(rid=receipts)
    def confirm(self, rid: str) -> None:
        before = self.current(rid)
        try:
            after = self.run(self.service.confirm(self.owner, rid))
        except Conflict:
            assert before.status not in (S.EXTRACTED, S.NEEDS_REVIEW, S.CONFIRMED)
            return
        assert after.status == S.CONFIRMED

    @rule(rid=receipts)
    def reextract(self, rid: str) -> None:
        before = self.current(rid)
        try:
            after = self.run(self.service.reextract(self.owner, rid))
        except Conflict:
            assert before.status == S.PROCESSING
            return
        assert after.status == S.PENDING
        assert after.extraction_attempts == before.extraction_attempts

    @rule(target=deleted, rid=consumes(receipts))
    def delete(self, rid: str) -> str:
        self.run(self.service.delete(self.owner, rid))
        self.gone.add(rid)
        self.seen.pop(rid)
        return rid

    @rule(rid=deleted)
    def deleted_stays_gone(self, rid: str) -> None:
        operations = [
            self.service.get(self.owner, rid),
            self.service.open_file(self.owner, rid),
            self.service.correct(self.owner, rid, {"notes": "x"}, None),
            self.service.confirm(self.owner, rid),
            self.service.reextract(self.owner, rid),
            self.service.delete(self.owner, rid),
        ]
        for operation in operations:
            with pytest.raises(NotFound):
                self.run(operation)

    @invariant()
    def transitions_and_versions(self) -> None:
        for rid, last in list(self.seen.items()):
            now = self.current(rid)
            assert now.status in ALLOWED[last.status], f"{last.status} → {now.status}"
            if now != last:
                assert now.version > last.version, "changed without a new version"
            else:
                assert now.version == last.version
            assert now.version >= last.version
            self.seen[rid] = now

    @invariant()
    def settled_between_steps(self) -> None:
        # every worker run finishes inside its step, so nothing stays leased or mid-extraction
        assert not self.extractor.in_flight
        assert not self.extractor.overlaps, "a document was extracted twice at the same time"
        for receipt in self.seen.values():
            assert receipt.status != S.PROCESSING
            failures = sum(1 for a in receipt.extraction_attempts if a.outcome == "failed")
            if receipt.status == S.FAILED:
                assert failures >= MAX_ATTEMPTS


ReceiptLifecycle.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_receipt_lifecycle = ReceiptLifecycle.TestCase
