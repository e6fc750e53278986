"""The LLM extractors' own configuration, built by the composition root from the settings (no Settings object
reaches an adapter). Values arrive validated (pydantic-settings checked ranges and types at start-up)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal


@dataclass(frozen=True, slots=True)
class LlmConfig:
    """What every LLM extractor shares (``RECEIPTCORE_LLM_*``).

    Attributes:
        ledger_path: the file spend ledger (``<data_dir>/llm-spend.json``); None in the memory profile, where
            spend is counted in this process only.
    """

    timeout_seconds: float
    max_retries: int
    retry_base_seconds: float
    retry_max_seconds: float
    max_image_side: int
    max_pages: int
    daily_spend_cap_usd: Decimal | None
    ledger_path: Path | None


@dataclass(frozen=True, slots=True)
class AnthropicConfig:
    """The anthropic extractor's settings (``RECEIPTCORE_ANTHROPIC_*``); ``api_key`` is None when unset."""

    api_key: str | None = field(repr=False)
    model: str
    max_tokens: int
    base_url: str | None
    input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal


@dataclass(frozen=True, slots=True)
class OpenAICompatibleConfig:
    """The openai-compatible extractor's settings (``RECEIPTCORE_OPENAI_*``)."""

    base_url: str
    api_key: str | None = field(repr=False)
    model: str
    max_tokens: int
    response_format: Literal["json_schema", "json_object", "none"]
    input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal
