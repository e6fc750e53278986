"""Warm start (issue 12): the worker loads the extractor's models when it starts, before it claims a receipt,
without holding up a stop; a warm-up that fails or hangs never stops extraction."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from receiptcore.adapters.clock import SystemClock
from receiptcore.adapters.memory.event_bus import InProcessEventBus
from receiptcore.adapters.memory.extractor import MemoryExtractor
from receiptcore.adapters.memory.receipt_store import MemoryReceiptStore
from receiptcore.domain.policy import Scope
from receiptcore.domain.receipt import ExtractedReceipt, ReceiptStatus
from receiptcore.entrypoints import worker as worker_module
from receiptcore.entrypoints.worker import ExtractionWorker
from receiptcore.ports import Document, Warms
from receiptcore.services.extraction import ExtractionService, WorkerConfig
from tests.cli.conftest import receipt_image
from tests.cli.plugin import SCRIPTED
from tests.factories import make_receipt


class WarmingExtractor:
    """A scripted extractor with a warm-up it records, which waits for ``ready`` (or raises ``failure``)."""

    name = "warming"
    version = "1"

    def __init__(self, failure: Exception | None = None) -> None:
        self.inner = MemoryExtractor(SCRIPTED)
        self.ready = asyncio.Event()
        self.failure = failure
        self.journal: list[str] = []

    async def warm(self) -> None:
        self.journal.append("warm")
        if self.failure is not None:
            raise self.failure
        await self.ready.wait()
        self.journal.append("warmed")

    async def extract(self, document: Document) -> ExtractedReceipt:
        self.journal.append("extract")
        return await self.inner.extract(document)


async def _world(extractor: object) -> tuple[MemoryReceiptStore, InProcessEventBus, ExtractionService, str]:
    store, bus = MemoryReceiptStore(), InProcessEventBus()
    service = ExtractionService(store, extractor, bus, SystemClock(), WorkerConfig(lease_seconds=60))  # type: ignore[arg-type]
    content = receipt_image("warm start")
    receipt, _ = make_receipt(content=content, media_type="image/jpeg", filename="r.jpg")
    stored, _ = await store.add(receipt, content)
    return store, bus, service, stored.id


async def _status(store: MemoryReceiptStore, receipt_id: str) -> ReceiptStatus:
    return (await store.get(receipt_id, Scope.everyone())).status


async def _until_extracted(store: MemoryReceiptStore, receipt_id: str) -> None:
    deadline = time.monotonic() + 10
    while await _status(store, receipt_id) != ReceiptStatus.EXTRACTED:
        assert time.monotonic() < deadline, "the receipt was never extracted"
        await asyncio.sleep(0.02)


def test_the_scripted_extractor_is_what_the_worker_checks_for() -> None:
    assert isinstance(WarmingExtractor(), Warms)
    assert not isinstance(MemoryExtractor(SCRIPTED), Warms)


async def test_the_worker_warms_the_extractor_once_before_it_claims_the_first_receipt() -> None:
    extractor = WarmingExtractor()
    store, bus, service, receipt_id = await _world(extractor)
    worker = ExtractionWorker(service, bus, poll_seconds=0.05)
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.3)  # several poll intervals: a worker that did not wait would have claimed it
        assert extractor.journal == ["warm"]
        assert await _status(store, receipt_id) == ReceiptStatus.PENDING
        extractor.ready.set()
        await _until_extracted(store, receipt_id)
        assert extractor.journal == ["warm", "warmed", "extract"]
    finally:
        worker.stop()
        await asyncio.wait_for(running, 5)
        await bus.aclose()


async def test_a_failed_warm_up_is_logged_once_and_extraction_still_runs(caplog: pytest.LogCaptureFixture) -> None:
    extractor = WarmingExtractor(failure=RuntimeError("model file missing"))
    store, bus, service, receipt_id = await _world(extractor)
    worker = ExtractionWorker(service, bus, poll_seconds=0.05)
    with caplog.at_level(logging.WARNING, logger="receiptcore.worker"):
        running = asyncio.create_task(worker.run())
        try:
            await _until_extracted(store, receipt_id)
            await asyncio.sleep(0.2)  # more polls: the failure must not be logged again
        finally:
            worker.stop()
            await asyncio.wait_for(running, 5)
            await bus.aclose()
    failures = [r.getMessage() for r in caplog.records if "warm-up failed" in r.getMessage()]
    assert failures == ["extractor warm-up failed, extracting without it: model file missing"]
    assert extractor.journal == ["warm", "extract"]


async def test_a_warm_up_that_hangs_stops_holding_claims_after_the_limit() -> None:
    extractor = WarmingExtractor()  # never made ready
    store, bus, service, receipt_id = await _world(extractor)
    worker = ExtractionWorker(service, bus, poll_seconds=0.05, warm_seconds=0.2)
    worker_module.ABANDONED.clear()
    running = asyncio.create_task(worker.run())
    try:
        await _until_extracted(store, receipt_id)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 5)
        worker_module.ABANDONED.clear()
        await bus.aclose()


async def test_a_stop_during_the_warm_up_returns_at_once_and_does_not_wait_for_it() -> None:
    extractor = WarmingExtractor()  # a model load that would take long
    _store, bus, service, _ = await _world(extractor)
    worker = ExtractionWorker(service, bus, poll_seconds=60, grace_seconds=30)
    worker_module.ABANDONED.clear()
    running = asyncio.create_task(worker.run())
    await asyncio.sleep(0.1)
    assert extractor.journal == ["warm"]
    worker.stop()
    try:
        # neither the 30 s grace nor the 60 s poll: nothing was in hand, so run() returns at once
        stats = await asyncio.wait_for(running, 2)
        assert stats.processed == 0
        assert worker_module.ABANDONED.is_set(), "exit_process must not join the loading thread"
    finally:
        worker_module.ABANDONED.clear()
        await bus.aclose()


async def test_an_extractor_without_a_warm_up_is_claimed_from_at_once() -> None:
    extractor = MemoryExtractor(SCRIPTED)
    store, bus, service, receipt_id = await _world(extractor)
    assert await service.warm() is False
    worker = ExtractionWorker(service, bus, poll_seconds=60)
    running = asyncio.create_task(worker.run())
    try:
        await _until_extracted(store, receipt_id)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 5)
        await bus.aclose()


@pytest.mark.slow
@pytest.mark.xdist_group("ocr")
async def test_the_real_ocr_engine_is_loaded_before_the_first_receipt_is_claimed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from receiptcore.adapters.extractors.ocr import OcrExtractor
    from receiptcore.adapters.extractors.ocr.engine import RapidOcrEngine

    builds: list[float] = []
    build = RapidOcrEngine._build

    def counted(self: RapidOcrEngine) -> object:
        engine = build(self)
        builds.append(time.monotonic())
        return engine

    monkeypatch.setattr(RapidOcrEngine, "_build", counted)
    extractor = OcrExtractor()
    assert isinstance(extractor, Warms)
    store, bus, service, receipt_id = await _world(extractor)
    built_at_claim: list[int] = []
    claim = store.claim_pending

    async def claim_pending(*args: object, **kwargs: object) -> object:
        built_at_claim.append(len(builds))
        return await claim(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "claim_pending", claim_pending)
    worker = ExtractionWorker(service, bus, poll_seconds=0.05)
    running = asyncio.create_task(worker.run())
    try:
        deadline = time.monotonic() + 120
        while await _status(store, receipt_id) in (ReceiptStatus.PENDING, ReceiptStatus.PROCESSING):
            assert time.monotonic() < deadline, "the receipt was never processed"
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 30)
        await bus.aclose()
    assert built_at_claim[0] == 1, "the first claim came before the engine was loaded"
    assert len(builds) == 1, "the extraction loaded a second engine instead of the warmed one"


async def test_drain_warms_the_extractor_before_its_first_claim() -> None:
    # `receiptcore worker --once` too: the models load before the first attempt starts, not inside it
    extractor = WarmingExtractor()
    store, bus, service, receipt_id = await _world(extractor)
    draining = asyncio.create_task(ExtractionWorker(service, bus).drain())
    try:
        await asyncio.sleep(0.2)
        assert extractor.journal == ["warm"]
        assert await _status(store, receipt_id) == ReceiptStatus.PENDING
        extractor.ready.set()
        stats = await asyncio.wait_for(draining, 5)
    finally:
        await bus.aclose()
    assert stats.processed == 1
    assert extractor.journal == ["warm", "warmed", "extract"]
    assert await _status(store, receipt_id) == ReceiptStatus.EXTRACTED


async def test_drain_claims_anyway_when_the_warm_up_hangs_past_the_limit() -> None:
    extractor = WarmingExtractor()  # never made ready
    store, bus, service, receipt_id = await _world(extractor)
    worker_module.ABANDONED.clear()
    try:
        stats = await asyncio.wait_for(ExtractionWorker(service, bus, warm_seconds=0.2).drain(), 5)
        assert stats.processed == 1
        assert await _status(store, receipt_id) == ReceiptStatus.EXTRACTED
        assert worker_module.ABANDONED.is_set(), "exit_process must not join the loading thread"
    finally:
        worker_module.ABANDONED.clear()
        await bus.aclose()
