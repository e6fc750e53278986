"""The extraction worker loop: claim → extract → store, N at a time, woken early by the event bus.

The store is the queue (docs/adr/0002): each task calls ``ExtractionService.run_once`` until the queue is empty,
then sleeps until a ``receipt.*`` event rings the doorbell or ``poll_seconds`` pass, whichever comes first. The bus
is only a hint; polling alone finds every pending receipt, so a lost event costs at most one poll interval.

Stopping is graceful: a task never abandons a receipt between claim and store on its own. On stop, tasks finish the
receipt in hand (up to ``grace_seconds``); a receipt still in hand after that is cancelled and its lease expires,
after which any worker claims it again (nothing accepted is lost).

The grace is enforced for the whole process: cancelling the loop does not stop an extraction running in a thread
(Python cannot kill a thread), and the interpreter joins every non-daemon thread at exit, so a stuck OCR call
used to keep a stopped process alive (69 s against the documented 40: issue 9, hole 6). A stop that leaves
extractions running sets ``ABANDONED``, and ``exit_process`` then ends the process at once (``os._exit`` after
flushing the logs) instead of waiting for those threads.

Warm start (issue 12): ``run`` first asks the extractor to load its models (the optional ``Warms`` port, in the
extractor's own pool) and the claim loops wait for that, up to ``warm_seconds``, so the first receipt is as
fast as the rest and the model load never counts against an extraction's timeout or lease. Start-up, the HTTP
app and readiness do not wait for it (readiness stays "ready": uploads are accepted and queued meanwhile). A
failed warm-up is logged once and extraction then tries normally; a stop during the warm-up returns at once
(a loading thread cannot be interrupted, so it counts as abandoned, like a stuck extraction).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from receiptcore.domain.ids import new_id
from receiptcore.domain.receipt import Receipt
from receiptcore.errors import StorageUnavailable
from receiptcore.ports import EventBus
from receiptcore.services.extraction import ExtractionService

log = logging.getLogger("receiptcore.worker")

# Events after which there may be claimable work: a new upload, or a re-extraction request.
_WAKE_EVENTS = frozenset({"receipt.uploaded", "receipt.updated"})

# Set when a stop left an extraction running past the grace period (its thread cannot be stopped).
ABANDONED = threading.Event()


def exit_process(code: int) -> NoReturn:
    """End the process with ``code``; at once, without joining threads, when a stop abandoned an extraction."""
    if ABANDONED.is_set():
        log.warning("exiting without waiting for %s", "the abandoned extraction thread(s)")
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    sys.exit(code)


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """What a worker run did: receipts processed (any outcome) and loop errors survived."""

    processed: int
    errors: int


def default_worker_id() -> str:
    """A worker id that says where the worker runs (host and pid) and is unique per start."""
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[-8:]}"


_WORKER_SLOTS = 64
# the slot locks this process holds; the kernel releases them when it exits, also on SIGKILL
_held_slots: list[int] = []


def stable_worker_id(data_dir: Path | None) -> str:
    """A worker id that stays the same across restarts: ``host:<data dir tag>:slot<N>``.

    N is the lowest free slot of ``data_dir/worker-slots`` (an ``flock`` on ``<N>.lock``, held for the life of
    the process), so two workers running at once on one host never share an id, while a worker restarted after a
    SIGKILL gets its old slot back and with it its leases: ``claim_pending`` hands a receipt leased to the
    claimer's own id back at once (issue 9, hole 6). Without a data dir, ``fcntl`` or a free slot it falls back
    to ``default_worker_id`` (unique per start; dead leases then wait for their expiry as before).
    """
    if data_dir is None:
        return default_worker_id()
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return default_worker_id()
    folder = data_dir / "worker-slots"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return default_worker_id()
    tag = hashlib.sha256(str(data_dir.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    for slot in range(_WORKER_SLOTS):
        try:
            fd = os.open(folder / f"{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return default_worker_id()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _held_slots.append(fd)
        return f"{socket.gethostname()}:{tag}:slot{slot}"
    return default_worker_id()


class ExtractionWorker:
    """Runs ``concurrency`` claim loops against an ExtractionService until stopped.

    Args:
        service: the extraction use case (claims, extracts, stores, publishes).
        bus: the event bus whose ``receipt.*`` events wake idle loops early; None polls only.
        concurrency: how many receipts are extracted at once.
        poll_seconds: how long an idle loop waits when no event arrives.
        worker_id: the lease owner prefix; each loop appends its index.
        grace_seconds: on stop, how long a loop may take to finish the receipt in hand.
        error_backoff_seconds: pause after an unexpected error (a store outage) before claiming again.
        on_processed: called with each receipt an attempt finished on (the metrics count them).
        warm_seconds: how long the loops wait for the extractor's warm-up before claiming anyway.
    """

    def __init__(
        self,
        service: ExtractionService,
        bus: EventBus | None = None,
        *,
        concurrency: int = 1,
        poll_seconds: float = 2.0,
        worker_id: str | None = None,
        grace_seconds: float = 30.0,
        error_backoff_seconds: float = 2.0,
        on_processed: Callable[[Receipt], None] | None = None,
        warm_seconds: float = 120.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._service = service
        self._bus = bus
        self._concurrency = concurrency
        self._poll = poll_seconds
        self._worker_id = worker_id or default_worker_id()
        self._grace = grace_seconds
        self._error_backoff = error_backoff_seconds
        self._on_processed = on_processed
        self._warm_limit = warm_seconds
        self._warmed = asyncio.Event()
        self._stop = asyncio.Event()
        self._doorbell = asyncio.Condition()
        self._processed = 0
        self._errors = 0

    @property
    def worker_id(self) -> str:
        """The lease owner prefix of this worker."""
        return self._worker_id

    def stop(self) -> None:
        """Ask every loop to stop after the receipt in hand (idempotent, safe from a signal handler)."""
        self._stop.set()

    async def run(self) -> WorkerStats:
        """Process receipts until ``stop()`` is called; returns what was done."""
        listener = asyncio.create_task(self._listen(), name="worker-doorbell") if self._bus is not None else None
        warming = asyncio.create_task(self._warm_extractor(), name="worker-warm")
        gate = asyncio.create_task(self._open_after_warm(warming), name="worker-warm-gate")
        loops = [
            asyncio.create_task(self._loop(f"{self._worker_id}-{i}"), name=f"worker-{i}")
            for i in range(self._concurrency)
        ]
        stopper = asyncio.create_task(self._wake_all_on_stop(), name="worker-stopper")
        try:
            await self._stop.wait()
            await self._finish(loops)
        finally:
            self._stop.set()
            if not warming.done():
                # the loading thread cannot be interrupted; without this the interpreter would join it at exit
                ABANDONED.set()
                log.warning("stopping during the extractor warm-up; not waiting for it")
            background = (listener, stopper, warming, gate, *loops)
            for task in background:
                if task is not None and not task.done():
                    task.cancel()
            await asyncio.gather(*(t for t in background if t is not None), return_exceptions=True)
        return WorkerStats(self._processed, self._errors)

    async def _warm_extractor(self) -> None:
        """Warm the extractor once; a failure is logged (once) and otherwise ignored."""
        started = time.monotonic()
        try:
            warms = await self._service.warm()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a plugin's bug or a missing model: extraction still tries (and reports) later
            log.warning("extractor warm-up failed, extracting without it: %s", exc or type(exc).__name__)
            return
        if warms:
            log.info("extractor warmed up in %.1f s", time.monotonic() - started)

    async def _open_after_warm(self, warming: asyncio.Task[None]) -> None:
        """Let the loops claim once the warm-up is over, or after ``warm_seconds`` whatever its state."""
        _done, pending = await asyncio.wait({warming}, timeout=self._warm_limit)
        if pending:
            log.warning("extractor warm-up still running after %.0f s; claiming receipts anyway", self._warm_limit)
        self._warmed.set()

    async def _wait_for_warm(self) -> None:
        """Return when the warm-up gate opens or a stop is asked, whichever comes first."""
        if self._warmed.is_set():
            return
        waiters = {asyncio.ensure_future(self._warmed.wait()), asyncio.ensure_future(self._stop.wait())}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def drain(self) -> WorkerStats:
        """Process receipts until none is claimable (``--once``), ``concurrency`` at a time; then return.

        Like ``run`` it warms the extractor first (up to ``warm_seconds``), so loading the models for the
        ``concurrency`` loops never counts against the first receipts' attempts, timeouts or leases.
        """
        warming = asyncio.create_task(self._warm_extractor(), name="worker-warm")
        _done, pending = await asyncio.wait({warming}, timeout=self._warm_limit)
        if pending:
            log.warning("extractor warm-up still running after %.0f s; claiming receipts anyway", self._warm_limit)
        loops = [
            asyncio.create_task(self._drain_loop(f"{self._worker_id}-{i}"), name=f"worker-{i}")
            for i in range(self._concurrency)
        ]
        try:
            await asyncio.gather(*loops)
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            if not warming.done():
                # the loading thread cannot be interrupted; without this the interpreter would join it at exit
                ABANDONED.set()
                warming.cancel()
                await asyncio.gather(warming, return_exceptions=True)
        return WorkerStats(self._processed, self._errors)

    async def _finish(self, loops: list[asyncio.Task[None]]) -> None:
        """Give loops ``grace_seconds`` to finish the receipt in hand, then cancel the rest."""
        _done, pending = await asyncio.wait(loops, timeout=self._grace)
        if pending:
            ABANDONED.set()
            log.warning(
                "%d extraction(s) still running after %.0f s; their leases will expire and be retried",
                len(pending),
                self._grace,
            )

    async def _loop(self, loop_id: str) -> None:
        await self._wait_for_warm()
        while not self._stop.is_set():
            outcome = await self._step(loop_id)
            if outcome is None:
                await self._idle(self._poll)
            elif outcome is False:
                await self._idle(self._error_backoff)

    async def _drain_loop(self, loop_id: str) -> None:
        failures = 0
        while True:
            outcome = await self._step(loop_id)
            if outcome is None:
                return
            if outcome is False:
                failures += 1
                if failures >= 3:
                    # a store that keeps failing will not empty the queue; give up rather than spin
                    return
                await asyncio.sleep(self._error_backoff)

    async def _step(self, loop_id: str) -> bool | None:
        """One claim: True when a receipt was processed, None when the queue is empty, False on an error."""
        try:
            receipt = await self._service.run_once(loop_id)
        except StorageUnavailable as exc:
            self._errors += 1
            log.warning("receipt store unavailable, retrying: %s", exc.detail)
            return False
        except Exception:
            # the worker must outlive any bug in one extraction; the lease expiry re-queues that receipt
            self._errors += 1
            log.exception("extraction loop error")
            return False
        if receipt is None:
            return None
        self._processed += 1
        log.info("receipt %s → %s", receipt.id, receipt.status.value)
        if self._on_processed is not None:
            self._on_processed(receipt)
        return True

    async def _idle(self, seconds: float) -> None:
        """Wait for the doorbell, a stop request or ``seconds``, whichever comes first."""
        if self._stop.is_set():
            return
        async with self._doorbell:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._doorbell.wait(), timeout=seconds)

    async def _ring(self) -> None:
        async with self._doorbell:
            self._doorbell.notify_all()

    async def _wake_all_on_stop(self) -> None:
        await self._stop.wait()
        await self._ring()

    async def _listen(self) -> None:
        """Ring the doorbell on every event that may mean new work; resubscribe if the bus fails."""
        assert self._bus is not None  # noqa: S101 - only started with a bus
        while not self._stop.is_set():
            try:
                async with self._bus.subscribe() as events:
                    async for event in events:
                        if event.type in _WAKE_EVENTS:
                            await self._ring()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the doorbell is optional; polling still finds the work
                log.warning("event bus subscription lost (%s); polling until it is back", exc)
            await asyncio.sleep(self._poll)
