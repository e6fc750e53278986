"""Fairness suite (issue 9, hole 2): one member floods the queue with slow documents that keep failing; another
user's upload must be extracted within a stated number of claims. Counted in claims, not seconds: the real
container on each embedded store (SQLite under tmp_path, and memory), a manual clock, one worker, a scripted
extractor that fails the flooder's documents (as a time-limited attempt on a stuck PDF does) and reads the others.

Before the fix the queue was oldest first and a due retry kept its place: the other user's receipt waited behind
every one of the flooder's attempts (11 min 19 s in the probe with three PDFs and five attempts each).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from dependency_injector import providers

from receiptcore.adapters.clock import ManualClock
from receiptcore.adapters.memory.extractor import MemoryExtractor
from receiptcore.adapters.memory.receipt_store import MemoryReceiptStore
from receiptcore.domain.policy import Scope
from receiptcore.domain.receipt import ReceiptStatus
from receiptcore.domain.users import MEMBER
from receiptcore.entrypoints.container import Container
from receiptcore.errors import ExtractionFailed
from receiptcore.services.receipts import Upload
from tests.api.conftest import make_container, make_settings
from tests.factories import make_principal, unique_png
from tests.hostile.conftest import Figures
from tests.unit.receipts.test_receipt_service import good_output

FLOOD = 30  # the flooder's slow documents, uploaded first
# The bound: with one worker, the other user's receipt is claimed at most this many claims after its upload (the
# claim in flight when it arrives finishes first, then it is next), whatever the flooder queued.
BOUND = 2


@pytest.fixture(params=["sqlite", "memory"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Container, ManualClock]]:
    container = make_container(make_settings(tmp_path, extraction_retry_base_seconds=1.0))
    if request.param == "memory":
        container.receipt_store.override(providers.Object(MemoryReceiptStore()))
    clock = ManualClock()
    container.clock.override(providers.Object(clock))
    yield container, clock
    await container.sqlite().aclose()


async def _upload(container: Container, owner_id: str, seed: int, name: str) -> str:
    who = make_principal(MEMBER, user_id=owner_id)
    [outcome] = await container.receipt_service().upload(who, [Upload(unique_png(seed), name)])
    return outcome.receipt.id


async def test_another_users_upload_waits_at_most_two_claims_behind_a_flood(
    world: tuple[Container, ManualClock], figures: Figures
) -> None:
    container, clock = world
    extractor = container.extractor()
    assert isinstance(extractor, MemoryExtractor)
    extraction = container.extraction_service()
    for n in range(FLOOD):
        extractor.script(ExtractionFailed("took longer than the time limit"), filename=f"slow-{n}.pdf.png")
        await _upload(container, "flooder", n, f"slow-{n}.pdf.png")
    extractor.script(good_output(), filename="lunch.png")
    rounds: list[int] = []
    # three rounds: the other user uploads while the flooder's first attempts run, then while its retries are due
    for round_ in range(3):
        assert await extraction.run_once("w1") is not None  # a flooder document is in hand when the upload comes
        clock.advance(60)  # every flooder retry so far is due now
        mine = await _upload(container, "other", 10_000 + round_, "lunch.png")  # the same user each round
        claims = 0
        while True:
            done = await extraction.run_once("w1")
            assert done is not None
            claims += 1
            if done.id == mine:
                assert done.status in {ReceiptStatus.EXTRACTED, ReceiptStatus.NEEDS_REVIEW}
                break
            assert claims <= FLOOD * 6, "never extracted"
        rounds.append(claims + 1)  # counting the claim that was in flight when the upload arrived
    failed = sum(claims > BOUND for claims in rounds)
    figures.record(
        "fairness",
        tried=len(rounds),
        failed=failed,
        flood_documents=FLOOD,
        bound_claims=BOUND,
        claims_until_extracted=rounds,
    )
    assert failed == 0


async def test_the_flood_still_drains_and_fails_visibly(world: tuple[Container, ManualClock], figures: Figures) -> None:
    container, clock = world
    extractor = container.extractor()
    assert isinstance(extractor, MemoryExtractor)
    extractor.script(ExtractionFailed("took longer than the time limit"))
    ids = [await _upload(container, "flooder", n, f"slow-{n}.pdf.png") for n in range(5)]
    extraction = container.extraction_service()
    claims = 0
    while claims < 200:
        if await extraction.run_once("w1") is None:
            clock.advance(dt.timedelta(hours=1).total_seconds())  # every backoff is over
            if await extraction.run_once("w1") is None:
                break
        claims += 1
    store = container.receipt_store()
    statuses = [(await store.get(receipt_id, Scope.everyone())).status for receipt_id in ids]
    attempts = container.settings().extraction_max_attempts
    figures.record("fairness", tried=len(ids), failed=0, claims_to_drain=claims, attempts_each=attempts)
    assert statuses == [ReceiptStatus.FAILED] * len(ids)  # retryable by a person (re-extract), never lost
