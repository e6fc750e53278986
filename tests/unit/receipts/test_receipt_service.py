"""ReceiptService: uploads, permissions, corrections with audit, state rules, export, summary, event visibility."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest

from receiptcore.domain.events import Event
from receiptcore.domain.policy import Principal, Scope
from receiptcore.domain.queries import ReceiptQuery
from receiptcore.domain.receipt import ExtractedReceipt, FieldSource, LineItem, Merchant, Receipt, ReceiptStatus
from receiptcore.domain.users import RECEIPTS_READ
from receiptcore.entrypoints.http.export_formats import export_chunks
from receiptcore.errors import (
    Conflict,
    InvalidUpload,
    NotFound,
    PermissionDenied,
    UnsupportedMediaType,
    UploadTooLarge,
    ValidationFailed,
    VersionConflict,
)
from receiptcore.services import receipts as receipts_module
from receiptcore.services.receipts import Upload
from tests.factories import image_bytes, unique_png
from tests.factories import make_principal as principal
from tests.unit.receipts.conftest import World


def good_output(**overrides: object) -> ExtractedReceipt:
    """A consistent extraction: 2 items, subtotal 8.30, no tax, total 8.30."""
    values: dict[str, object] = {
        "merchant": Merchant(name="YAM FRESH", address="Kepong"),
        "purchase_date": dt.date(2016, 7, 31),
        "currency": "MYR",
        "line_items": [
            LineItem(description="SAWI", quantity=Decimal(1), unit_price=Decimal("2.10"), amount=Decimal("2.10")),
            LineItem(description="TAUHU", quantity=Decimal(2), unit_price=Decimal("3.10"), amount=Decimal("6.20")),
        ],
        "subtotal": Decimal("8.30"),
        "total": Decimal("8.30"),
        "raw_text": "YAM FRESH\nTOTAL 8.30",
        "provenance": {"total": FieldSource(confidence=0.97, text="TOTAL 8.30")},
    }
    values.update(overrides)
    return ExtractedReceipt.model_validate(values)


async def upload_one(world: World, who: Principal, content: bytes | None = None, name: str = "r.png") -> Receipt:
    outcomes = await world.receipts.upload(who, [Upload(content or unique_png(), name)])
    return outcomes[0].receipt


async def extracted_receipt(world: World, who: Principal, **overrides: object) -> Receipt:
    content = unique_png()
    receipt = await upload_one(world, who, content)
    world.extractor.script(good_output(**overrides), sha256=receipt.source.sha256)
    done = await world.extraction.run_once("w")
    assert done is not None
    assert done.id == receipt.id
    return done


async def test_upload_stores_a_pending_receipt_and_rings_the_doorbell(world: World, member: Principal) -> None:
    content = image_bytes("JPEG")
    async with world.bus.subscribe() as events:
        outcomes = await world.receipts.upload(member, [Upload(content, "../../etc/IMG\x00 1.jpg", "text/plain")])
        event = await anext(events)
    [outcome] = outcomes
    receipt = outcome.receipt
    assert outcome.created
    assert receipt.status == ReceiptStatus.PENDING
    assert receipt.owner_id == member.user_id
    assert receipt.source.media_type == "image/jpeg"  # sniffed, not the declared text/plain
    assert receipt.source.filename == "IMG 1.jpg"
    assert receipt.source.size == len(content)
    assert (await world.store.open_file(receipt.id, Scope.only(member.user_id)))[1] == content
    assert event.type == "receipt.uploaded"
    assert event.owner_id == member.user_id
    assert event.payload["id"] == receipt.id


async def test_same_bytes_again_return_the_existing_receipt(world: World, member: Principal) -> None:
    content = unique_png()
    first = await upload_one(world, member, content)
    [again] = await world.receipts.upload(member, [Upload(content, "copy.png")])
    assert not again.created
    assert again.receipt.id == first.id
    other = principal()
    [theirs] = await world.receipts.upload(other, [Upload(content, "r.png")])
    assert theirs.created
    assert theirs.receipt.id != first.id


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (b"", InvalidUpload),
        (b"GIF89a" + b"\0" * 40, UnsupportedMediaType),
        (image_bytes("PNG")[:60], InvalidUpload),
        (image_bytes("PNG", size=(1100, 1000)), UploadTooLarge),  # over the 1 MP cap of the fixture
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20_000, UploadTooLarge),  # over the 10,000 byte cap
    ],
)
async def test_a_bad_file_stores_nothing_at_all(
    world: World, member: Principal, bad: bytes, error: type[Exception]
) -> None:
    good = Upload(unique_png(), "good.png")
    with pytest.raises(error):
        await world.receipts.upload(member, [good, Upload(bad, "bad")])
    assert (await world.receipts.list(member, ReceiptQuery())).items == []


async def test_too_many_files_or_none(world: World, member: Principal) -> None:
    with pytest.raises(UploadTooLarge):
        await world.receipts.upload(member, [Upload(unique_png(i)) for i in range(4)])
    with pytest.raises(InvalidUpload):
        await world.receipts.upload(member, [])


async def test_idempotency_key_replays_and_refuses_other_files(world: World, member: Principal) -> None:
    files = [Upload(unique_png(), "a.png"), Upload(unique_png(), "b.png")]
    first = await world.receipts.upload(member, files, idempotency_key="key-1")
    again = await world.receipts.upload(member, files, idempotency_key="key-1")
    assert [o.receipt.id for o in again] == [o.receipt.id for o in first]
    with pytest.raises(Conflict):
        await world.receipts.upload(member, [Upload(unique_png(), "c.png")], idempotency_key="key-1")
    # keys are per owner
    other = principal()
    [theirs] = await world.receipts.upload(other, [Upload(unique_png(), "c.png")], idempotency_key="key-1")
    assert theirs.created


async def test_permissions(world: World, member: Principal, auditor: Principal, admin: Principal) -> None:
    receipt = await extracted_receipt(world, member)
    nobody = principal(permissions=frozenset())
    reader = principal(permissions=frozenset({RECEIPTS_READ}))
    with pytest.raises(PermissionDenied):
        await world.receipts.upload(auditor, [Upload(unique_png())])
    with pytest.raises(PermissionDenied):
        await world.receipts.list(nobody, ReceiptQuery())
    with pytest.raises(PermissionDenied):
        await world.receipts.get(nobody, receipt.id)
    with pytest.raises(PermissionDenied):
        await world.receipts.correct(reader, receipt.id, {"notes": "x"}, None)
    with pytest.raises(PermissionDenied):
        world.receipts.export(nobody, ReceiptQuery())
    with pytest.raises(PermissionDenied):
        await world.receipts.summary(nobody, ReceiptQuery())
    # the auditor reads everyone's receipts but changes nothing
    assert (await world.receipts.get(auditor, receipt.id)).id == receipt.id
    with pytest.raises(PermissionDenied):
        await world.receipts.delete(auditor, receipt.id)
    # an admin writes anyone's receipts
    confirmed = await world.receipts.confirm(admin, receipt.id)
    assert confirmed.status == ReceiptStatus.CONFIRMED


async def test_another_members_receipt_is_not_found_for_every_action(world: World, member: Principal) -> None:
    receipt = await extracted_receipt(world, member)
    stranger = principal()
    calls = [
        world.receipts.get(stranger, receipt.id),
        world.receipts.open_file(stranger, receipt.id),
        world.receipts.correct(stranger, receipt.id, {"notes": "x"}, None),
        world.receipts.confirm(stranger, receipt.id),
        world.receipts.delete(stranger, receipt.id),
        world.receipts.reextract(stranger, receipt.id),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            await call
    assert (await world.receipts.list(stranger, ReceiptQuery())).items == []
    assert (await world.receipts.summary(stranger, ReceiptQuery())).receipt_count == 0


async def test_correction_keeps_an_audit_trail_and_rechecks(world: World, member: Principal) -> None:
    receipt = await extracted_receipt(world, member)
    assert receipt.status == ReceiptStatus.EXTRACTED
    world.clock.advance(60)
    async with world.bus.subscribe() as events:
        corrected = await world.receipts.correct(
            member, receipt.id, {"total": "9.30", "merchant": {"name": "Yam Fresh Sdn Bhd"}}, receipt.version
        )
        event = await anext(events)
    assert corrected.total == Decimal("9.30")
    assert corrected.merchant.name == "Yam Fresh Sdn Bhd"
    assert corrected.merchant.address == "Kepong"  # a partial merchant changes only what it names
    assert corrected.version == receipt.version + 1
    assert corrected.status == ReceiptStatus.NEEDS_REVIEW
    assert "total_mismatch" in {w.code for w in corrected.warnings}
    assert corrected.extracted is not None
    assert corrected.extracted.total == Decimal("8.30")
    by_field = {c.field: c for c in corrected.corrections}
    assert (by_field["total"].from_value, by_field["total"].to_value) == ("8.30", "9.30")
    assert by_field["merchant"].from_value["name"] == "YAM FRESH"
    assert by_field["total"].by == member.user_id
    assert by_field["total"].at == world.clock.now()
    assert event.type == "receipt.updated"
    # fixing the total back clears the warning and the review status
    fixed = await world.receipts.correct(member, receipt.id, {"total": "8.30"}, corrected.version)
    assert fixed.status == ReceiptStatus.EXTRACTED
    assert fixed.warnings == []
    assert len(fixed.corrections) == 3
    assert fixed.extracted is not None
    assert fixed.extracted.total == Decimal("8.30")


async def test_correction_refuses_unknown_fields_and_bad_values(world: World, member: Principal) -> None:
    receipt = await extracted_receipt(world, member)
    with pytest.raises(ValidationFailed, match="status") as unknown:
        await world.receipts.correct(member, receipt.id, {"status": "confirmed", "notes": "x"}, None)
    assert unknown.value.extra["errors"] == [{"field": "status", "message": "unknown or read-only field"}]
    with pytest.raises(ValidationFailed) as bad:
        await world.receipts.correct(member, receipt.id, {"currency": "XYZ", "total": "abc"}, None)
    fields = {e["field"] for e in bad.value.extra["errors"]}
    assert {"currency", "total"} <= fields
    assert (await world.receipts.get(member, receipt.id)).version == receipt.version


async def test_correction_with_stale_version_conflicts(world: World, member: Principal) -> None:
    receipt = await extracted_receipt(world, member)
    await world.receipts.correct(member, receipt.id, {"notes": "first"}, receipt.version)
    with pytest.raises(VersionConflict):
        await world.receipts.correct(member, receipt.id, {"notes": "second"}, receipt.version)


async def test_unchanged_values_make_no_new_version(world: World, member: Principal) -> None:
    receipt = await extracted_receipt(world, member)
    same = await world.receipts.correct(member, receipt.id, {"total": "8.3", "currency": "myr"}, None)
    assert same.version == receipt.version
    assert same.corrections == []


async def test_pending_receipts_cannot_be_corrected_or_confirmed(world: World, member: Principal) -> None:
    receipt = await upload_one(world, member)
    with pytest.raises(Conflict):
        await world.receipts.correct(member, receipt.id, {"notes": "x"}, None)
    with pytest.raises(Conflict):
        await world.receipts.confirm(member, receipt.id)


async def test_corrections_keep_a_confirmed_receipt_confirmed(world: World, member: Principal) -> None:
    receipt = await extracted_receipt(world, member)
    confirmed = await world.receipts.confirm(member, receipt.id, receipt.version)
    assert confirmed.status == ReceiptStatus.CONFIRMED
    corrected = await world.receipts.correct(member, receipt.id, {"total": "100.00", "tags": ["a", "b"]}, None)
    assert corrected.status == ReceiptStatus.CONFIRMED
    assert corrected.tags == ["a", "b"]


async def test_delete_removes_and_publishes(world: World, member: Principal) -> None:
    receipt = await upload_one(world, member)
    async with world.bus.subscribe() as events:
        await world.receipts.delete(member, receipt.id)
        event = await anext(events)
    assert (event.type, event.owner_id) == ("receipt.deleted", member.user_id)
    with pytest.raises(NotFound):
        await world.receipts.get(member, receipt.id)


async def test_reextract_requeues_and_keeps_history(world: World, member: Principal) -> None:
    receipt = await extracted_receipt(world, member)
    queued = await world.receipts.reextract(member, receipt.id)
    assert queued.status == ReceiptStatus.PENDING
    assert len(queued.extraction_attempts) == 1
    claimed = await world.store.claim_pending("w", world.clock.now(), world.clock.now() + dt.timedelta(minutes=1))
    assert claimed is not None
    with pytest.raises(Conflict):
        await world.receipts.reextract(member, receipt.id)


async def test_csv_export_streams_every_page_and_defuses_formulas(
    world: World, member: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receipts_module, "_EXPORT_PAGE", 2)
    evil = await extracted_receipt(
        world, member, merchant=Merchant(name='=HYPERLINK("http://x")', address="+1 street"), discount=None
    )
    await world.receipts.correct(member, evil.id, {"tags": ["@home", "-x"], "notes": "n"}, None)
    for _ in range(4):
        await extracted_receipt(world, member)
    await world.receipts.correct(member, evil.id, {"discount": "-12.50"}, None)
    chunks = [chunk async for chunk in export_chunks(world.receipts.export(member, ReceiptQuery()), "csv")]
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert len(rows) == 5
    row = next(r for r in rows if r["id"] == evil.id)
    assert row["merchant"] == '\'=HYPERLINK("http://x")'
    assert row["merchant_address"] == "'+1 street"
    assert row["tags"] == "'@home;-x"
    assert row["discount"] == "-12.50"  # a plain negative number stays a number
    assert row["total"] == "8.30"
    assert row["item_count"] == "2"
    assert row["purchase_date"] == "2016-07-31"
    assert "".join(chunks).count("\r\n") == 6


async def test_json_export_is_one_array_of_api_receipts(world: World, member: Principal) -> None:
    for _ in range(3):
        await extracted_receipt(world, member)
    await extracted_receipt(world, principal())
    text = "".join([chunk async for chunk in export_chunks(world.receipts.export(member, ReceiptQuery()), "json")])
    items = json.loads(text)
    assert len(items) == 3
    assert {item["total"] for item in items} == {"8.30"}
    assert all(item["owner_id"] == member.user_id for item in items)
    assert "lease_owner" not in items[0]
    empty = "".join([c async for c in export_chunks(world.receipts.export(principal(), ReceiptQuery()), "json")])
    assert json.loads(empty) == []


async def test_summary_is_scoped(world: World, member: Principal, auditor: Principal) -> None:
    await extracted_receipt(world, member)
    await extracted_receipt(world, principal())
    mine = await world.receipts.summary(member, ReceiptQuery())
    everyone = await world.receipts.summary(auditor, ReceiptQuery())
    assert (mine.receipt_count, everyone.receipt_count) == (1, 2)
    assert mine.by_month[0].key == "2016-07"
    assert mine.by_month[0].total == Decimal("8.30")


def test_event_visibility(world: World, member: Principal, auditor: Principal) -> None:
    mine = Event(type="receipt.extracted", owner_id=member.user_id)
    theirs = Event(type="receipt.extracted", owner_id="someone-else")
    assert world.receipts.can_see_event(member, mine)
    assert not world.receipts.can_see_event(member, theirs)
    assert world.receipts.can_see_event(auditor, theirs)
    assert not world.receipts.can_see_event(member, Event(type="user.created"))
    assert not world.receipts.can_see_event(member, Event(type="receipt.updated"))
    assert not world.receipts.can_see_event(principal(permissions=frozenset()), mine)
