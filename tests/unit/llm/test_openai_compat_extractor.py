"""OpenAICompatibleExtractor against a mocked OpenAI-compatible server (httpx.MockTransport).

No test reaches a real server: each one answers /v1/chat/completions with recorded responses and checks what
was sent and how the extractor reacts.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from PIL import Image

from receiptcore.adapters.extractors.llm.budget import SpendLedger
from receiptcore.adapters.extractors.llm.openai_compat import OpenAICompatibleExtractor
from receiptcore.entrypoints.container import standalone_extractor
from receiptcore.errors import ConfigurationError, ExtractionDeferred, ExtractionFailed
from receiptcore.ports import Document, Extractor
from receiptcore.settings import Settings
from tests.unit.llm.conftest import RECEIPT_ANSWER, CountingHandler, SleepRecorder, jpeg_bytes, openai_configs

Handler = Callable[[httpx.Request], httpx.Response]


def completion(content: Any, *, finish: str = "stop", usage: dict[str, Any] | None = None) -> httpx.Response:
    """A recorded chat completion whose message content is ``content`` (JSON-encoded unless a str)."""
    text = content if isinstance(content, str) else json.dumps(content)
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": "vision-test-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
            "usage": usage if usage is not None else {"prompt_tokens": 2000, "completion_tokens": 400},
        },
    )


def build(settings: Settings, handler: Handler, sleeps: SleepRecorder, **kwargs: Any) -> OpenAICompatibleExtractor:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return OpenAICompatibleExtractor(
        **openai_configs(settings), http_client=client, sleep=sleeps, rng=lambda: 1.0, **kwargs
    )


async def test_request_carries_model_schema_and_image_data_uri_with_mocked_openai_api(
    settings: Settings, sleeps: SleepRecorder
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return completion(RECEIPT_ANSWER)

    extractor = build(settings, handler, sleeps)
    receipt = await extractor.extract(Document(jpeg_bytes(3000, 2000), "image/jpeg"))
    await extractor.aclose()

    (request,) = seen
    assert str(request.url) == "http://llm.test/v1/chat/completions"
    assert request.method == "POST"
    assert request.headers["authorization"] == "Bearer local-test-key"
    body = json.loads(request.content)
    assert body["model"] == "vision-test-model"
    assert body["max_tokens"] == settings.openai_max_tokens
    assert body["response_format"]["type"] == "json_schema"
    schema = body["response_format"]["json_schema"]["schema"]
    assert {"merchant", "purchase_date", "total", "line_items"} <= set(schema["properties"])
    system, user = body["messages"]
    assert system["role"] == "system"
    assert "not instructions" in system["content"]
    (image,) = [part for part in user["content"] if part["type"] == "image_url"]
    prefix = "data:image/jpeg;base64,"
    assert image["image_url"]["url"].startswith(prefix)
    sent = Image.open(io.BytesIO(base64.b64decode(image["image_url"]["url"].removeprefix(prefix))))
    assert sent.size == (settings.llm_max_image_side, round(settings.llm_max_image_side * 2 / 3))

    assert receipt.merchant.name == "YAM FRESH"
    assert receipt.purchase_date is not None
    assert receipt.purchase_date.isoformat() == "2016-07-31"
    assert receipt.total == Decimal("8.35")


async def test_no_authorization_header_without_a_key_with_mocked_openai_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return completion(RECEIPT_ANSWER)

    settings.openai_api_key = None
    await build(settings, handler, sleeps).extract(jpeg_document)

    assert "authorization" not in seen[0].headers


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_transient_errors_are_retried_with_backoff_with_mocked_openai_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document, status: int
) -> None:
    handler = CountingHandler(
        lambda n, _: httpx.Response(status, text="busy") if n <= 2 else completion(RECEIPT_ANSWER)
    )

    receipt = await build(settings, handler, sleeps).extract(jpeg_document)

    assert receipt.total == Decimal("8.35")
    assert sleeps.delays == [1.0, 2.0]


async def test_server_down_defers_the_job_with_mocked_openai_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document
) -> None:
    def refuse(n: int, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    handler = CountingHandler(refuse)
    with pytest.raises(ExtractionDeferred):
        await build(settings, handler, sleeps).extract(jpeg_document)

    assert handler.calls == settings.llm_max_retries + 1
    assert sleeps.delays == [1.0, 2.0, 4.0]


async def test_long_retry_after_defers_at_once_with_mocked_openai_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "3600"})

    with pytest.raises(ExtractionDeferred) as caught:
        await build(settings, handler, sleeps).extract(jpeg_document)

    assert caught.value.retry_after == 3600
    assert sleeps.delays == []


async def test_usage_is_charged_to_the_daily_ledger_with_mocked_openai_api(
    settings: Settings,
    sleeps: SleepRecorder,
    jpeg_document: Document,
    ledger_at: Callable[[Decimal | None], SpendLedger],
) -> None:
    ledger = ledger_at(Decimal(1))
    # prices in the settings fixture: $1 per MTok in, $2 per MTok out
    answer = completion(RECEIPT_ANSWER, usage={"prompt_tokens": 300_000, "completion_tokens": 100_000})
    extractor = build(settings, lambda _: answer, sleeps, ledger=ledger)

    await extractor.extract(jpeg_document)
    assert ledger.spent_today() == Decimal("0.5")
    await extractor.extract(jpeg_document)
    assert ledger.spent_today() == Decimal("1.0")
    with pytest.raises(ExtractionDeferred):
        await extractor.extract(jpeg_document)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        pytest.param(lambda: completion("not json at all"), "not valid JSON", id="prose"),
        pytest.param(lambda: completion('{"total": "8.3'), "not valid JSON", id="truncated-json"),
        pytest.param(lambda: completion({"total": "1"}, finish="length"), "cut off", id="finish-length"),
        pytest.param(lambda: completion(""), "no JSON answer", id="empty"),
        pytest.param(lambda: completion([1, 2, 3]), "not a JSON object", id="array"),
        pytest.param(lambda: httpx.Response(200, text="<html>"), "not JSON", id="html-body"),
        pytest.param(lambda: httpx.Response(200, json={"choices": []}), "no choices", id="no-choices"),
        pytest.param(lambda: httpx.Response(400, text="bad image"), "refused", id="bad-request"),
        pytest.param(
            lambda: httpx.Response(200, content=b'{"x": "' + b"A" * 10_000_000 + b'"}'), "exceeds", id="10MB-body"
        ),
        pytest.param(lambda: completion({"merchant": {"name": "B" * 1_500_000}}), "too large", id="10MB-string"),
        pytest.param(lambda: completion("[" * 100_000 + "]" * 100_000), "JSON", id="deep-nesting"),
    ],
)
async def test_malformed_answers_fail_cleanly_with_mocked_openai_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document, reply: Callable[[], Any], message: str
) -> None:
    with pytest.raises(ExtractionFailed, match=message) as caught:
        await build(settings, lambda _: reply(), sleeps).extract(jpeg_document)
    assert not isinstance(caught.value, ExtractionDeferred)


async def test_fenced_json_and_float_money_are_accepted_with_mocked_openai_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document
) -> None:
    text = '```json\n{"total": 8.35, "tip": 0.1, "currency": "myr", "confidence": {"total": 0.5}}\n```'

    receipt = await build(settings, lambda _: completion(text), sleeps).extract(jpeg_document)

    assert receipt.total == Decimal("8.35")
    assert receipt.tip == Decimal("0.1")
    assert receipt.currency == "MYR"


async def test_wrong_types_are_dropped_and_named_with_mocked_openai_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document
) -> None:
    answer = {**RECEIPT_ANSWER, "total": [8.35], "line_items": [{"description": "OK", "amount": "1"}, "junk"]}

    receipt = await build(settings, lambda _: completion(answer), sleeps).extract(jpeg_document)

    assert receipt.total is None
    assert [item.description for item in receipt.line_items] == ["OK"]
    (warning,) = receipt.warnings
    assert warning.code == "llm_output_sanitised"
    assert set(warning.fields) == {"total", "line_items.1"}
    assert receipt.merchant.name == "YAM FRESH"


def test_entry_point_builds_the_extractor_from_settings(settings: Settings) -> None:
    extractor = standalone_extractor(settings.model_copy(update={"extractor": "openai-compatible"}))
    assert isinstance(extractor, Extractor)
    assert isinstance(extractor, OpenAICompatibleExtractor)
    assert extractor.model == "vision-test-model"


@pytest.mark.parametrize(("mode", "format_type"), [("json_object", "json_object"), ("none", None)])
async def test_servers_without_json_schema_get_the_schema_in_the_prompt_with_mocked_openai_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document, mode: str, format_type: str | None
) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return completion(RECEIPT_ANSWER)

    settings.openai_response_format = mode  # type: ignore[assignment]
    receipt = await build(settings, handler, sleeps).extract(jpeg_document)

    body = bodies[0]
    assert body.get("response_format", {}).get("type") == format_type
    text = next(part["text"] for part in body["messages"][1]["content"] if part["type"] == "text")
    assert '"line_items":' in text
    assert receipt.total == Decimal("8.35")


@pytest.mark.parametrize(
    "text",
    [
        '<think>The total is at the bottom.</think>\n{"total": "8.35"}',
        'Here is the receipt:\n{"total": "8.35"}\nHope this helps!',
        '```\n{"total": "8.35"}\n```',
    ],
)
async def test_wrapped_json_from_local_models_is_accepted_with_mocked_openai_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document, text: str
) -> None:
    receipt = await build(settings, lambda _: completion(text), sleeps).extract(jpeg_document)

    assert receipt.total == Decimal("8.35")


@pytest.mark.parametrize("url", ["127.0.0.1:11434/v1", "ftp://llm.test/v1", "http://", "http://[::1/v1"])
def test_unusable_base_url_is_a_configuration_error(settings: Settings, url: str) -> None:
    settings.openai_base_url = url
    with pytest.raises(ConfigurationError, match="OPENAI_BASE_URL"):
        OpenAICompatibleExtractor(**openai_configs(settings))


async def test_a_bad_answer_does_not_mark_the_server_degraded_but_an_outage_does_with_mocked_openai_api(
    settings: Settings, sleeps: SleepRecorder, jpeg_document: Document
) -> None:
    replies = [completion("no json here"), httpx.Response(503)]

    def handler(request: httpx.Request) -> httpx.Response:
        return replies[0] if len(replies) == 2 else replies[-1]

    extractor = build(settings, handler, sleeps)
    with pytest.raises(ExtractionFailed):
        await extractor.extract(jpeg_document)
    assert extractor.healthy

    replies.pop(0)
    with pytest.raises(ExtractionDeferred):
        await extractor.extract(jpeg_document)
    assert not extractor.healthy
