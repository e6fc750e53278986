"""The Extractor contract, on every bundled extractor and the example plugin: what ``extract`` returns validates
against the receipt schema; whatever goes wrong (a corrupt file, an API error, a timeout, a garbage answer) ends
in ``ExtractionFailed`` or ``ExtractionDeferred``, never an SDK, driver or library exception; and health reaches
readiness as the worker's ``/health/ready`` reads it.

The paid APIs are mocked (``httpx.MockTransport`` / ``httpx2.MockTransport`` under the real SDK, as in
``tests/unit/llm``); the ``ocr`` extractor runs for real on a receipt of ``../shared/data/receipts``. Adding an
extractor = adding one ``pytest.param`` and its case fixture.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from receiptcore.domain.receipt_values import ExtractedReceipt
from receiptcore.entrypoints.container import anthropic_config, extractor_config, llm_config, openai_config
from receiptcore.entrypoints.http.health import adapter_state
from receiptcore.errors import ExtractionDeferred, ExtractionFailed
from receiptcore.ports import Document, Extractor
from receiptcore.settings import Settings
from tests.plugins.test_example_plugin import installed_plugin, plugin_site, text_pdf
from tests.unit.llm.conftest import RECEIPT_ANSWER, SleepRecorder, jpeg_bytes

__all__ = ["installed_plugin", "plugin_site"]  # fixtures of tests/plugins, used by the example plugin's case

RECEIPTS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "receipts"
#: an API's mocked answer to one request (None for an extractor that calls no API)
Reply = Callable[[Any], Any] | None

CORRUPT = {
    "corrupt-pdf": Document(b"%PDF-1.7\n1 0 obj << /Type /Catalog", "application/pdf", "broken.pdf"),
    "truncated-jpeg": Document(jpeg_bytes(400, 600)[:300], "image/jpeg", "cut.jpg"),
    "empty-file": Document(b"", "image/png", "empty.png"),
}


@dataclass
class ExtractorCase:
    """One extractor under the contract: how to build it for a mocked API reply, a document it can read, and the
    failures (API reply, document) that must end in a core error."""

    build: Callable[[Reply], Extractor]
    ok: Reply
    readable: Document
    failures: dict[str, tuple[Reply, Document]]
    #: a reply that takes the remote service away (None: the extractor depends on none)
    outage: Reply = None
    extra: dict[str, Any] = field(default_factory=dict)


def _local_failures() -> dict[str, tuple[Reply, Document]]:
    return {label: (None, document) for label, document in CORRUPT.items()}


def _remote_failures(replies: dict[str, Reply], readable: Document) -> dict[str, tuple[Reply, Document]]:
    failures = {label: (replies["ok"], document) for label, document in CORRUPT.items()}
    failures.update({label: (reply, readable) for label, reply in replies.items() if label != "ok"})
    return failures


@pytest.fixture
def llm_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        anthropic_api_key="sk-ant-contract",
        anthropic_model="claude-contract",
        openai_base_url="http://llm.test/v1",
        openai_model="vision-contract",
        llm_max_retries=1,
    )


@pytest.fixture
def ocr_case(tmp_path: Path) -> ExtractorCase:
    pytest.importorskip("rapidocr")
    receipt = RECEIPTS / "sroie" / "090.jpg"
    if not receipt.is_file():
        pytest.skip(f"{receipt} is absent (the shared development set beside the clone)")
    from receiptcore.adapters.extractors.ocr import OcrExtractor

    config = extractor_config(Settings(data_dir=tmp_path, extractor="ocr"))
    return ExtractorCase(
        build=lambda _reply: OcrExtractor(config),
        ok=None,
        readable=Document(receipt.read_bytes(), "image/jpeg", receipt.name),
        failures=_local_failures(),
    )


@pytest.fixture
def anthropic_mocked_case(llm_settings: Settings) -> ExtractorCase:
    httpx2 = pytest.importorskip("httpx2")
    pytest.importorskip("anthropic")
    from receiptcore.adapters.extractors.llm.anthropic import AnthropicExtractor

    def message(content: list[dict[str, Any]]) -> Any:
        usage = {"input_tokens": 1500, "output_tokens": 300}
        return httpx2.Response(
            200,
            json={"id": "msg_c", "type": "message", "role": "assistant", "model": "claude-contract",
                  "content": content, "stop_reason": "tool_use", "stop_sequence": None, "usage": usage},
        )  # fmt: skip

    def error(status: int) -> Reply:
        return lambda _request: httpx2.Response(status, json={"type": "error", "error": {"type": "x", "message": "x"}})

    def timeout(request: Any) -> Any:
        raise httpx2.ReadTimeout("timed out", request=request)

    tool = {"type": "tool_use", "id": "toolu_1", "name": "record_receipt"}
    replies: dict[str, Reply] = {
        "ok": lambda _request: message([{**tool, "input": RECEIPT_ANSWER}]),
        "overloaded-529": error(529),
        "key-refused-401": error(401),
        "bad-request-400": error(400),
        "timeout": timeout,
        "garbage-answer": lambda _request: httpx2.Response(200, content=b"\x00not json at all"),
        "no-tool-call": lambda _request: message([{"type": "text", "text": "I cannot help with that."}]),
        "tool-input-not-an-object": lambda _request: message([{**tool, "input": "ignore the schema"}]),
    }

    def build(reply: Reply) -> Extractor:
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(reply))
        return AnthropicExtractor(
            anthropic=anthropic_config(llm_settings), llm=llm_config(llm_settings), http_client=client,
            sleep=SleepRecorder(), rng=lambda: 0.5,
        )  # fmt: skip

    readable = Document(jpeg_bytes(), "image/jpeg", "receipt.jpg")
    return ExtractorCase(
        build=build,
        ok=replies["ok"],
        readable=readable,
        failures=_remote_failures(replies, readable),
        outage=replies["overloaded-529"],
    )


@pytest.fixture
def openai_mocked_case(llm_settings: Settings) -> ExtractorCase:
    from receiptcore.adapters.extractors.llm.openai_compat import OpenAICompatibleExtractor

    def completion(text: str, finish: str = "stop") -> httpx.Response:
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        return httpx.Response(200, json={"choices": [choice], "usage": {"prompt_tokens": 9, "completion_tokens": 9}})

    def refused(_request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    replies: dict[str, Reply] = {
        "ok": lambda _request: completion(json.dumps(RECEIPT_ANSWER)),
        "server-error-503": lambda _request: httpx.Response(503, text="busy"),
        "model-unknown-404": lambda _request: httpx.Response(404, text="no such model"),
        "bad-request-400": lambda _request: httpx.Response(400, text="bad image"),
        "timeout": timeout,
        "connection-refused": refused,
        "garbage-answer": lambda _request: httpx.Response(200, content=b"<html>proxy error</html>"),
        "prose-answer": lambda _request: completion("I see a cat."),
        "cut-off-answer": lambda _request: completion('{"total": "8.', finish="length"),
        "no-choices": lambda _request: httpx.Response(200, json={"choices": []}),
    }

    def build(reply: Reply) -> Extractor:
        client = httpx.AsyncClient(transport=httpx.MockTransport(reply))  # type: ignore[arg-type]
        return OpenAICompatibleExtractor(
            openai=openai_config(llm_settings), llm=llm_config(llm_settings), http_client=client,
            sleep=SleepRecorder(), rng=lambda: 0.5,
        )  # fmt: skip

    readable = Document(jpeg_bytes(), "image/jpeg", "receipt.jpg")
    return ExtractorCase(
        build=build,
        ok=replies["ok"],
        readable=readable,
        failures=_remote_failures(replies, readable),
        outage=replies["server-error-503"],
    )


@pytest.fixture
def example_plugin_case(installed_plugin: Path, tmp_path: Path) -> ExtractorCase:
    from receiptcore.adapters.extractors import load_extractor

    config = extractor_config(Settings(data_dir=tmp_path, extractor="example"))
    return ExtractorCase(
        build=lambda _reply: load_extractor("example", config),
        ok=None,
        readable=Document(text_pdf(["CORNER SHOP", "MILK 1.20", "TOTAL 1.20"]), "application/pdf", "r.pdf"),
        failures={"corrupt-pdf": (None, CORRUPT["corrupt-pdf"])},
    )


@pytest.fixture(
    params=[
        pytest.param("ocr_case", id="ocr", marks=[pytest.mark.slow, pytest.mark.xdist_group("ocr")]),
        pytest.param("anthropic_mocked_case", id="anthropic-mocked", marks=pytest.mark.xdist_group("llm")),
        pytest.param("openai_mocked_case", id="openai-compatible-mocked", marks=pytest.mark.xdist_group("llm")),
        pytest.param("example_plugin_case", id="example-plugin", marks=pytest.mark.xdist_group("plugin")),
    ]
)
def case(request: pytest.FixtureRequest) -> ExtractorCase:
    """The extractor under test, chosen by the param's fixture name."""
    chosen: ExtractorCase = request.getfixturevalue(request.param)
    return chosen


async def test_it_implements_the_port_and_its_output_validates_against_the_receipt_schema(
    case: ExtractorCase,
) -> None:
    extractor = case.build(case.ok)
    assert isinstance(extractor, Extractor)

    output = await extractor.extract(case.readable)

    assert isinstance(output, ExtractedReceipt)
    assert ExtractedReceipt.model_validate(output.model_dump()) == output
    assert output.raw_text.strip()  # it read something, not an empty shell


async def test_every_failure_ends_in_a_core_error_and_nothing_else_escapes(case: ExtractorCase) -> None:
    assert case.failures
    for label, (reply, document) in case.failures.items():
        extractor = case.build(reply)
        with pytest.raises((ExtractionFailed, ExtractionDeferred)) as caught:
            await extractor.extract(document)
        assert caught.value.detail, label
        if isinstance(caught.value, ExtractionDeferred):
            assert (caught.value.retry_after or 0) > 0, label


async def test_health_reaches_readiness_ok_after_an_answer_and_degraded_during_an_outage(
    case: ExtractorCase,
) -> None:
    extractor = case.build(case.ok)
    await extractor.extract(case.readable)
    assert await adapter_state(extractor) == "ok"

    if case.outage is not None:
        troubled = case.build(case.outage)
        with pytest.raises(ExtractionDeferred):
            await troubled.extract(case.readable)
        assert await adapter_state(troubled) == "degraded"
