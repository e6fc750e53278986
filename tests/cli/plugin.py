"""A third-party extractor plugin for CLI tests: found through a real entry point of a fake distribution.

``install_plugin(dir)`` writes ``scripted_plugin-1.0.dist-info`` with an entry point in the group
``receiptcore.extractors`` named ``scripted``; putting ``dir`` on the path (sys.path or PYTHONPATH) makes it
discoverable exactly like ``pip install receiptcore-foo`` would.
"""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from receiptcore.adapters.memory.extractor import MemoryExtractor
from receiptcore.domain.receipt import ExtractedReceipt, FieldSource, LineItem, Merchant

SCRIPTED = ExtractedReceipt(
    merchant=Merchant(name="CORNER GROCER", address="1 MAIN STREET"),
    purchase_date=dt.date(2024, 5, 17),
    currency="EUR",
    line_items=[
        LineItem(description="BREAD", quantity=Decimal(1), unit_price=Decimal("2.50"), amount=Decimal("2.50")),
        LineItem(description="MILK", quantity=Decimal(2), unit_price=Decimal("1.10"), amount=Decimal("2.20")),
    ],
    subtotal=Decimal("4.70"),
    total=Decimal("4.70"),
    provenance={"total": FieldSource(confidence=0.9, text="TOTAL 4.70")},
    raw_text="CORNER GROCER\nBREAD 2.50\nMILK 2 x 1.10 2.20\nTOTAL 4.70",
)


def make_extractor(settings: Any = None) -> MemoryExtractor:
    """The plugin's factory (the entry point target): answers every document with SCRIPTED, after
    ``SCRIPTED_EXTRACTOR_DELAY`` seconds (a slow extractor, for shutdown tests)."""
    delay = float(os.environ.get("SCRIPTED_EXTRACTOR_DELAY", "0"))
    return MemoryExtractor(SCRIPTED, name="scripted", version="9.9", delay=delay)


def install_plugin(site: Path) -> Path:
    """Write the fake distribution's metadata into ``site``; returns ``site``."""
    info = site / "scripted_plugin-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: scripted-plugin\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[receiptcore.extractors]\nscripted = tests.cli.plugin:make_extractor\n", encoding="utf-8"
    )
    return site
