"""Receipts with everything a move must carry: extraction attempts with their outputs, the extracted copy, a
correction, provenance, raw text, tags, money with cents."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from receiptcore.domain.receipt import (
    Correction,
    ExtractedReceipt,
    ExtractionAttempt,
    FieldSource,
    LineItem,
    Merchant,
    Receipt,
    ReceiptData,
    ReceiptStatus,
)
from tests.factories import T0, make_receipt


def rich_receipt(owner_id: str, seed: int, content: bytes | None = None) -> tuple[Receipt, bytes]:
    """A receipt after two extraction attempts (one failed, one with output) and a person's correction."""
    output = ExtractedReceipt(
        merchant=Merchant(name=f"Corner Grocer {seed}", address="1 Main St"),
        currency="EUR",
        total=Decimal(seed) + Decimal("0.99"),
        line_items=[LineItem(description=f"item {i}", amount=Decimal(i) + Decimal("0.33")) for i in range(1, 4)],
        provenance={"total": FieldSource(confidence=0.9, text=f"TOTAL {seed}.99", page=1, box=[1, 2, 3, 4])},
        raw_text=f"CORNER GROCER {seed}\nTOTAL {seed}.99\n",
        pages=1,
    )
    attempts = [
        ExtractionAttempt(
            attempt=1,
            extractor="ocr",
            extractor_version="1",
            started_at=T0,
            finished_at=T0 + dt.timedelta(seconds=2),
            duration_ms=2000,
            outcome="failed",
            error="unreadable",
        ),
        ExtractionAttempt(
            attempt=2,
            extractor="ocr",
            extractor_version="1",
            started_at=T0 + dt.timedelta(minutes=1),
            finished_at=T0 + dt.timedelta(minutes=1, seconds=3),
            duration_ms=3000,
            outcome="ok",
            output=output,
        ),
    ]
    return make_receipt(
        owner_id,
        content=content,
        created_at=T0 + dt.timedelta(minutes=seed),
        status=ReceiptStatus.NEEDS_REVIEW,
        merchant=output.merchant,
        currency="EUR",
        total=Decimal(seed) + Decimal("1.00"),
        line_items=output.line_items,
        provenance=output.provenance,
        raw_text=output.raw_text,
        extraction_attempts=attempts,
        extracted=ReceiptData(merchant=output.merchant, total=output.total, currency="EUR"),
        corrections=[Correction(field="total", from_value=f"{seed}.99", to_value=f"{seed + 1}.00", by=owner_id, at=T0)],
        tags=["work", "lunch"],
        version=4,
    )
