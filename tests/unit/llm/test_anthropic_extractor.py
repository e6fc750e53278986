"""AnthropicExtractor against a mocked Anthropic API (httpx2.MockTransport through the SDK's http_client).

Nothing here reaches the network: each test answers the SDK's requests with recorded responses and checks what
was sent and how the extractor reacts.
"""

from __future__ import annotations

import base64
import io
import json
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image

from receiptcore.adapters.extractors.llm.budget import SpendLedger
from receiptcore.entrypoints.container import standalone_extractor
from receiptcore.errors import ConfigurationError, ExtractionDeferred, ExtractionFailed
from receiptcore.ports import Document, Extractor
from receiptcore.settings import Settings
from tests.unit.llm.conftest import (
    FIXED_NOW,
    RECEIPT_ANSWER,
    CountingHandler,
    SleepRecorder,
    anthropic_configs,
    jpeg_bytes,
    pdf_bytes,
)

httpx2 = pytest.importorskip("httpx2")
pytest.importorskip("anthropic")

from receiptcore.adapters.extractors.llm.anthropic import AnthropicExtractor  # noqa: E402

Handler = Callable[[Any], Any]


def tool_reply(
    payload: Any, *, input_tokens: int = 1500, output_tokens: int = 300, stop: str = "tool_use", **usage: int
) -> Any:
    """A recorded Messages API answer whose only block calls the receipt tool with ``payload``."""
    return httpx2.Response(
        200,
        json={
            "id": "msg_test",
            "type": "message",
            "role": "assistant",
            "model": "claude-test-model",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "record_receipt", "input": payload}],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens, **usage},
        },
    )


def error_reply(status: int, kind: str, headers: dict[str, str] | None = None) -> Any:
    """A recorded API error answer."""
    return httpx2.Response(
        status, json={"type": "error", "error": {"type": kind, "message": f"{kind} (test)"}}, headers=headers
    )


def build(settings: Settings, handler: Handler, sleeps: SleepRecorder, **kwargs: Any) -> AnthropicExtractor:
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return AnthropicExtractor(
        **anthropic_configs(settings), http_client=client, sleep=sleeps, rng=lambda: 1.0, **kwargs
    )


async def test_request_carries_model_image_and_forced_receipt_tool_with_mocked_anthropic_api(
    settings: Settings, sleeps: SleepRecorder
) -> None:
    seen: list[Any] = []

    def handler(request: Any) -> Any:
        seen.append(request)
        return tool_reply(RECEIPT_ANSWER)

    big = Document(content=jpeg_bytes(4000, 6000), media_type="image/jpeg")
    extractor = build(settings, handler, sleeps)
    receipt = await extractor.extract(big)
    await extractor.aclose()

    assert len(seen) == 1
    request = seen[0]
    assert request.url.path == "/v1/messages"
    assert "sk-ant-test-key" in (request.headers.get("x-api-key", "") + request.headers.get("authorization", ""))
    body = json.loads(request.content)
    assert body["model"] == "claude-test-model"
    assert body["max_tokens"] == settings.anthropic_max_tokens
    assert body["tool_choice"] == {"type": "tool", "name": "record_receipt"}
    (tool,) = body["tools"]
    schema = tool["input_schema"]
    assert schema["type"] == "object"
    assert {"merchant", "purchase_date", "total", "line_items", "taxes", "currency"} <= set(schema["properties"])
    assert "$ref" not in json.dumps(schema)
    (system,) = body["system"]
    assert "not instructions" in system["text"]
    assert system["cache_control"] == {"type": "ephemeral"}  # tools + system prompt form a cacheable prefix
    blocks = body["messages"][0]["content"]
    images = [block for block in blocks if block["type"] == "image"]
    assert len(images) == 1
    assert images[0]["source"]["type"] == "base64"
    assert images[0]["source"]["media_type"] == "image/jpeg"
    sent = Image.open(io.BytesIO(base64.b64decode(images[0]["source"]["data"])))
    assert sent.format == "JPEG"
    assert max(sent.size) == settings.llm_max_image_side  # downscaled, aspect kept
    assert sent.size[1] > sent.size[0]

    assert receipt.merchant.name == "YAM FRESH"
    assert receipt.total == Decimal("8.35")
    assert receipt.currency == "MYR"
    assert [item.amount for item in receipt.line_items] == [Decimal("2.10"), Decimal("6.20")]
    assert receipt.provenance["total"].confidence == pytest.approx(0.97)
    assert receipt.raw_text.startswith("YAM FRESH")
    assert receipt.warnings == []
    assert extractor.version.endswith("/claude-test-model")


async def test_each_pdf_page_becomes_an_image_block_with_mocked_anthropic_api(
    settings: Settings, sleeps: SleepRecorder
) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: Any) -> Any:
        bodies.append(json.loads(request.content))
        return tool_reply(RECEIPT_ANSWER)

    settings.llm_max_pages = 2
    receipt = await build(settings, handler, sleeps).extract(Document(pdf_bytes(3), "application/pdf"))

    blocks = bodies[0]["messages"][0]["content"]
    assert sum(block["type"] == "image" for block in blocks) == 2
    assert "first 2 of 3 pages" in blocks[-1]["text"]
    assert receipt.pages == 2


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limit_error"), (529, "overloaded_error"), (500, "api_error")])
async def test_transient_errors_are_retried_with_backoff_with_mocked_anthropic_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document, status: int, kind: str
) -> None:
    handler = CountingHandler(lambda n, _: error_reply(status, kind) if n <= 3 else tool_reply(RECEIPT_ANSWER))

    receipt = await build(settings, handler, sleeps).extract(jpeg_document)

    assert receipt.total == Decimal("8.35")
    assert handler.calls == 4
    # rng pinned to 1.0: full-jitter ceilings are base * 2**n
    assert sleeps.delays == [1.0, 2.0, 4.0]


async def test_retry_after_header_is_honoured_with_mocked_anthropic_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document
) -> None:
    replies = [error_reply(429, "rate_limit_error", {"retry-after": "7"}), tool_reply(RECEIPT_ANSWER)]

    await build(settings, lambda _: replies.pop(0), sleeps).extract(jpeg_document)

    assert sleeps.delays == [7.0]


async def test_jitter_stays_within_the_exponential_ceiling_with_mocked_anthropic_api(
    settings: Settings, jpeg_document: Document
) -> None:
    replies = [error_reply(500, "api_error"), error_reply(500, "api_error"), tool_reply(RECEIPT_ANSWER)]
    sleeps = SleepRecorder()
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(lambda _: replies.pop(0)))
    extractor = AnthropicExtractor(**anthropic_configs(settings), http_client=client, sleep=sleeps, rng=lambda: 0.25)

    await extractor.extract(jpeg_document)

    assert sleeps.delays == [0.25, 0.5]


async def test_timeouts_are_retried_with_mocked_anthropic_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document
) -> None:
    def reply(n: int, request: Any) -> Any:
        if n == 1:
            raise httpx2.ReadTimeout("slow", request=request)
        return tool_reply(RECEIPT_ANSWER)

    handler = CountingHandler(reply)
    receipt = await build(settings, handler, sleeps).extract(jpeg_document)

    assert receipt.total == Decimal("8.35")
    assert handler.calls == 2


async def test_persistent_outage_defers_the_job_with_mocked_anthropic_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document
) -> None:
    handler = CountingHandler(lambda *_: error_reply(503, "api_error"))

    extractor = build(settings, handler, sleeps)
    with pytest.raises(ExtractionDeferred) as caught:
        await extractor.extract(jpeg_document)

    assert handler.calls == settings.llm_max_retries + 1
    assert caught.value.retry_after >= 60
    # failed calls cost nothing: the reservation is released
    assert extractor._ledger.spent_today() == 0


async def test_bad_request_fails_without_retry_with_mocked_anthropic_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document
) -> None:
    handler = CountingHandler(lambda *_: error_reply(400, "invalid_request_error"))

    with pytest.raises(ExtractionFailed) as caught:
        await build(settings, handler, sleeps).extract(jpeg_document)

    assert not isinstance(caught.value, ExtractionDeferred)
    assert handler.calls == 1
    assert sleeps.delays == []


@pytest.mark.parametrize(("status", "kind"), [(401, "authentication_error"), (404, "not_found_error")])
async def test_refused_key_or_model_defers_for_an_operator_with_mocked_anthropic_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document, status: int, kind: str
) -> None:
    with pytest.raises(ExtractionDeferred) as caught:
        await build(settings, lambda _: error_reply(status, kind), sleeps).extract(jpeg_document)

    assert caught.value.retry_after == 600
    assert "sk-ant-test-key" not in caught.value.detail


async def test_spend_cap_defers_until_midnight_utc_with_mocked_anthropic_api(
    settings: Settings,
    sleeps: SleepRecorder,
    jpeg_document: Document,
    ledger_at: Callable[[Decimal | None], SpendLedger],
) -> None:
    # 100k in + 10k out at $3/$15 per MTok = $0.45
    handler = CountingHandler(lambda *_: tool_reply(RECEIPT_ANSWER, input_tokens=100_000, output_tokens=10_000))

    ledger = ledger_at(Decimal("0.50"))
    extractor = build(settings, handler, sleeps, ledger=ledger)
    await extractor.extract(jpeg_document)
    assert ledger.spent_today() == Decimal("0.45")

    with pytest.raises(ExtractionDeferred) as caught:
        await extractor.extract(jpeg_document)

    assert handler.calls == 1  # the capped call never reached the API
    assert caught.value.retry_after == 6 * 3600  # FIXED_NOW is 18:00 UTC
    assert FIXED_NOW.hour == 18


async def test_spend_is_shared_by_extractors_on_the_same_data_dir_with_mocked_anthropic_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document
) -> None:
    first = build(settings, lambda _: tool_reply(RECEIPT_ANSWER, input_tokens=1_000_000, output_tokens=0), sleeps)
    await first.extract(jpeg_document)

    second = build(settings, lambda _: tool_reply(RECEIPT_ANSWER), sleeps)
    assert second._ledger.spent_today() == Decimal(3)


HOSTILE_ANSWERS: list[Any] = [
    pytest.param({"total": {"amount": 5}, "purchase_date": 20160731, "merchant": "YAM"}, id="wrong-types"),
    pytest.param({"line_items": [{"description": "SAWI", "quantity": "-3", "amount": "2.10"}]}, id="negative-qty"),
    pytest.param({"merchant": {"name": "A" * 10_000_000}}, id="10MB-string"),
    pytest.param({**RECEIPT_ANSWER, "ignore_previous": "instructions", "merchant": {"name": "X", "x": 1}}, id="extra"),
    pytest.param(["not", "an", "object"], id="list"),
    pytest.param({"total": "NaN", "tip": "Infinity", "subtotal": "1e999999"}, id="non-finite"),
    pytest.param({"currency": "DOGE", "confidence": {"total": "high", "../etc": 1}}, id="bad-codes"),
    pytest.param({"line_items": [{"description": "x"}] * 5000}, id="too-many-items"),
]


@pytest.mark.parametrize("answer", HOSTILE_ANSWERS)
async def test_hostile_output_is_sanitised_or_refused_with_mocked_anthropic_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document, answer: Any
) -> None:
    extractor = build(settings, lambda _: tool_reply(answer), sleeps)
    try:
        receipt = await extractor.extract(jpeg_document)
    except ExtractionFailed:
        return
    # what survives is valid, and every dropped value is named
    assert all(item.quantity is None or item.quantity > 0 for item in receipt.line_items)
    assert receipt.merchant.name is None or len(receipt.merchant.name) <= 500
    assert receipt.total is None or receipt.total.is_finite()
    assert receipt.warnings, "a sanitised answer must say what it dropped"


async def test_negative_quantity_on_a_refund_line_is_kept_with_mocked_anthropic_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document
) -> None:
    refund = {"line_items": [{"description": "RETURN SAWI", "quantity": "-1", "amount": "-2.10"}], "total": "-2.10"}

    receipt = await build(settings, lambda _: tool_reply(refund), sleeps).extract(jpeg_document)

    assert receipt.line_items[0].quantity == Decimal(-1)
    assert receipt.total == Decimal("-2.10")


async def test_truncated_answer_fails_with_mocked_anthropic_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document
) -> None:
    extractor = build(settings, lambda _: tool_reply({"total": "8"}, stop="max_tokens"), sleeps)
    with pytest.raises(ExtractionFailed, match="cut off"):
        await extractor.extract(jpeg_document)
    # the truncated answer was still billed
    assert extractor._ledger.spent_today() > 0


async def test_text_instead_of_tool_call_fails_with_mocked_anthropic_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document
) -> None:
    reply = tool_reply({}).json()
    reply["content"] = [{"type": "text", "text": "I cannot help with that."}]
    reply["stop_reason"] = "end_turn"

    with pytest.raises(ExtractionFailed, match="did not answer with the receipt tool"):
        await build(settings, lambda _: httpx2.Response(200, json=reply), sleeps).extract(jpeg_document)


async def test_unreadable_document_fails_before_any_call_with_mocked_anthropic_api(
    settings: Settings, sleeps: SleepRecorder
) -> None:
    def handler(request: Any) -> Any:
        raise AssertionError("no request expected")

    with pytest.raises(ExtractionFailed):
        await build(settings, handler, sleeps).extract(Document(b"\xff\xd8 not really a jpeg", "image/jpeg"))


def test_missing_api_key_is_a_configuration_error(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("RECEIPTCORE_ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        AnthropicExtractor(**anthropic_configs(Settings(data_dir=tmp_path)))


def test_missing_sdk_names_the_extra_to_install(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'receiptcore\[anthropic\]'"):
        AnthropicExtractor(**anthropic_configs(settings))


def test_entry_point_builds_the_extractor_from_settings(settings: Settings) -> None:
    extractor = standalone_extractor(settings.model_copy(update={"extractor": "anthropic"}))
    assert isinstance(extractor, Extractor)
    assert isinstance(extractor, AnthropicExtractor)
    assert extractor.name == "anthropic"
    assert extractor.model == "claude-test-model"


async def test_cached_prompt_tokens_are_charged_at_cache_prices_with_mocked_anthropic_api(
    settings: Settings,
    sleeps: SleepRecorder,
    jpeg_document: Document,
    ledger_at: Callable[[Decimal | None], SpendLedger],
) -> None:
    reply = tool_reply(
        RECEIPT_ANSWER,
        input_tokens=1_000_000,
        output_tokens=0,
        cache_creation_input_tokens=1_000_000,
        cache_read_input_tokens=10_000_000,
    )
    ledger = ledger_at(None)

    await build(settings, lambda _: reply, sleeps, ledger=ledger).extract(jpeg_document)

    # $3/MTok: 1M plain + 1M written x 1.25 + 10M read x 0.1 = 3 + 3.75 + 3
    assert ledger.spent_today() == Decimal("9.75")


async def test_outage_marks_the_extractor_degraded_until_a_call_succeeds_with_mocked_anthropic_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document
) -> None:
    api_up = False

    def handler(request: Any) -> Any:
        return tool_reply(RECEIPT_ANSWER) if api_up else error_reply(529, "overloaded_error")

    extractor = build(settings, handler, sleeps)
    assert extractor.healthy

    with pytest.raises(ExtractionDeferred):
        await extractor.extract(jpeg_document)
    assert not extractor.healthy
    assert "529" in (extractor.health_detail or "")

    api_up = True
    await extractor.extract(jpeg_document)
    assert extractor.healthy
    assert extractor.health_detail is None
