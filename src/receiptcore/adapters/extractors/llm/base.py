"""What the LLM extractors share around their API call: image preparation, the metered and retried call, the
health they report, and how an HTTP error status maps to our errors.

Each extractor keeps only what differs: how it builds the request, talks to its API and reads the answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

from receiptcore.adapters.extractors.llm.budget import (
    FileSpendBook,
    HealthState,
    Prices,
    SpendBook,
    SpendLedger,
    metered_call,
)
from receiptcore.adapters.extractors.llm.config import LlmConfig
from receiptcore.adapters.extractors.llm.images import PreparedDocument, prepare_document
from receiptcore.adapters.extractors.llm.retry import RetryPolicy, SleepFn, TransientError, parse_retry_after
from receiptcore.errors import ExtractionDeferred, ExtractionFailed
from receiptcore.ports import Document, Extractor

log = logging.getLogger(__name__)
#: what a built-in LLM extractor says when it is built without the configs only the composition root makes
NOT_CONFIGURED = "the {name} extractor is configured by receiptcore's container (RECEIPTCORE_{prefix}_* settings)"
T = TypeVar("T")
# a bad key or an unknown model is fixed by an operator, not by retrying soon; jobs wait meanwhile
CONFIG_PROBLEM_RETRY_SECONDS = 600.0


class MeteredLlmExtractor(Extractor):
    """Base of the LLM extractors: spend ledger, retry policy and health around one API call per document.

    Subclasses set ``llm``, ``model`` and ``service`` (the name error details give the API), then call
    ``_setup_metering`` from their ``__init__``.
    """

    llm: LlmConfig
    model: str
    #: names the API in error details and logs, e.g. "Anthropic API"
    service: str = "LLM API"

    def _setup_metering(
        self,
        prices: Prices,
        *,
        ledger: SpendLedger | None,
        sleep: SleepFn,
        rng: Callable[[], float],
        shared_ledger: SpendBook | None = None,
    ) -> None:
        """Keep the prices and the ledger and start healthy. Spend is booked in ``shared_ledger`` when the
        composition root hands one in (PostgreSQL: one cap for every host), else in the file ``ledger`` (by
        default the data dir's, shared by the processes of one host)."""
        self._prices = prices
        self._ledger = ledger or SpendLedger(self.llm.ledger_path, self.llm.daily_spend_cap_usd)
        self._book: SpendBook = shared_ledger or FileSpendBook(self._ledger)
        self._policy = RetryPolicy(
            max_retries=self.llm.max_retries,
            base_delay=self.llm.retry_base_seconds,
            max_delay=self.llm.retry_max_seconds,
            defer_seconds=max(60.0, self.llm.retry_max_seconds),
        )
        self._sleep = sleep
        self._rng = rng
        self._health = HealthState()

    @property
    def healthy(self) -> bool:
        """False while the last call was deferred (API down, key or model refused, spend cap reached)."""
        return self._health.healthy

    @property
    def health_detail(self) -> str | None:
        """Why the extractor is not healthy, or None."""
        return self._health.problem

    async def health(self) -> str | None:
        """The ``ReportsHealth`` port: ``health_detail`` (None while the last call was not deferred)."""
        return self._health.problem

    async def _prepare(self, document: Document) -> PreparedDocument:
        """The document's page images within the configured size and page limits (decoded off the loop)."""
        return await asyncio.to_thread(
            prepare_document, document, max_side=self.llm.max_image_side, max_pages=self.llm.max_pages
        )

    async def _metered(self, estimate: Decimal, attempt: Callable[[], Awaitable[tuple[T, Decimal]]]) -> T:
        """Run ``attempt`` (returning its answer and what it cost) against the spend cap, with retries."""
        return await metered_call(
            self._book,
            estimate,
            attempt,
            self._policy,
            sleep=self._sleep,
            rng=self._rng,
            what=self.service,
            health=self._health,
        )

    def _log_target(self) -> str:
        """How logs name the API (subclasses add where it is)."""
        return self.service

    def _status_error(self, status: int, detail: str, retry_after: str | None, *, check: str) -> Exception:
        """The error an HTTP error ``status`` from the API becomes.

        Overload and server errors are transient (retried, then deferred); a refused key or unknown model is
        deferred for longer, since an operator has to act (``check`` says what to check); any other status
        fails the document.
        """
        if status in {408, 409, 429} or status >= 500:
            return TransientError(detail, parse_retry_after(retry_after))
        if status in {401, 403, 404}:
            log.warning("%s refused the key or model %r: %s", self._log_target(), self.model, detail)
            return ExtractionDeferred(
                f"{self.service} refused the request ({detail}); check {check}",
                retry_after=CONFIG_PROBLEM_RETRY_SECONDS,
            )
        return ExtractionFailed(f"{self.service} refused the request: {detail}")
