"""The extraction worker's use case: claim a pending receipt, run the extractor, validate, check consistency,
flag duplicates, store, publish.

SKELETON: signatures are the contract; bodies are filled in by the receipts work package.
"""

from __future__ import annotations

from dataclasses import dataclass

from receiptcore.domain.receipt import Receipt
from receiptcore.ports import Clock, EventBus, Extractor, ReceiptStore


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Lease length and retry policy."""

    lease_seconds: float = 300.0
    max_attempts: int = 5
    retry_base_seconds: float = 30.0


class ExtractionService:
    """Runs extraction for queued receipts."""

    def __init__(
        self, store: ReceiptStore, extractor: Extractor, bus: EventBus, clock: Clock, config: WorkerConfig | None = None
    ) -> None:
        ...

    async def run_once(self, worker_id: str) -> Receipt | None:
        """Claim one receipt and process it; returns the stored result, or None when the queue is empty.
        ExtractionDeferred → back to pending with next_attempt_at (backoff), not counted as failure;
        ExtractionFailed → retried with backoff until max_attempts, then status failed; output that fails
        validation counts as failure. Never raises for a bad document."""
        ...
