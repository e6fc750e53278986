"""The LLM extractors inside the extraction worker (memory adapters, mocked LLM APIs): a good answer lands as
receipt data; an exhausted budget or an API outage sends the receipt back to the queue to wait, not to failure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from receiptcore.adapters.clock import ManualClock
from receiptcore.adapters.extractors.llm.budget import SpendLedger
from receiptcore.adapters.extractors.llm.openai_compat import OpenAICompatibleExtractor
from receiptcore.adapters.memory import InProcessEventBus, MemoryReceiptStore
from receiptcore.domain.receipt import ReceiptStatus
from receiptcore.ports import Extractor
from receiptcore.services.extraction import ExtractionService, WorkerConfig
from receiptcore.settings import Settings
from tests.factories import make_receipt, unique_png
from tests.unit.llm.conftest import FIXED_NOW, RECEIPT_ANSWER, SleepRecorder, anthropic_configs, openai_configs
from tests.unit.llm.test_openai_compat_extractor import completion

httpx2 = pytest.importorskip("httpx2")
pytest.importorskip("anthropic")

from receiptcore.adapters.extractors.llm.anthropic import AnthropicExtractor  # noqa: E402
from tests.unit.llm.test_anthropic_extractor import error_reply, tool_reply  # noqa: E402


@pytest.fixture
async def bus() -> AsyncIterator[InProcessEventBus]:
    events = InProcessEventBus()
    yield events
    await events.aclose()


async def run_one(extractor: Extractor, bus: InProcessEventBus) -> Any:
    store = MemoryReceiptStore()
    receipt, content = make_receipt(content=unique_png())
    await store.add(receipt, content)
    service = ExtractionService(store, extractor, bus, ManualClock(FIXED_NOW), WorkerConfig(max_attempts=2))
    return await service.run_once("worker-llm")


def anthropic(settings: Settings, handler: Callable[[Any], Any], ledger: SpendLedger) -> AnthropicExtractor:
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return AnthropicExtractor(**anthropic_configs(settings), http_client=client, sleep=SleepRecorder(), ledger=ledger)


async def test_worker_stores_the_claude_reading_with_mocked_anthropic_api(
    settings: Settings, bus: InProcessEventBus, ledger_at: Callable[[Decimal | None], SpendLedger]
) -> None:
    stored = await run_one(anthropic(settings, lambda _: tool_reply(RECEIPT_ANSWER), ledger_at(None)), bus)

    assert stored.status == ReceiptStatus.EXTRACTED  # the recorded answer adds up: no review needed
    assert stored.merchant.name == "YAM FRESH"
    assert stored.total == Decimal("8.35")
    attempt = stored.extraction_attempts[-1]
    assert (attempt.extractor, attempt.outcome) == ("anthropic", "ok")
    assert attempt.extractor_version.endswith("claude-test-model")


async def test_spent_budget_sends_the_job_back_to_wait_until_midnight_with_mocked_anthropic_api(
    settings: Settings, bus: InProcessEventBus, ledger_at: Callable[[Decimal | None], SpendLedger]
) -> None:
    ledger = ledger_at(Decimal("0.01"))
    ledger.reserve(Decimal("0.01"))

    def handler(request: Any) -> Any:
        raise AssertionError("no call may be made over the cap")

    stored = await run_one(anthropic(settings, handler, ledger), bus)

    assert stored.status == ReceiptStatus.PENDING
    assert stored.extraction_attempts[-1].outcome == "deferred"
    assert stored.next_attempt_at == dt.datetime(2026, 3, 15, tzinfo=dt.UTC)  # midnight after FIXED_NOW


async def test_llm_server_outage_defers_instead_of_failing_with_mocked_openai_api(
    settings: Settings, bus: InProcessEventBus, ledger_at: Callable[[Decimal | None], SpendLedger]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    extractor = OpenAICompatibleExtractor(
        **openai_configs(settings), http_client=client, sleep=SleepRecorder(), ledger=ledger_at(None)
    )

    stored = await run_one(extractor, bus)

    assert stored.status == ReceiptStatus.PENDING
    assert stored.extraction_attempts[-1].outcome == "deferred"
    assert stored.next_attempt_at is not None
    assert stored.next_attempt_at >= FIXED_NOW + dt.timedelta(seconds=60)


async def test_a_hopeless_answer_counts_as_a_failed_attempt_with_mocked_openai_api(
    settings: Settings, bus: InProcessEventBus, ledger_at: Callable[[Decimal | None], SpendLedger]
) -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: completion("I see a cat.")))
    extractor = OpenAICompatibleExtractor(
        **openai_configs(settings), http_client=client, sleep=SleepRecorder(), ledger=ledger_at(None)
    )

    stored = await run_one(extractor, bus)

    assert stored.extraction_attempts[-1].outcome == "failed"
    assert stored.status == ReceiptStatus.PENDING  # retried later, up to max_attempts


async def test_rate_limit_then_success_is_one_ok_attempt_with_mocked_anthropic_api(
    settings: Settings, bus: InProcessEventBus, ledger_at: Callable[[Decimal | None], SpendLedger]
) -> None:
    replies = [error_reply(429, "rate_limit_error"), tool_reply(RECEIPT_ANSWER)]

    stored = await run_one(anthropic(settings, lambda _: replies.pop(0), ledger_at(None)), bus)

    assert [attempt.outcome for attempt in stored.extraction_attempts] == ["ok"]
