"""ExtractionService: success, deferral, retries with backoff, failure, duplicates, misbehaving extractors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from receiptcore.domain.policy import Principal, Scope
from receiptcore.domain.receipt import ExtractedReceipt, FieldSource, Receipt, ReceiptStatus, ReceiptWarning
from receiptcore.errors import ExtractionDeferred, ExtractionFailed
from receiptcore.services.extraction import ExtractionService, WorkerConfig
from receiptcore.services.receipts import Upload
from tests.factories import unique_png
from tests.unit.receipts.conftest import World
from tests.unit.receipts.test_receipt_service import good_output


async def queued(world: World, who: Principal) -> Receipt:
    [outcome] = await world.receipts.upload(who, [Upload(unique_png(), "r.png")])
    return outcome.receipt


async def stored(world: World, receipt: Receipt) -> Receipt:
    return await world.store.get(receipt.id, Scope.everyone())


async def test_empty_queue_returns_none(world: World) -> None:
    assert await world.extraction.run_once("w") is None


async def test_success_stores_data_attempt_and_publishes(world: World, member: Principal) -> None:
    receipt = await queued(world, member)
    world.extractor.script(good_output(), sha256=receipt.source.sha256)
    async with world.bus.subscribe() as events:
        done = await world.extraction.run_once("w1")
        event = await anext(events)
    assert done is not None
    assert done == await stored(world, receipt)
    assert done.status == ReceiptStatus.EXTRACTED
    assert done.total == Decimal("8.30")
    assert done.merchant.name == "YAM FRESH"
    assert done.raw_text.startswith("YAM FRESH")
    assert done.provenance["total"].confidence == pytest.approx(0.97)
    assert done.extracted is not None
    assert done.extracted.total == Decimal("8.30")
    assert (done.lease_owner, done.lease_until) == (None, None)
    [attempt] = done.extraction_attempts
    assert (attempt.attempt, attempt.outcome, attempt.extractor) == (1, "ok", "memory")
    assert attempt.output is not None
    assert attempt.duration_ms is not None
    assert world.extractor.calls[0].media_type == "image/png"
    assert world.extractor.calls[0].filename == "r.png"
    assert (event.type, event.owner_id, event.payload["id"]) == ("receipt.extracted", member.user_id, receipt.id)


async def test_inconsistent_or_doubtful_output_needs_review(world: World, member: Principal) -> None:
    receipt = await queued(world, member)
    world.extractor.script(
        good_output(
            total=Decimal("9.99"),
            provenance={"purchase_date": FieldSource(confidence=0.41, text="31/07/2016")},
            warnings=[ReceiptWarning(code="blurry_image", detail="the photo is blurred")],
        ),
        sha256=receipt.source.sha256,
    )
    done = await world.extraction.run_once("w")
    assert done is not None
    assert done.status == ReceiptStatus.NEEDS_REVIEW
    codes = {w.code for w in done.warnings}
    assert {"total_mismatch", "low_confidence", "blurry_image"} <= codes
    low = next(w for w in done.warnings if w.code == "low_confidence")
    assert low.fields == ["purchase_date"]


async def test_possible_duplicate_is_flagged(world: World, member: Principal) -> None:
    world.extractor.script(good_output())
    first = await queued(world, member)
    second = await queued(world, member)
    await world.extraction.run_once("w")
    done = await world.extraction.run_once("w")
    assert done is not None
    assert done.id == second.id
    assert done.possible_duplicate_of == first.id
    assert done.status == ReceiptStatus.NEEDS_REVIEW
    assert "possible_duplicate" in {w.code for w in done.warnings}
    # another owner's identical receipt is not a duplicate of mine
    other = await queued(world, Principal(user_id="x", roles=frozenset(), permissions=member.permissions))
    theirs = await world.extraction.run_once("w")
    assert theirs is not None
    assert theirs.id == other.id
    assert theirs.possible_duplicate_of is None


async def test_deferred_goes_back_to_pending_without_counting(world: World, member: Principal) -> None:
    receipt = await queued(world, member)
    world.extractor.script(ExtractionDeferred("rate limited", retry_after=120))
    for _ in range(5):  # more deferrals than max_attempts: never fails
        done = await world.extraction.run_once("w")
        assert done is not None
        assert done.status == ReceiptStatus.PENDING
        assert done.next_attempt_at == world.clock.now() + dt.timedelta(seconds=120)
        assert done.lease_owner is None
        assert await world.extraction.run_once("w") is None  # not due yet
        world.clock.advance(120)
    current = await stored(world, receipt)
    assert [a.outcome for a in current.extraction_attempts] == ["deferred"] * 5


async def test_failures_retry_with_backoff_then_fail(world: World, member: Principal) -> None:
    receipt = await queued(world, member)
    world.extractor.script(ExtractionFailed("unreadable"))
    delays = []
    for _ in range(2):
        done = await world.extraction.run_once("w")
        assert done is not None
        assert done.status == ReceiptStatus.PENDING
        assert done.next_attempt_at is not None
        delays.append((done.next_attempt_at - world.clock.now()).total_seconds())
        assert await world.extraction.run_once("w") is None
        world.clock.advance(delays[-1])
    # base 10 s, doubled, with equal jitter: [5, 10] then [10, 20]
    assert 5 <= delays[0] <= 10
    assert 10 <= delays[1] <= 20
    async with world.bus.subscribe() as events:
        done = await world.extraction.run_once("w")
        event = await anext(events)
    assert done is not None
    assert done.status == ReceiptStatus.FAILED
    assert [a.outcome for a in done.extraction_attempts] == ["failed"] * 3
    assert done.extraction_attempts[-1].error == "unreadable"
    assert (event.type, event.payload["id"]) == ("receipt.extraction_failed", receipt.id)
    assert await world.extraction.run_once("w") is None


async def test_reextract_after_failure_gets_fresh_attempts(world: World, member: Principal) -> None:
    receipt = await queued(world, member)
    world.extractor.script([ExtractionFailed("bad"), ExtractionFailed("bad"), ExtractionFailed("bad"), good_output()])
    for _ in range(3):
        world.clock.advance(3600)
        await world.extraction.run_once("w")
    assert (await stored(world, receipt)).status == ReceiptStatus.FAILED
    world.clock.advance(1)
    await world.receipts.reextract(member, receipt.id)
    done = await world.extraction.run_once("w")
    assert done is not None
    assert done.status == ReceiptStatus.EXTRACTED
    assert len(done.extraction_attempts) == 4


async def test_an_extractor_bug_does_not_kill_the_worker(
    world: World, member: Principal, caplog: pytest.LogCaptureFixture
) -> None:
    receipt = await queued(world, member)
    world.extractor.script(ZeroDivisionError("oops"))
    done = await world.extraction.run_once("w")
    assert done is not None
    assert done.status == ReceiptStatus.PENDING
    assert done.extraction_attempts[-1].error == "extractor error: ZeroDivisionError"
    assert "crashed" in caplog.text
    assert receipt.id in caplog.text


class _Liar:
    """An extractor plugin that returns something that is not a valid receipt."""

    name = "liar"
    version = "0"

    async def extract(self, document: object) -> object:
        return {"total": "NaN-ish", "currency": "???"}


async def test_invalid_output_counts_as_failure(world: World, member: Principal) -> None:
    from receiptcore.services.extraction import ExtractionService, WorkerConfig

    service = ExtractionService(world.store, _Liar(), world.bus, world.clock, WorkerConfig(max_attempts=1))  # type: ignore[arg-type]
    receipt = await queued(world, member)
    done = await service.run_once("w")
    assert done is not None
    assert done.id == receipt.id
    assert done.status == ReceiptStatus.FAILED
    assert "not a valid receipt" in (done.extraction_attempts[-1].error or "")


async def test_receipt_deleted_during_extraction_is_dropped(world: World, member: Principal) -> None:
    receipt = await queued(world, member)

    class Deleting:
        name = "deleting"
        version = "1"

        async def extract(self, document: object) -> ExtractedReceipt:
            await world.store.delete(receipt.id, Scope.everyone())
            return good_output()

    from receiptcore.services.extraction import ExtractionService

    service = ExtractionService(world.store, Deleting(), world.bus, world.clock)
    assert await service.run_once("w") is None
    assert await service.run_once("w") is None


async def test_expired_lease_lets_another_worker_finish(world: World, member: Principal) -> None:
    receipt = await queued(world, member)
    now = world.clock.now()
    crashed = await world.store.claim_pending("dead-worker", now, now + dt.timedelta(seconds=60))
    assert crashed is not None
    assert await world.extraction.run_once("w2") is None
    world.clock.advance(61)
    done = await world.extraction.run_once("w2")
    assert done is not None
    assert done.id == receipt.id
    assert done.status == ReceiptStatus.NEEDS_REVIEW  # the default script is an empty receipt
    assert {"missing_total", "missing_date", "missing_merchant"} <= {w.code for w in done.warnings}


async def test_an_extraction_outliving_its_lease_fails_the_attempt(world: World, member: Principal) -> None:
    from receiptcore.adapters.memory.extractor import MemoryExtractor
    from receiptcore.services.extraction import ExtractionService, WorkerConfig

    slow = MemoryExtractor(good_output(), delay=5)
    service = ExtractionService(world.store, slow, world.bus, world.clock, WorkerConfig(lease_seconds=0.05))
    receipt = await queued(world, member)
    done = await service.run_once("w")
    assert done is not None
    assert done.id == receipt.id
    assert done.status == ReceiptStatus.PENDING
    assert "longer than 0.05 s" in (done.extraction_attempts[-1].error or "")


async def test_a_receipt_without_currency_takes_the_default_and_is_accepted(world: World, member: Principal) -> None:
    extraction = ExtractionService(
        world.store, world.extractor, world.bus, world.clock, WorkerConfig(default_currency="EUR")
    )
    receipt = await queued(world, member)
    world.extractor.script(good_output(currency=None), sha256=receipt.source.sha256)
    done = await extraction.run_once("w")
    assert done is not None
    assert (done.status, done.currency) == (ReceiptStatus.EXTRACTED, "EUR")
    assert [w.code for w in done.warnings] == ["currency_assumed"]


async def test_without_a_default_a_receipt_without_currency_goes_to_review(world: World, member: Principal) -> None:
    receipt = await queued(world, member)
    world.extractor.script(good_output(currency=None), sha256=receipt.source.sha256)
    done = await world.extraction.run_once("w")
    assert done is not None
    assert done.status == ReceiptStatus.NEEDS_REVIEW
    assert "currency_unknown" in {w.code for w in done.warnings}
