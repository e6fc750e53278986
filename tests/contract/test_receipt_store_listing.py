"""A listing page shows each receipt exactly as reading it does, on every adapter, byte for byte.

List items may be summaries (the port lets them leave out the extracted copy and the attempts' outputs, which
the API never shows in a list); what the API sends must not change by it: the JSON of a page's items is
byte-identical to the JSON of the same receipts read one by one.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from receiptcore.domain.ids import new_id
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery, SortKey
from receiptcore.domain.receipt import (
    Correction,
    ExtractedReceipt,
    ExtractionAttempt,
    FieldSource,
    LineItem,
    Merchant,
    ReceiptData,
    ReceiptStatus,
    ReceiptWarning,
)
from receiptcore.entrypoints.http.export_formats import json_item
from receiptcore.entrypoints.http.representation import receipt_to_api
from receiptcore.ports import ReceiptStore
from tests.factories import T0, make_receipt


def _output(seed: int) -> ExtractedReceipt:
    return ExtractedReceipt(
        merchant=Merchant(name=f"Shop {seed}", address="1 Main St"),
        currency="EUR",
        total=Decimal(seed) + Decimal("0.99"),
        line_items=[LineItem(description=f"item {i}", amount=Decimal(i)) for i in range(1, 6)],
        provenance={"total": FieldSource(confidence=0.9, text=f"TOTAL {seed}.99", page=1, box=[1, 2, 3, 4])},
        raw_text=f"SHOP {seed}\n" + "line of receipt text\n" * 50,
        warnings=[ReceiptWarning(code="low_contrast", detail="faint print")],
        pages=2,
    )


async def _seed(store: ReceiptStore, owner: str) -> None:
    for seed in range(7):
        attempts = [
            ExtractionAttempt(
                attempt=n + 1,
                extractor="memory",
                extractor_version="1",
                started_at=T0 + dt.timedelta(minutes=n),
                finished_at=T0 + dt.timedelta(minutes=n, seconds=3),
                duration_ms=3000,
                outcome="ok" if n == seed % 3 else "failed",
                error=None if n == seed % 3 else "unreadable",
                output=_output(seed) if n == seed % 3 else None,
            )
            for n in range(seed % 3 + 1)
        ]
        output = _output(seed)
        receipt, content = make_receipt(
            owner,
            created_at=T0 + dt.timedelta(hours=seed),
            status=ReceiptStatus.NEEDS_REVIEW if seed % 2 else ReceiptStatus.CONFIRMED,
            merchant=output.merchant,
            currency="EUR",
            total=Decimal(seed) + Decimal(1) if seed % 2 else output.total,
            line_items=output.line_items,
            provenance=output.provenance,
            raw_text=output.raw_text,
            warnings=[ReceiptWarning(code="total_mismatch", detail="off", fields=["total"])] if seed % 2 else [],
            extraction_attempts=attempts if seed else [],
            extracted=ReceiptData(merchant=output.merchant, total=output.total) if seed % 2 else None,
            corrections=[Correction(field="total", from_value="1.99", to_value="2.00", by=owner, at=T0)]
            if seed % 2
            else [],
            tags=["work", "lunch"],
            notes="kept",
        )
        await store.add(receipt, content)


async def test_a_listed_receipt_is_shown_exactly_as_a_read_one(store: ReceiptStore) -> None:
    owner = new_id()
    await _seed(store, owner)
    scope = Scope.only(owner)
    for sort in SortKey:
        page = await store.list(ReceiptQuery(sort=sort, limit=50), scope)
        assert len(page.items) == 7
        for item in page.items:
            full = await store.get(item.id, scope)
            assert json_item(item) == json_item(full)
            assert json.dumps(receipt_to_api(item)) == json.dumps(receipt_to_api(full))
