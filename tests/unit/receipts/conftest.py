"""Fixtures of the receipt use-case tests: memory adapters, a manual clock, principals of each built-in role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from receiptcore.adapters.clock import ManualClock
from receiptcore.adapters.inspection import PillowFileInspector
from receiptcore.adapters.memory.event_bus import InProcessEventBus
from receiptcore.adapters.memory.extractor import MemoryExtractor
from receiptcore.adapters.memory.receipt_store import MemoryReceiptStore
from receiptcore.domain.policy import Principal
from receiptcore.domain.users import ADMIN, AUDITOR, MEMBER
from receiptcore.services.extraction import ExtractionService, WorkerConfig
from receiptcore.services.receipts import ReceiptService, UploadLimits
from tests.factories import T0
from tests.factories import make_principal as principal


@dataclass
class World:
    """Everything a receipt use-case test touches."""

    store: MemoryReceiptStore
    bus: InProcessEventBus
    clock: ManualClock
    extractor: MemoryExtractor
    receipts: ReceiptService
    extraction: ExtractionService


@pytest.fixture
async def world() -> AsyncIterator[World]:
    store = MemoryReceiptStore()
    bus = InProcessEventBus()
    clock = ManualClock(T0)
    extractor = MemoryExtractor()
    receipts = ReceiptService(
        store, PillowFileInspector(max_pixels=1_000_000, max_pages=3), bus, clock, UploadLimits(10_000, 3)
    )
    extraction = ExtractionService(
        store, extractor, bus, clock, WorkerConfig(lease_seconds=60, max_attempts=3, retry_base_seconds=10)
    )
    yield World(store, bus, clock, extractor, receipts, extraction)
    await bus.aclose()


@pytest.fixture
def member() -> Principal:
    return principal(MEMBER)


@pytest.fixture
def auditor() -> Principal:
    return principal(AUDITOR)


@pytest.fixture
def admin() -> Principal:
    return principal(ADMIN)
