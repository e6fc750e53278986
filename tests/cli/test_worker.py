"""The worker loop with the real ExtractionService on the memory adapters (the store is the queue)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from receiptcore.adapters.clock import SystemClock
from receiptcore.adapters.memory.event_bus import InProcessEventBus
from receiptcore.adapters.memory.extractor import MemoryExtractor
from receiptcore.adapters.memory.receipt_store import MemoryReceiptStore
from receiptcore.domain.events import Event
from receiptcore.domain.ids import new_id
from receiptcore.domain.policy import Scope
from receiptcore.domain.receipt import ExtractedReceipt, Receipt, ReceiptStatus
from receiptcore.entrypoints.worker import ExtractionWorker
from receiptcore.ports import Document
from receiptcore.services.extraction import ExtractionService, WorkerConfig
from tests.cli.conftest import receipt_image
from tests.cli.plugin import SCRIPTED
from tests.factories import make_receipt


def _world(delay: float = 0.0) -> tuple[MemoryReceiptStore, InProcessEventBus, MemoryExtractor, ExtractionService]:
    store, bus = MemoryReceiptStore(), InProcessEventBus()
    extractor = MemoryExtractor(SCRIPTED, delay=delay)
    service = ExtractionService(store, extractor, bus, SystemClock(), WorkerConfig(lease_seconds=60))
    return store, bus, extractor, service


async def _add_pending(store: MemoryReceiptStore, n: int) -> list[str]:
    ids = []
    for i in range(n):
        content = receipt_image(f"receipt {i} {new_id()}")
        now = dt.datetime.now(dt.UTC)
        receipt, _ = make_receipt(
            f"owner-{new_id()}", content, filename=f"r{i}.jpg", media_type="image/jpeg", created_at=now
        )
        stored, _ = await store.add(receipt, content)
        ids.append(stored.id)
    return ids


async def _statuses(store: MemoryReceiptStore, ids: list[str]) -> list[ReceiptStatus]:
    return [(await store.get(i, Scope.everyone())).status for i in ids]


async def test_drain_processes_every_pending_receipt_then_returns() -> None:
    store, bus, extractor, service = _world()
    ids = await _add_pending(store, 5)
    stats = await ExtractionWorker(service, bus, concurrency=2).drain()
    assert stats.processed == 5
    assert stats.errors == 0
    assert set(await _statuses(store, ids)) == {ReceiptStatus.EXTRACTED}
    assert len(extractor.calls) == 5
    assert (await store.get(ids[0], Scope.everyone())).total == SCRIPTED.total


async def test_concurrency_extracts_several_receipts_at_once() -> None:
    store, bus, extractor, service = _world()
    ids = await _add_pending(store, 4)
    in_flight, peak = 0, 0
    all_in = asyncio.Event()
    real_extract = extractor.extract

    async def extract_when_all_four_are_in(document: Document) -> ExtractedReceipt:
        # each call waits for the other three: a worker extracting fewer at once never gets there and times out
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight == 4:
            all_in.set()
        try:
            await asyncio.wait_for(all_in.wait(), timeout=10)
            return await real_extract(document)
        finally:
            in_flight -= 1

    extractor.extract = extract_when_all_four_are_in  # type: ignore[method-assign]
    stats = await asyncio.wait_for(ExtractionWorker(service, bus, concurrency=4).drain(), timeout=60)
    assert peak == 4, f"at most {peak} of 4 receipts were extracted at once with concurrency 4"
    assert stats.processed == 4
    assert set(await _statuses(store, ids)) == {ReceiptStatus.EXTRACTED}


async def test_an_upload_event_wakes_an_idle_worker_long_before_the_poll() -> None:
    store, bus, _, service = _world()
    worker = ExtractionWorker(service, bus, poll_seconds=60)
    running = asyncio.create_task(worker.run())
    await asyncio.sleep(0.2)  # the worker found an empty queue and sleeps for up to 60 s
    [receipt_id] = await _add_pending(store, 1)
    await bus.publish(Event(type="receipt.uploaded", owner_id="owner-1", payload={"id": receipt_id}))
    deadline = time.monotonic() + 5
    while (await _statuses(store, [receipt_id]))[0] != ReceiptStatus.EXTRACTED:
        assert time.monotonic() < deadline, "the doorbell did not wake the worker"
        await asyncio.sleep(0.05)
    worker.stop()
    stats = await asyncio.wait_for(running, 5)
    assert stats.processed == 1


async def test_polling_finds_work_without_any_event() -> None:
    store, _, _, service = _world()
    worker = ExtractionWorker(service, None, poll_seconds=0.1)
    running = asyncio.create_task(worker.run())
    await asyncio.sleep(0.2)
    [receipt_id] = await _add_pending(store, 1)
    deadline = time.monotonic() + 5
    while (await _statuses(store, [receipt_id]))[0] != ReceiptStatus.EXTRACTED:
        assert time.monotonic() < deadline, "polling did not find the receipt"
        await asyncio.sleep(0.05)
    worker.stop()
    await asyncio.wait_for(running, 5)


async def test_stop_finishes_the_receipt_in_hand() -> None:
    store, bus, extractor, service = _world(delay=0.5)
    ids = await _add_pending(store, 1)
    worker = ExtractionWorker(service, bus, poll_seconds=60)
    running = asyncio.create_task(worker.run())
    while not extractor.calls:  # noqa: ASYNC110 - polling the double's call log is the simplest probe here
        await asyncio.sleep(0.01)
    worker.stop()  # mid-extraction
    stats = await asyncio.wait_for(running, 5)
    assert stats.processed == 1
    assert await _statuses(store, ids) == [ReceiptStatus.EXTRACTED]


async def test_a_store_error_does_not_kill_the_loop() -> None:
    store, bus, _, service = _world()
    ids = await _add_pending(store, 1)
    real_claim = store.claim_pending
    failures = {"left": 2}

    async def flaky_claim(*args: object, **kwargs: object) -> Receipt | None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("transient failure")
        return await real_claim(*args, **kwargs)  # type: ignore[arg-type]

    store.claim_pending = flaky_claim  # type: ignore[method-assign]
    worker = ExtractionWorker(service, bus, poll_seconds=0.1, error_backoff_seconds=0.05)
    running = asyncio.create_task(worker.run())
    deadline = time.monotonic() + 5
    while (await _statuses(store, ids))[0] != ReceiptStatus.EXTRACTED:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    worker.stop()
    stats = await asyncio.wait_for(running, 5)
    assert stats.errors == 2
    assert stats.processed == 1
