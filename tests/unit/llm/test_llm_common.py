"""The shared LLM pieces: receipt schema, output validation, image preparation, spend ledger, retry policy.

Pure functions and files in tmp_path; no LLM API is involved (the extractor tests mock those).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from receiptcore.adapters.extractors.llm.budget import SpendLedger, seconds_until_midnight_utc
from receiptcore.adapters.extractors.llm.images import prepare_document
from receiptcore.adapters.extractors.llm.output import parse_model_output
from receiptcore.adapters.extractors.llm.retry import RetryPolicy, TransientError, call_with_retries
from receiptcore.adapters.extractors.llm.schema import receipt_json_schema
from receiptcore.domain.receipt import ExtractedReceipt, ReceiptData
from receiptcore.errors import ExtractionDeferred, ExtractionFailed
from receiptcore.ports import Document
from receiptcore.settings import Settings
from tests.unit.llm.conftest import RECEIPT_ANSWER, SleepRecorder, jpeg_bytes, pdf_bytes


def test_schema_covers_every_receipt_field_without_refs() -> None:
    schema = receipt_json_schema()
    assert set(ReceiptData.model_fields) <= set(schema["properties"])
    assert {"raw_text", "confidence"} <= set(schema["properties"])
    text = json.dumps(schema)
    assert "$ref" not in text
    assert "$defs" not in text
    total = schema["properties"]["total"]["anyOf"][0]
    assert total["type"] == "string"  # decimals travel as strings: no binary floats for money
    item = schema["properties"]["line_items"]["items"]
    assert {"description", "quantity", "unit_price", "amount"} <= set(item["properties"])
    assert schema["properties"]["payments"]["items"]["properties"]["method"]["enum"][0] == "cash"


def test_schema_is_a_fresh_copy_each_call() -> None:
    receipt_json_schema()["properties"].clear()
    assert receipt_json_schema()["properties"]


def test_a_clean_answer_validates_into_an_extracted_receipt() -> None:
    receipt = parse_model_output(RECEIPT_ANSWER, pages=2)
    assert isinstance(receipt, ExtractedReceipt)
    assert receipt.subtotal == Decimal("8.30")
    assert receipt.taxes[0].label == "GST"
    assert receipt.payments[0].method == "cash"
    assert receipt.purchase_time == dt.time(13, 2)
    assert receipt.pages == 2
    assert receipt.warnings == []


def test_confidences_are_clamped_and_odd_keys_ignored() -> None:
    receipt = parse_model_output({"confidence": {"total": 3, "merchant.name": -1, "DROP TABLE": 1, "tip": "x"}})
    assert receipt.provenance["total"].confidence == 1.0
    assert receipt.provenance["merchant.name"].confidence == 0.0
    assert set(receipt.provenance) == {"total", "merchant.name"}


def test_zero_quantity_is_dropped_but_the_line_kept() -> None:
    receipt = parse_model_output({"line_items": [{"description": "FREE BAG", "quantity": 0, "amount": "0"}]})
    assert receipt.line_items[0].description == "FREE BAG"
    assert receipt.line_items[0].quantity is None
    assert receipt.warnings[0].fields == ["line_items.0.quantity"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)
FIELD_NAMES = st.sampled_from([*ReceiptData.model_fields, "raw_text", "confidence", "extra"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=8) | JSON_VALUES)
def test_any_json_answer_is_validated_or_refused_never_crashes(payload: Any) -> None:
    try:
        receipt = parse_model_output(payload)
    except ExtractionFailed:
        return
    # what comes back must survive the domain model's own validation round trip
    assert ExtractedReceipt.model_validate(receipt.model_dump()) == receipt


def _jpeg_with_orientation(width: int, height: int, orientation: int) -> bytes:
    image = Image.new("RGB", (width, height), "white")
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def test_large_images_are_downscaled_to_the_long_side() -> None:
    prepared = prepare_document(Document(jpeg_bytes(5000, 7000), "image/jpeg"), max_side=1000)
    (image,) = prepared.images
    assert max(image.width, image.height) == 1000
    assert Image.open(io.BytesIO(image.data)).size == (image.width, image.height)


def test_exif_rotation_is_applied() -> None:
    # orientation 6: stored landscape, displayed portrait
    prepared = prepare_document(Document(_jpeg_with_orientation(800, 400, 6), "image/jpeg"), max_side=2000)
    assert (prepared.images[0].width, prepared.images[0].height) == (400, 800)


def test_transparent_png_is_flattened_on_white() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (100, 100), (0, 0, 0, 0)).save(buffer, format="PNG")
    prepared = prepare_document(Document(buffer.getvalue(), "image/png"))
    pixel = Image.open(io.BytesIO(prepared.images[0].data)).getpixel((50, 50))
    assert isinstance(pixel, tuple)
    assert min(pixel) > 240


def test_pdf_pages_are_rendered_up_to_the_page_cap() -> None:
    prepared = prepare_document(Document(pdf_bytes(4), "application/pdf"), max_side=500, max_pages=3)
    assert prepared.total_pages == 4
    assert len(prepared.images) == 3
    assert all(max(image.width, image.height) <= 500 for image in prepared.images)


@pytest.mark.parametrize(
    ("content", "media_type"),
    [(b"", "image/jpeg"), (b"GIF89a garbage", "image/png"), (b"%PDF-1.7\n broken", "application/pdf")],
)
def test_unreadable_documents_fail_as_extraction_failed(content: bytes, media_type: str) -> None:
    with pytest.raises(ExtractionFailed):
        prepare_document(Document(content, media_type))


def test_midnight_countdown() -> None:
    assert seconds_until_midnight_utc(dt.datetime(2026, 1, 1, 23, 59, 30, tzinfo=dt.UTC)) == 30
    plus_two = dt.timezone(dt.timedelta(hours=2))
    # 01:00 at UTC+2 is 23:00 UTC the day before
    assert seconds_until_midnight_utc(dt.datetime(2026, 1, 2, 1, 0, tzinfo=plus_two)) == 3600


def test_ledger_persists_across_instances_and_resets_each_utc_day(tmp_path: Path) -> None:
    now = [dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)]
    path = tmp_path / "spend" / "llm-spend.json"
    first = SpendLedger(path, Decimal(1), now=lambda: now[0])
    first.settle(first.reserve(Decimal("0.3")), Decimal("0.25"))

    second = SpendLedger(path, Decimal(1), now=lambda: now[0])
    assert second.spent_today() == Decimal("0.25")
    with pytest.raises(ExtractionDeferred) as caught:
        second.reserve(Decimal("0.80"))
    assert caught.value.retry_after == 12 * 3600

    now[0] = dt.datetime(2026, 5, 2, 0, 0, 1, tzinfo=dt.UTC)
    assert second.spent_today() == 0
    second.reserve(Decimal("0.80"))


def test_reservation_from_yesterday_is_not_carried_into_today(tmp_path: Path) -> None:
    now = [dt.datetime(2026, 5, 1, 23, 59, 59, tzinfo=dt.UTC)]
    ledger = SpendLedger(tmp_path / "l.json", None, now=lambda: now[0])
    reserved = ledger.reserve(Decimal("0.5"))
    now[0] += dt.timedelta(seconds=2)
    ledger.settle(reserved, Decimal("0.1"))
    assert ledger.spent_today() == Decimal("0.1")


def test_first_call_of_the_day_may_exceed_a_tiny_cap_but_not_a_zero_cap(tmp_path: Path) -> None:
    tiny = SpendLedger(tmp_path / "a.json", Decimal("0.001"))
    tiny.reserve(Decimal("0.05"))
    with pytest.raises(ExtractionDeferred):
        tiny.reserve(Decimal("0.05"))
    with pytest.raises(ExtractionDeferred):
        SpendLedger(tmp_path / "b.json", Decimal(0)).reserve(Decimal("0.01"))


def test_corrupt_ledger_counts_from_zero(tmp_path: Path) -> None:
    path = tmp_path / "llm-spend.json"
    path.write_text("{not json")
    ledger = SpendLedger(path, Decimal(1))
    assert ledger.spent_today() == 0
    ledger.reserve(Decimal("0.2"))
    assert ledger.spent_today() == Decimal("0.2")


async def test_retries_stop_at_the_limit_and_defer() -> None:
    sleeps = SleepRecorder()
    calls = 0

    async def always_busy() -> int:
        nonlocal calls
        calls += 1
        raise TransientError("busy", retry_after=None)

    policy = RetryPolicy(max_retries=5, base_delay=0.5, max_delay=4.0, defer_seconds=90)
    with pytest.raises(ExtractionDeferred) as caught:
        await call_with_retries(always_busy, policy, sleep=sleeps, rng=lambda: 1.0)
    assert calls == 6
    assert sleeps.delays == [0.5, 1.0, 2.0, 4.0, 4.0]  # exponential, capped at max_delay
    assert caught.value.retry_after == 90


@given(retry=st.integers(0, 30), jitter=st.floats(0, 1, exclude_max=True), after=st.none() | st.floats(0, 100))
def test_backoff_delay_is_within_bounds(retry: int, jitter: float, after: float | None) -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=60.0)
    delay = policy.delay(retry, after, lambda: jitter)
    assert 0 <= delay <= 60.0
    if after is not None:
        assert delay >= min(after, 60.0)


@pytest.mark.parametrize(("raw", "expected"), [("off", None), ("", None), ("None", None), ("2.50", Decimal("2.50"))])
def test_spend_cap_setting_can_be_switched_off_from_the_environment(
    raw: str, expected: Decimal | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RECEIPTCORE_LLM_DAILY_SPEND_CAP_USD", raw)
    assert Settings(data_dir=tmp_path).llm_daily_spend_cap_usd == expected
