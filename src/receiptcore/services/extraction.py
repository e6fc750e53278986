"""The extraction worker's use case: claim a pending receipt, run the extractor, validate, check consistency,
flag duplicates, store, publish.

The store is the queue: a claim is a lease, and a worker that dies simply lets the lease expire. Nothing an
extractor does (a bad document, an outage, a bug) may stop the worker; each becomes an attempt on the receipt.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError

from receiptcore.domain.consistency import POSSIBLE_DUPLICATE
from receiptcore.domain.events import Event, EventType
from receiptcore.domain.policy import Scope
from receiptcore.domain.receipt import ExtractedReceipt, ExtractionAttempt, Receipt, ReceiptData, ReceiptWarning
from receiptcore.domain.review import assume_currency, review_warnings
from receiptcore.errors import ExtractionDeferred, ExtractionFailed, NotFound, VersionConflict
from receiptcore.ports import Clock, Document, EventBus, Extractor, ReceiptStore, Warms
from receiptcore.services.merchants import MerchantService
from receiptcore.services.preferences import PreferencesService

log = logging.getLogger(__name__)

_MAX_RETRY_DELAY = 6 * 3600.0

Outcome = Literal["ok", "failed", "deferred"]


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Lease length and retry policy."""

    lease_seconds: float = 300.0
    max_attempts: int = 5
    retry_base_seconds: float = 30.0
    # longest one attempt may take; never more than the lease, past which another worker may take the receipt
    timeout_seconds: float = 120.0
    default_currency: str | None = None  # assumed when a receipt prints none (marked ``currency_assumed``)


class ExtractionService:
    """Runs extraction for queued receipts."""

    def __init__(
        self,
        store: ReceiptStore,
        extractor: Extractor,
        bus: EventBus,
        clock: Clock,
        config: WorkerConfig | None = None,
        *,
        merchants: MerchantService | None = None,
        preferences: PreferencesService | None = None,
    ) -> None:
        self._store = store
        self._extractor = extractor
        self._bus = bus
        self._clock = clock
        self._config = config or WorkerConfig()
        # the receipt owner's default currency (issue 12); without it, the install's (config.default_currency)
        self._preferences = preferences
        self._merchants = merchants  # matches the merchant to the owner's directory and assigns a category
        self._timeout = min(self._config.timeout_seconds, self._config.lease_seconds)

    async def _default_currency(self, owner_id: str) -> str | None:
        """The currency assumed for the owner's receipt that prints none: the owner's choice, else the install's."""
        if self._preferences is None:
            return self._config.default_currency
        return await self._preferences.currency_for(owner_id)

    async def warm(self) -> bool:
        """Let the extractor load what its first call would (the optional ``Warms`` port); False when it has
        nothing to warm. Exceptions are the extractor's own (the worker logs them and goes on)."""
        if not isinstance(self._extractor, Warms):
            return False
        await self._extractor.warm()
        return True

    async def run_once(self, worker_id: str) -> Receipt | None:
        """Claim one receipt and process it; returns the stored result, or None when the queue is empty.
        ExtractionDeferred → back to pending with next_attempt_at (backoff), not counted as failure;
        ExtractionFailed → retried with backoff until max_attempts, then status failed; output that fails
        validation counts as failure. Never raises for a bad document."""
        now = self._clock.now()
        claimed = await self._store.claim_pending(
            worker_id, now, now + dt.timedelta(seconds=self._config.lease_seconds)
        )
        if claimed is None:
            return None
        try:
            source, content = await self._store.open_file(claimed.id, Scope.everyone())
        except NotFound:
            return None  # deleted between the claim and now
        started_at = self._clock.now()
        started = time.perf_counter()
        attempt = ExtractionAttempt(
            attempt=len(claimed.extraction_attempts) + 1,
            extractor=self._extractor.name,
            extractor_version=self._extractor.version,
            started_at=started_at,
        )
        outcome: Callable[[Receipt], tuple[Receipt, EventType | None]]
        try:
            # Abandoned past the time limit (and never past the lease, when another worker may take the receipt):
            # the attempt fails and is retried with backoff. Cancelling cannot stop a call running in a thread;
            # the extractor's pool is bounded, so an abandoned call only holds one of its slots until it returns.
            raw = await asyncio.wait_for(
                self._extractor.extract(Document(content, source.media_type, source.filename)),
                timeout=self._timeout,
            )
            # the extractor's output is untrusted input: validate it as if it came over the wire
            output = ExtractedReceipt.model_validate(raw.model_dump() if hasattr(raw, "model_dump") else raw)
        except ExtractionDeferred as exc:
            outcome = self._deferred(self._finish(attempt, started, "deferred", exc.detail), exc.retry_after)
        except ExtractionFailed as exc:
            outcome = self._failed(self._finish(attempt, started, "failed", exc.detail))
        except TimeoutError:
            detail = f"the extractor took longer than {self._timeout:g} s (abandoned; retried later)"
            outcome = self._failed(self._finish(attempt, started, "failed", detail))
        except ValidationError as exc:
            detail = f"the extractor's output is not a valid receipt ({exc.error_count()} errors)"
            outcome = self._failed(self._finish(attempt, started, "failed", detail))
        except Exception as exc:
            # a bug in an extractor plugin must not kill the worker: record it and retry later
            log.exception("extractor %s crashed on receipt %s", self._extractor.name, claimed.id)
            outcome = self._failed(self._finish(attempt, started, "failed", f"extractor error: {type(exc).__name__}"))
        else:
            finished = self._finish(attempt, started, "ok", None, output)
            outcome = await self._succeeded(claimed, finished, output)
        return await self._store_result(claimed, worker_id, outcome)

    def _finish(
        self,
        attempt: ExtractionAttempt,
        started: float,
        result: Outcome,
        error: str | None,
        output: ExtractedReceipt | None = None,
    ) -> ExtractionAttempt:
        duration_ms = max(0, round((time.perf_counter() - started) * 1000))
        return attempt.finished(result, at=self._clock.now(), duration_ms=duration_ms, error=error, output=output)

    async def _succeeded(
        self, claimed: Receipt, attempt: ExtractionAttempt, output: ExtractedReceipt
    ) -> Callable[[Receipt], tuple[Receipt, EventType | None]]:
        output = assume_currency(output, await self._default_currency(claimed.owner_id))
        category = None
        if self._merchants is not None:
            enriched = await self._merchants.enrich(claimed.owner_id, output)
            output, category = enriched.output, enriched.category
        data = output.data()
        duplicates = await self._store.find_matching(_probe(claimed, data))
        warnings = review_warnings(output)
        if duplicates:
            warnings.append(
                ReceiptWarning(
                    code=POSSIBLE_DUPLICATE,
                    detail=f"same merchant, date, total and currency as receipt {duplicates[0]}",
                    fields=["merchant.name", "purchase_date", "total", "currency"],
                )
            )

        def apply(base: Receipt) -> tuple[Receipt, EventType | None]:
            updated = base.extracted_from(
                output,
                attempt,
                warnings=warnings,
                duplicate_of=duplicates[0] if duplicates else None,
                at=self._clock.now(),
                category=category,
            )
            return updated, "receipt.extracted"

        return apply

    def _deferred(
        self, attempt: ExtractionAttempt, retry_after: float
    ) -> Callable[[Receipt], tuple[Receipt, EventType | None]]:
        def apply(base: Receipt) -> tuple[Receipt, EventType | None]:
            now = self._clock.now()
            until = now + dt.timedelta(seconds=max(1.0, retry_after))
            return base.deferred(attempt, until=until, at=now), None

        return apply

    def _failed(self, attempt: ExtractionAttempt) -> Callable[[Receipt], tuple[Receipt, EventType | None]]:
        def apply(base: Receipt) -> tuple[Receipt, EventType | None]:
            now = self._clock.now()
            failures = base.failures_since_queued(attempt)
            if failures >= self._config.max_attempts:
                return base.failed(attempt, retry_at=None, at=now), "receipt.extraction_failed"
            delay = min(_MAX_RETRY_DELAY, self._config.retry_base_seconds * 2 ** (failures - 1))
            # "equal jitter": half the delay fixed, half random, so retries of a batch spread out
            delay = delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not security
            return base.failed(attempt, retry_at=now + dt.timedelta(seconds=delay), at=now), None

        return apply

    async def _store_result(
        self, claimed: Receipt, worker_id: str, outcome: Callable[[Receipt], tuple[Receipt, EventType | None]]
    ) -> Receipt | None:
        base = claimed
        for _ in range(2):
            updated, event = outcome(base)
            try:
                stored = await self._store.update(updated, base.version)
            except NotFound:
                return None  # deleted while it was being extracted: nothing to keep
            except VersionConflict:
                try:
                    base = await self._store.get(claimed.id, Scope.everyone())
                except NotFound:
                    return None
                if not base.leased_to(worker_id):
                    log.info("receipt %s changed hands while %s extracted it; dropping the result", base.id, worker_id)
                    return None
                continue
            if event is not None:
                await self._bus.publish(
                    Event(
                        type=event,
                        time=self._clock.now(),
                        owner_id=stored.owner_id,
                        payload={"id": stored.id, "status": stored.status.value, "version": stored.version},
                    )
                )
            return stored
        log.warning("receipt %s kept changing while %s stored its result; dropping it", claimed.id, worker_id)
        return None


def _probe(claimed: Receipt, data: ReceiptData) -> Receipt:
    """``claimed`` carrying the extracted ``data``: what ``find_matching`` compares with the owner's receipts."""
    return Receipt.model_validate({**claimed.model_dump(), **data.model_dump()})
