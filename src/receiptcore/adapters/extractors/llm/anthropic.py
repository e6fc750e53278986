"""AnthropicExtractor: Claude vision reads the receipt and answers through a tool whose input schema is the
receipt JSON schema.

Structured output is a forced tool call (``tool_choice`` names the one tool): it works with every Claude
model, and unlike the grammar-constrained ``output_config`` format it has no limit on how many optional or
union-typed fields the schema holds (ours has dozens). The answer is validated as untrusted input anyway
(``output.parse_model_output``). The SDK (``pip install 'receiptcore[anthropic]'``, anthropic ≥ 2, built on
httpx2) is imported only when this extractor is built; its own retries are off because ours add jitter, honour
the spend cap and end in ``ExtractionDeferred``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from receiptcore import __version__
from receiptcore.adapters.extractors.llm.base import NOT_CONFIGURED, MeteredLlmExtractor
from receiptcore.adapters.extractors.llm.budget import Prices, SpendBook, SpendLedger, estimate_input_tokens
from receiptcore.adapters.extractors.llm.config import AnthropicConfig, LlmConfig
from receiptcore.adapters.extractors.llm.images import PreparedDocument
from receiptcore.adapters.extractors.llm.output import parse_model_output
from receiptcore.adapters.extractors.llm.retry import SleepFn, TransientError
from receiptcore.adapters.extractors.llm.schema import SYSTEM_PROMPT, TOOL_NAME, USER_PROMPT, receipt_json_schema
from receiptcore.domain.receipt import ExtractedReceipt
from receiptcore.errors import ConfigurationError, ExtractionFailed
from receiptcore.ports import Document

INSTALL_HINT = "pip install 'receiptcore[anthropic]'"


class AnthropicExtractor(MeteredLlmExtractor):
    """Extractor plugin ``anthropic``: Claude vision with the receipt schema as a forced tool."""

    name = "anthropic"
    service = "Anthropic API"

    def __init__(
        self,
        *,
        anthropic: AnthropicConfig | None = None,
        llm: LlmConfig | None = None,
        http_client: Any = None,
        sleep: SleepFn = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        ledger: SpendLedger | None = None,
        shared_ledger: SpendBook | None = None,
    ) -> None:
        """Build the client; nothing is sent yet.

        Args:
            anthropic: key, model, output limit, base URL and prices (built by the composition root).
            llm: timeout, retries, image limits, spend cap and ledger shared by the LLM extractors.
            http_client: an ``httpx2.AsyncClient`` for the SDK (tests pass one with a ``MockTransport``).
            sleep: the backoff sleep (tests pass one that records instead of waiting).
            rng: jitter source returning floats in [0, 1).
            ledger: the spend ledger; by default the file of ``llm.ledger_path`` with the configured cap.
            shared_ledger: a ledger shared by every host (PostgreSQL), used instead of the file when given.

        Raises:
            ConfigurationError: the ``anthropic`` extra is not installed, no API key is configured, or the
                configs are missing (only the composition root builds them).
        """
        if anthropic is None or llm is None:
            raise ConfigurationError(NOT_CONFIGURED.format(name=self.name, prefix="ANTHROPIC"))
        self.options = anthropic
        self.llm = llm
        try:
            import anthropic as sdk
        except ImportError as exc:
            raise ConfigurationError(f"the anthropic extractor needs its extra: {INSTALL_HINT}") from exc
        if not anthropic.api_key:
            raise ConfigurationError(
                "the anthropic extractor needs RECEIPTCORE_ANTHROPIC_API_KEY (or ANTHROPIC_API_KEY)"
            )
        self._sdk = sdk
        self._client = sdk.AsyncAnthropic(
            api_key=anthropic.api_key,
            base_url=anthropic.base_url,
            timeout=llm.timeout_seconds,
            max_retries=0,
            http_client=http_client,
        )
        self.model = anthropic.model
        self.version = f"{__version__}/{self.model}"
        self._setup_metering(
            Prices(anthropic.input_usd_per_mtok, anthropic.output_usd_per_mtok),
            ledger=ledger,
            sleep=sleep,
            rng=rng,
            shared_ledger=shared_ledger,
        )

    async def extract(self, document: Document) -> ExtractedReceipt:
        """Send the document's pages to Claude and validate the answer.

        Raises:
            ExtractionFailed: unreadable document, a request the API refuses, or an answer that is cut off or
                not a receipt.
            ExtractionDeferred: the daily spend cap is reached, or the API stays unavailable (429/5xx/timeouts)
                through every retry, or the key/model is refused (an operator has to act).
        """
        prepared = await self._prepare(document)
        request = self._request(prepared)
        pixels = sum(image.width * image.height for image in prepared.images)
        estimate = self._prices.cost(
            estimate_input_tokens(pixels, len(SYSTEM_PROMPT) + len(str(request["tools"]))),
            self.options.max_tokens,
        )

        async def attempt() -> tuple[Any, Decimal]:
            message = await self._send(request)
            return message, self._cost(getattr(message, "usage", None))

        message = await self._metered(estimate, attempt)
        return self._interpret(message, len(prepared.images))

    def _request(self, prepared: PreparedDocument) -> dict[str, Any]:
        content: list[dict[str, Any]] = [
            {"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": image.base64()}}
            for image in prepared.images
        ]
        note = USER_PROMPT
        if prepared.total_pages > len(prepared.images):
            note += f" Only the first {len(prepared.images)} of {prepared.total_pages} pages are shown."
        content.append({"type": "text", "text": note})
        return {
            "model": self.model,
            "max_tokens": self.options.max_tokens,
            # the tools and system prompt are the same for every receipt: a cached prefix is billed at a tenth
            "system": [{"type": "text", "text": SYSTEM_PROMPT, "cache_control": {"type": "ephemeral"}}],
            "tools": [
                {
                    "name": TOOL_NAME,
                    "description": "Record the data printed on the receipt in the image(s).",
                    "input_schema": receipt_json_schema(),
                }
            ],
            "tool_choice": {"type": "tool", "name": TOOL_NAME},
            "messages": [{"role": "user", "content": content}],
        }

    async def _send(self, request: dict[str, Any]) -> Any:
        sdk = self._sdk
        try:
            return await self._client.messages.create(**request)
        except sdk.APIStatusError as exc:
            detail = f"HTTP {exc.status_code}: {str(exc.api_message or exc)[:300]}"
            retry_after = exc.response.headers.get("retry-after")
            raise self._status_error(exc.status_code, detail, retry_after, check="the API key and model") from exc
        except sdk.APIConnectionError as exc:  # includes APITimeoutError
            raise TransientError(f"{type(exc).__name__}: {exc}"[:300]) from exc
        except sdk.AnthropicError as exc:
            raise ExtractionFailed(f"Anthropic API call failed: {type(exc).__name__}") from exc

    def _cost(self, usage: Any) -> Decimal:
        """USD of one answer; cache writes are billed at 1.25 and cache reads at 0.1 of the input price."""

        def tokens(name: str) -> Decimal:
            value = getattr(usage, name, None)
            return Decimal(value) if isinstance(value, int) and 0 <= value < 10**9 else Decimal(0)

        weighted_input = (
            tokens("input_tokens")
            + tokens("cache_creation_input_tokens") * Decimal("1.25")
            + tokens("cache_read_input_tokens") * Decimal("0.1")
        )
        return self._prices.cost_of(weighted_input, tokens("output_tokens"))

    def _interpret(self, message: Any, pages: int) -> ExtractedReceipt:
        if getattr(message, "stop_reason", None) == "max_tokens":
            raise ExtractionFailed("Claude's answer was cut off at anthropic_max_tokens; raise the limit")
        for block in getattr(message, "content", None) or []:
            if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == TOOL_NAME:
                return parse_model_output(getattr(block, "input", None), pages=pages)
        raise ExtractionFailed("Claude did not answer with the receipt tool")

    async def aclose(self) -> None:
        """Close the HTTP client (and its connection pool)."""
        await self._client.close()
