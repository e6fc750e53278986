"""Everything an extractor plugin needs, in one stable module: ``from receiptcore.plugins import ...``.

A plugin (docs/extractors.md) implements ``Extractor``: ``name``, ``version`` and ``async extract(document)``
returning an ``ExtractedReceipt`` built from the model pieces below, raising only ``ExtractionFailed`` or
``ExtractionDeferred`` (and ``ConfigurationError`` from its constructor). Its factory receives an
``ExtractorConfig``: its own options and the few install-wide facts an extractor needs, nothing else of
receiptcore's settings. The money helpers parse and round amounts the way receiptcore does. Names here keep
their meaning across minor releases; the modules they come from (``receiptcore.domain``, ``receiptcore.ports``)
are internal and may move.
"""

from __future__ import annotations

from receiptcore.domain.money import is_currency, minor_units, parse_decimal, round_money
from receiptcore.domain.receipt_values import (
    ExtractedReceipt,
    FieldSource,
    LineItem,
    Merchant,
    Payment,
    PaymentMethod,
    ReceiptData,
    ReceiptType,
    ReceiptWarning,
    TaxLine,
)
from receiptcore.errors import ConfigurationError, ExtractionDeferred, ExtractionFailed
from receiptcore.extractor_config import ExtractorConfig
from receiptcore.ports import Closeable, Document, Extractor, ReportsHealth, Warms

__all__ = [
    "Closeable",
    "ConfigurationError",
    "Document",
    "ExtractedReceipt",
    "ExtractionDeferred",
    "ExtractionFailed",
    "Extractor",
    "ExtractorConfig",
    "FieldSource",
    "LineItem",
    "Merchant",
    "Payment",
    "PaymentMethod",
    "ReceiptData",
    "ReceiptType",
    "ReceiptWarning",
    "ReportsHealth",
    "TaxLine",
    "Warms",
    "is_currency",
    "minor_units",
    "parse_decimal",
    "round_money",
]
