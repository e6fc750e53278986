"""Fixtures for the LLM extractor tests: documents, recorded API answers, a sleep that only records.

No test here talks to a real LLM API: every request goes through an HTTP ``MockTransport``.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from receiptcore.adapters.extractors.llm.budget import SpendLedger
from receiptcore.entrypoints.container import anthropic_config, llm_config, openai_config
from receiptcore.ports import Document
from receiptcore.settings import Settings

FIXED_NOW = dt.datetime(2026, 3, 14, 18, 0, tzinfo=dt.UTC)

RECEIPT_ANSWER: dict[str, Any] = {
    "receipt_type": "grocery",
    "merchant": {"name": "YAM FRESH", "address": "NO.145G, JALAN RIMBUNAN RAYA 1, 52100 KUALA LUMPUR"},
    "purchase_date": "2016-07-31",
    "purchase_time": "13:02",
    "currency": "MYR",
    "line_items": [
        {"description": "SAWI", "quantity": "1", "unit_price": "2.10", "amount": "2.10"},
        {"description": "TAUHU", "quantity": "2", "unit_price": "3.10", "amount": "6.20"},
    ],
    "subtotal": "8.30",
    "taxes": [{"label": "GST", "rate": "0", "base": "8.30", "amount": "0.00"}],
    "rounding": "0.05",
    "total": "8.35",
    "payments": [{"method": "cash", "amount": "10.00"}],
    "raw_text": "YAM FRESH\nSAWI 2.10\nTAUHU 2 x 3.10 6.20\nTOTAL 8.35",
    "confidence": {"total": 0.97, "merchant.name": 0.9},
}


def jpeg_bytes(width: int = 1200, height: int = 1800, color: str = "white") -> bytes:
    """A plain JPEG of the given size."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG")
    return buffer.getvalue()


def pdf_bytes(pages: int) -> bytes:
    """A PDF of ``pages`` blank pages (Pillow writes one page per image)."""
    images = [Image.new("RGB", (600, 900), "white") for _ in range(pages)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:])
    return buffer.getvalue()


@pytest.fixture
def jpeg_document() -> Document:
    """A 1200 x 1800 JPEG receipt stand-in."""
    return Document(content=jpeg_bytes(), media_type="image/jpeg", filename="receipt.jpg")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a private data dir, fast retries and a known price list."""
    return Settings(
        data_dir=tmp_path,
        anthropic_api_key="sk-ant-test-key",
        anthropic_model="claude-test-model",
        openai_base_url="http://llm.test/v1",
        openai_model="vision-test-model",
        openai_api_key="local-test-key",
        openai_input_usd_per_mtok=Decimal(1),
        openai_output_usd_per_mtok=Decimal(2),
        llm_max_retries=3,
        llm_retry_base_seconds=1.0,
        llm_retry_max_seconds=30.0,
        llm_daily_spend_cap_usd=Decimal(10),
    )


def anthropic_configs(settings: Settings) -> dict[str, Any]:
    """The configs the container hands the anthropic extractor for ``settings``."""
    return {"anthropic": anthropic_config(settings), "llm": llm_config(settings)}


def openai_configs(settings: Settings) -> dict[str, Any]:
    """The configs the container hands the openai-compatible extractor for ``settings``."""
    return {"openai": openai_config(settings), "llm": llm_config(settings)}


class CountingHandler:
    """A mock API handler that counts the requests it answers; ``reply(n, request)`` answers the n-th (from 1)."""

    def __init__(self, reply: Callable[[int, Any], Any]) -> None:
        self.reply = reply
        self.calls = 0

    def __call__(self, request: Any) -> Any:
        self.calls += 1
        return self.reply(self.calls, request)


class SleepRecorder:
    """Stands in for ``asyncio.sleep``: records each requested delay, returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    """A fresh sleep recorder."""
    return SleepRecorder()


@pytest.fixture
def ledger_at(tmp_path: Path) -> Callable[[Decimal | None], SpendLedger]:
    """Build a spend ledger in tmp_path whose clock is fixed at FIXED_NOW."""

    def build(cap: Decimal | None) -> SpendLedger:
        return SpendLedger(tmp_path / "llm-spend.json", cap, now=lambda: FIXED_NOW)

    return build
