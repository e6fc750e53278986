"""A hypothesis strategy of receipts with every kind of field filled or left empty: money at the bounds of its
digits and places, datetimes in and out of UTC, provenance floats, extraction attempts with and without output,
an extracted copy, corrections holding any JSON value. Used by the tests that compare two ways of reading or
showing a receipt (tests/unit/test_dumped_representation.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from receiptcore.domain.lifecycle import ReceiptStatus
from receiptcore.domain.receipt import (
    Correction,
    ExtractedReceipt,
    ExtractionAttempt,
    FieldSource,
    LineItem,
    Merchant,
    Payment,
    PaymentMethod,
    Receipt,
    ReceiptData,
    ReceiptType,
    ReceiptWarning,
    SourceFile,
    TaxLine,
)

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12).map(str.strip)
short = st.text("abcXYZ é€ 01-", min_size=1, max_size=10).map(str.strip).filter(bool)
money = st.decimals(min_value=-(10**9), max_value=10**9, places=2) | st.decimals(min_value=0, max_value=1000, places=4)
rate = st.decimals(min_value=0, max_value=100, places=3)
zones = st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-5, minutes=-30))])
moments = st.builds(
    lambda base, zone: base.replace(tzinfo=dt.UTC).astimezone(zone),
    st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    zones,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(short, inner, max_size=3),
    max_leaves=6,
)


def _data_fields(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "receipt_type": draw(st.none() | st.sampled_from(ReceiptType)),
        "merchant": Merchant(
            name=draw(st.none() | text), address=draw(st.none() | text), phone=draw(st.none() | short)
        ),
        "purchase_date": draw(st.none() | st.dates()),
        "purchase_time": draw(st.none() | st.times()),
        "receipt_number": draw(st.none() | short),
        "currency": draw(st.none() | st.sampled_from(["EUR", "MYR", "JPY", "KWD"])),
        "line_items": draw(
            st.lists(
                st.builds(
                    LineItem,
                    description=text,
                    quantity=st.none() | st.decimals(min_value=0, max_value=1000, places=3),
                    unit_price=st.none() | money,
                    amount=st.none() | money,
                    tax_rate=st.none() | rate,
                    category=st.none() | short,
                ),
                max_size=4,
            )
        ),
        "subtotal": draw(st.none() | money),
        "taxes": draw(
            st.lists(st.builds(TaxLine, label=st.none() | short, rate=st.none() | rate, amount=money), max_size=2)
        ),
        "tip": draw(st.none() | money),
        "discount": draw(st.none() | money),
        "total": draw(st.none() | money),
        "payments": draw(
            st.lists(
                st.builds(
                    Payment,
                    method=st.sampled_from(PaymentMethod),
                    amount=st.none() | money,
                    card_last4=st.none() | st.from_regex(r"\A\d{4}\Z"),
                ),
                max_size=2,
            )
        ),
    }


field_sources = st.builds(
    FieldSource,
    confidence=st.floats(0, 1) | st.sampled_from([0.0, 1.0, 0.1, 5e-324]),
    method=st.none() | short,
    text=st.none() | text,
    page=st.none() | st.integers(1, 99),
    box=st.none() | st.lists(st.integers(-5, 5000), min_size=4, max_size=4),
)


@st.composite
def receipts(draw: st.DrawFn) -> Receipt:
    """Receipts with every kind of field filled or left empty: what the store may be asked to write."""
    created = draw(moments)
    attempts = []
    for number in range(1, draw(st.integers(0, 2)) + 1):
        output = None
        if draw(st.booleans()):
            output = ExtractedReceipt(
                **_data_fields(draw),
                provenance=draw(st.dictionaries(short, field_sources, max_size=3)),
                raw_text=draw(text),
                pages=draw(st.integers(0, 5)),
            )
        attempts.append(
            ExtractionAttempt(
                attempt=number,
                extractor="ocr",
                extractor_version=draw(short),
                started_at=draw(moments),
                finished_at=draw(st.none() | moments),
                duration_ms=draw(st.none() | st.integers(0, 10**6)),
                outcome=draw(st.sampled_from(["ok", "failed", "deferred"])),
                error=draw(st.none() | text),
                output=output,
            )
        )
    return Receipt(
        **_data_fields(draw),
        id=draw(short),
        owner_id=draw(short),
        status=draw(st.sampled_from(ReceiptStatus)),
        version=draw(st.integers(1, 2**40)),
        created_at=created,
        updated_at=draw(moments),
        source=SourceFile(
            filename=draw(st.none() | text),
            media_type="image/png",
            size=draw(st.integers(0, 2**62)),
            sha256="ab" * 32,
            pages=draw(st.integers(1, 9)),
        ),
        category=draw(st.none() | short),
        tags=draw(st.lists(short, max_size=3)),
        notes=draw(st.none() | text),
        warnings=draw(
            st.lists(
                st.builds(
                    ReceiptWarning,
                    code=st.sampled_from(["total_mismatch", "possible_duplicate"]),
                    detail=text,
                    fields=st.lists(short, max_size=2),
                ),
                max_size=2,
            )
        ),
        provenance=draw(st.dictionaries(short, field_sources, max_size=3)),
        raw_text=draw(text),
        extraction_attempts=attempts,
        extracted=draw(st.none() | st.just(ReceiptData(**_data_fields(draw)))),
        corrections=draw(
            st.lists(
                st.builds(Correction, field=short, from_value=json_values, to_value=json_values, by=short, at=moments),
                max_size=2,
            )
        ),
        possible_duplicate_of=draw(st.none() | short),
        lease_owner=draw(st.none() | short),
        lease_until=draw(st.none() | moments),
        next_attempt_at=draw(st.none() | moments),
        queued_at=draw(st.none() | moments),
    )
