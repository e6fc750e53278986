"""Builders for receipt tests: ``make_receipt`` and tiny real image/PDF files made with Pillow."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
from typing import Any

from PIL import Image

from receiptcore.domain.ids import new_id
from receiptcore.domain.receipt import Receipt, ReceiptStatus, SourceFile

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


def make_receipt(owner_id: str | None = None, content: bytes | None = None, **fields: Any) -> tuple[Receipt, bytes]:
    """A valid receipt plus its file bytes (random unless given); ``fields`` override any Receipt field."""
    content = content if content is not None else os.urandom(32)
    created = fields.pop("created_at", T0)
    values: dict[str, Any] = {
        "id": new_id(),
        "owner_id": owner_id or new_id(),
        "status": ReceiptStatus.PENDING,
        "created_at": created,
        "updated_at": created,
        "source": SourceFile(
            filename="receipt.png",
            media_type="image/png",
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
        ),
    }
    values.update(fields)
    return Receipt.model_validate(values), content


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 30), color: str = "white") -> bytes:
    """A small real image in ``fmt`` (PNG, JPEG, WEBP) or a one-page PDF (``PDF``)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


def unique_png(seed: int | None = None) -> bytes:
    """A valid PNG whose bytes differ per call (or per ``seed``)."""
    value = seed if seed is not None else int.from_bytes(os.urandom(3), "big")
    color = (value & 0xFF, (value >> 8) & 0xFF, (value >> 16) & 0xFF)
    buffer = io.BytesIO()
    Image.new("RGB", (8 + value % 13, 8), color).save(buffer, "PNG")
    return buffer.getvalue()
