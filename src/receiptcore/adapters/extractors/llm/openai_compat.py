"""OpenAICompatibleExtractor: a vision model behind an OpenAI-style ``/v1/chat/completions`` endpoint.

Works with self-hosted servers (Ollama, vLLM, llama.cpp's server, LM Studio) and hosted OpenAI-compatible
APIs. Plain HTTP with httpx: the page images travel as ``image_url`` data URIs and the receipt JSON schema as
``response_format: json_schema`` (servers with a grammar engine then constrain the answer to it). The answer
is validated as untrusted input; retries, backoff, the spend cap and the error mapping match the anthropic
extractor's.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from receiptcore import __version__
from receiptcore.adapters.extractors.llm.base import NOT_CONFIGURED, MeteredLlmExtractor
from receiptcore.adapters.extractors.llm.budget import Prices, SpendBook, SpendLedger, estimate_input_tokens
from receiptcore.adapters.extractors.llm.config import LlmConfig, OpenAICompatibleConfig
from receiptcore.adapters.extractors.llm.images import PreparedDocument
from receiptcore.adapters.extractors.llm.output import MAX_OUTPUT_CHARS, parse_model_json
from receiptcore.adapters.extractors.llm.retry import SleepFn, TransientError
from receiptcore.adapters.extractors.llm.schema import SYSTEM_PROMPT, TOOL_NAME, USER_PROMPT, receipt_json_schema
from receiptcore.domain.receipt import ExtractedReceipt
from receiptcore.errors import ConfigurationError, ExtractionFailed
from receiptcore.ports import Document

#: Largest response body read (bytes); a receipt's JSON is a few kilobytes.
MAX_RESPONSE_BYTES = 2 * MAX_OUTPUT_CHARS


class OpenAICompatibleExtractor(MeteredLlmExtractor):
    """Extractor plugin ``openai-compatible``: any server speaking the OpenAI chat completions API."""

    name = "openai-compatible"
    service = "LLM server"

    def __init__(
        self,
        *,
        openai: OpenAICompatibleConfig | None = None,
        llm: LlmConfig | None = None,
        http_client: httpx.AsyncClient | None = None,
        sleep: SleepFn = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        ledger: SpendLedger | None = None,
        shared_ledger: SpendBook | None = None,
    ) -> None:
        """Prepare the HTTP client; nothing is sent yet.

        Args:
            openai: server URL, key, model, output limit, response format and prices (built by the composition
                root).
            llm: timeout, retries, image limits, spend cap and ledger shared by the LLM extractors.
            http_client: an ``httpx.AsyncClient`` (tests pass one with a ``MockTransport``).
            sleep: the backoff sleep (tests pass one that records instead of waiting).
            rng: jitter source returning floats in [0, 1).
            ledger: the spend ledger; by default the file of ``llm.ledger_path`` with the configured cap.
            shared_ledger: a ledger shared by every host (PostgreSQL), used instead of the file when given.

        Raises:
            ConfigurationError: the base URL is not an http(s) URL, or the configs are missing (only the
                composition root builds them).
        """
        if openai is None or llm is None:
            raise ConfigurationError(NOT_CONFIGURED.format(name=self.name, prefix="OPENAI"))
        self.options = openai
        self.llm = llm
        self.model = openai.model
        self.version = f"{__version__}/{self.model}"
        self._url = _endpoint(openai.base_url)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if openai.api_key is not None:
            self._headers["Authorization"] = f"Bearer {openai.api_key}"
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=llm.timeout_seconds)
        self._setup_metering(
            Prices(openai.input_usd_per_mtok, openai.output_usd_per_mtok),
            ledger=ledger,
            sleep=sleep,
            rng=rng,
            shared_ledger=shared_ledger,
        )

    async def extract(self, document: Document) -> ExtractedReceipt:
        """Send the document's pages to the server and validate the answer.

        Raises:
            ExtractionFailed: unreadable document, a request the server refuses, or an answer that is cut off,
                not JSON, too large or not a receipt.
            ExtractionDeferred: the daily spend cap is reached, the server stays unavailable (429/5xx/timeouts,
                connection refused) through every retry, or it refuses the key or model.
        """
        prepared = await self._prepare(document)
        body = json.dumps(self._request(prepared)).encode()
        pixels = sum(image.width * image.height for image in prepared.images)
        schema_chars = len(json.dumps(receipt_json_schema()))
        estimate = self._prices.cost(
            estimate_input_tokens(pixels, len(SYSTEM_PROMPT) + schema_chars), self.options.max_tokens
        )

        async def attempt() -> tuple[Any, Decimal]:
            answer = await self._send(body)
            usage = answer.get("usage") if isinstance(answer, dict) else None
            usage = usage if isinstance(usage, dict) else {}
            return answer, self._prices.cost(_count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")))

        answer = await self._metered(estimate, attempt)
        return self._interpret(answer, len(prepared.images))

    def _log_target(self) -> str:
        return f"LLM server {self._url}"

    def _request(self, prepared: PreparedDocument) -> dict[str, Any]:
        note = USER_PROMPT + " Answer with the JSON object only."
        mode = self.options.response_format
        if mode != "json_schema":
            # without constrained decoding the model only knows the shape from the prompt
            note += f" The JSON schema:\n{json.dumps(receipt_json_schema(), separators=(',', ':'))}"
        if prepared.total_pages > len(prepared.images):
            note += f" Only the first {len(prepared.images)} of {prepared.total_pages} pages are shown."
        content: list[dict[str, Any]] = [{"type": "text", "text": note}]
        content += [{"type": "image_url", "image_url": {"url": image.data_uri()}} for image in prepared.images]
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.options.max_tokens,
            "temperature": 0,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": content}],
        }
        if mode == "json_schema":
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": TOOL_NAME, "schema": receipt_json_schema(), "strict": False},
            }
        elif mode == "json_object":
            request["response_format"] = {"type": "json_object"}
        return request

    async def _send(self, body: bytes) -> Any:
        try:
            async with self._client.stream("POST", self._url, content=body, headers=self._headers) as response:
                status = response.status_code
                raw = await _read_capped(response)
        except httpx.TimeoutException as exc:
            raise TransientError(f"timeout: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"cannot reach {self._url}: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise ExtractionFailed(f"LLM server call failed: {type(exc).__name__}") from exc
        if status >= 400:
            detail = f"HTTP {status}: {raw[:300].decode('utf-8', 'replace')}"
            raise self._status_error(
                status, detail, response.headers.get("retry-after"), check="the URL, key and model"
            )
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise ExtractionFailed("LLM server answered with something that is not JSON") from exc

    def _interpret(self, answer: Any, pages: int) -> ExtractedReceipt:
        try:
            choice = answer["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ExtractionFailed("LLM server answer has no choices[0].message") from exc
        if not isinstance(choice, dict) or not isinstance(message, dict):
            raise ExtractionFailed("LLM server answer has no choices[0].message")
        if choice.get("finish_reason") == "length":
            raise ExtractionFailed("the model's answer was cut off at openai_max_tokens; raise the limit")
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            refusal = message.get("refusal")
            reason = f": {refusal[:200]}" if isinstance(refusal, str) else ""
            raise ExtractionFailed(f"the model gave no JSON answer{reason}")
        return parse_model_json(content, pages=pages)

    async def aclose(self) -> None:
        """Close the HTTP client if this extractor created it."""
        if self._owns_client:
            await self._client.aclose()


async def _read_capped(response: httpx.Response) -> bytes:
    """The response body, refusing one over ``MAX_RESPONSE_BYTES`` before it is all in memory."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise ExtractionFailed(f"LLM server answer exceeds {MAX_RESPONSE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _endpoint(base_url: str) -> str:
    """The chat completions URL under ``base_url``; a URL that cannot work is a configuration error."""
    try:
        url = httpx.URL(base_url.rstrip("/") + "/chat/completions")
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise ConfigurationError(f"RECEIPTCORE_OPENAI_BASE_URL {base_url!r} is not a URL") from exc
    if url.scheme not in {"http", "https"} or not url.host:
        raise ConfigurationError(f"RECEIPTCORE_OPENAI_BASE_URL {base_url!r} must be an http(s) URL with a host")
    return str(url)


def _count(value: Any) -> int:
    """A token count from a usage block (untrusted: anything not a sane int counts as 0)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9 else 0
