"""One extraction attempt is time-limited (``WorkerConfig.timeout_seconds``, never more than the lease): a stuck
extractor call is abandoned and the attempt recorded as failed and retried with backoff (issue 9, hole 2)."""

from __future__ import annotations

import asyncio

from receiptcore.domain.policy import Scope
from receiptcore.domain.receipt import ExtractedReceipt, ReceiptStatus
from receiptcore.ports import Document
from receiptcore.services.extraction import ExtractionService, WorkerConfig
from receiptcore.services.receipts import Upload
from tests.factories import make_principal, unique_png
from tests.unit.receipts.conftest import World


class StuckExtractor:
    """An extractor whose call never returns (an engine stuck on a hostile page)."""

    name = "stuck"
    version = "1"

    def __init__(self) -> None:
        self.started = 0

    async def extract(self, document: Document) -> ExtractedReceipt:
        self.started += 1
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_stuck_extraction_is_abandoned_and_retried(world: World) -> None:
    [outcome] = await world.receipts.upload(make_principal(), [Upload(unique_png(), "r.png")])
    stuck = StuckExtractor()
    config = WorkerConfig(lease_seconds=60, max_attempts=3, retry_base_seconds=10, timeout_seconds=0.05)
    service = ExtractionService(world.store, stuck, world.bus, world.clock, config)
    result = await service.run_once("w1")
    assert result is not None
    assert stuck.started == 1
    stored = await world.store.get(outcome.receipt.id, Scope.everyone())
    assert stored.status == ReceiptStatus.PENDING  # retryable
    assert stored.next_attempt_at is not None
    [attempt] = stored.extraction_attempts
    assert attempt.outcome == "failed"
    assert attempt.error is not None
    assert "abandoned" in attempt.error


def test_the_time_limit_never_exceeds_the_lease(world: World) -> None:
    config = WorkerConfig(lease_seconds=30, timeout_seconds=600)
    service = ExtractionService(world.store, StuckExtractor(), world.bus, world.clock, config)
    assert service._timeout == 30
