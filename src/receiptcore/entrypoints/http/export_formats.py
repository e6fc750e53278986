"""The export formats of ``GET /api/receipts/export``: CSV (RFC 4180, formula-injection safe) or a JSON array of
API representations, streamed from the receipts ``ReceiptService.export`` yields."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from decimal import Decimal
from typing import Literal

from receiptcore.domain.receipt import Receipt
from receiptcore.entrypoints.http.representation import receipt_to_api

ExportFormat = Literal["csv", "json"]

CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "status",
    "merchant",
    "merchant_address",
    "purchase_date",
    "purchase_time",
    "currency",
    "subtotal",
    "tax",
    "tip",
    "discount",
    "total",
    "payment_method",
    "card_last4",
    "category",
    "tags",
    "receipt_number",
    "item_count",
    "filename",
    "created_at",
)

# Spreadsheets run a cell starting with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def safe_cell(value: str) -> str:
    """Neutralise a cell a spreadsheet would evaluate, by a leading apostrophe; plain numbers (``-12.50``) stay."""
    if value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def csv_line(cells: Sequence[str]) -> str:
    """One RFC 4180 record (CRLF-terminated), every cell made formula-safe."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([safe_cell(cell) for cell in cells])
    return buffer.getvalue()


def csv_header() -> str:
    """The header record."""
    return csv_line(CSV_COLUMNS)


def csv_row(receipt: Receipt) -> str:
    """One receipt as a CSV record of ``CSV_COLUMNS``."""
    payment = receipt.payments[0] if receipt.payments else None
    card = next((p.card_last4 for p in receipt.payments if p.card_last4), None)
    tax = sum((t.amount for t in receipt.taxes), Decimal(0)) if receipt.taxes else None
    cells = [
        receipt.id,
        receipt.status.value,
        receipt.merchant.name,
        receipt.merchant.address,
        receipt.purchase_date.isoformat() if receipt.purchase_date else None,
        receipt.purchase_time.isoformat() if receipt.purchase_time else None,
        receipt.currency,
        _money(receipt.subtotal),
        _money(tax),
        _money(receipt.tip),
        _money(receipt.discount),
        _money(receipt.total),
        payment.method.value if payment else None,
        card,
        receipt.category,
        ";".join(receipt.tags),
        receipt.receipt_number,
        str(len(receipt.line_items)),
        receipt.source.filename,
        receipt.created_at.isoformat().replace("+00:00", "Z"),
    ]
    return csv_line(["" if cell is None else cell for cell in cells])


def json_item(receipt: Receipt) -> str:
    """One receipt as the API representation, serialised."""
    return json.dumps(receipt_to_api(receipt), ensure_ascii=False, separators=(",", ":"))


async def export_chunks(receipts: AsyncIterable[Receipt], fmt: ExportFormat) -> AsyncIterator[str]:
    """The export document in ``fmt`` as text chunks: the CSV header then one row per receipt, or ``[``, the
    items separated by commas, then ``]``."""
    yield csv_header() if fmt == "csv" else "["
    first = True
    async for receipt in receipts:
        if fmt == "csv":
            yield csv_row(receipt)
        else:
            yield ("" if first else ",") + json_item(receipt)
        first = False
    if fmt == "json":
        yield "]"


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"
