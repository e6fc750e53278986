"""Worker side of crash recovery (issue 9, hole 6): SIGTERM's grace period is enforced (an extraction still running
in a thread after the grace no longer keeps the process alive: 69 s against the documented 40 in the probe), and a
worker restarted after SIGKILL has its old id and takes its dead leases back at once (they stayed ``processing``
for the 5-minute lease before)."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import subprocess
import sys
import threading
from pathlib import Path

from receiptcore.adapters.clock import SystemClock
from receiptcore.adapters.memory.event_bus import InProcessEventBus
from receiptcore.adapters.memory.extractor import MemoryExtractor
from receiptcore.adapters.memory.receipt_store import MemoryReceiptStore
from receiptcore.domain.policy import Scope
from receiptcore.domain.receipt import ExtractedReceipt, ReceiptStatus
from receiptcore.entrypoints import worker as worker_module
from receiptcore.entrypoints.worker import ExtractionWorker, stable_worker_id
from receiptcore.ports import Document
from receiptcore.services.extraction import ExtractionService, WorkerConfig
from tests.factories import make_receipt


class ThreadStuckExtractor:
    """Extracts in a thread that does not return until released (an OCR engine stuck on a page)."""

    name = "stuck"
    version = "1"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()

    async def extract(self, document: Document) -> ExtractedReceipt:
        def work() -> ExtractedReceipt:
            self.started.set()
            self.release.wait()
            return ExtractedReceipt()

        return await asyncio.to_thread(work)


async def test_a_stop_past_the_grace_marks_the_extraction_abandoned() -> None:
    store, bus, stuck = MemoryReceiptStore(), InProcessEventBus(), ThreadStuckExtractor()
    receipt, content = make_receipt()
    await store.add(receipt, content)
    service = ExtractionService(store, stuck, bus, SystemClock(), WorkerConfig(lease_seconds=60))
    worker = ExtractionWorker(service, bus, poll_seconds=60, grace_seconds=0.1)
    worker_module.ABANDONED.clear()
    running = asyncio.create_task(worker.run())
    await asyncio.to_thread(stuck.started.wait, 10)
    worker.stop()
    await asyncio.wait_for(running, 10)  # the grace, not the thread, decides when run() returns
    try:
        assert worker_module.ABANDONED.is_set()
    finally:
        stuck.release.set()
        worker_module.ABANDONED.clear()
        await bus.aclose()


def test_exit_process_does_not_wait_for_an_abandoned_thread() -> None:
    script = (
        "import threading, time\n"
        "from receiptcore.entrypoints.worker import ABANDONED, exit_process\n"
        "threading.Thread(target=time.sleep, args=(600,)).start()\n"  # non-daemon: the interpreter would join it
        "ABANDONED.set()\n"
        "exit_process(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], timeout=60, check=False, capture_output=True)
    assert done.returncode == 3, done.stderr


def test_the_worker_id_is_stable_across_a_sigkill_and_unique_while_running(tmp_path: Path) -> None:
    """A restarted worker gets its old id back (and so its dead leases); a second worker meanwhile gets another."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from receiptcore.entrypoints.worker import stable_worker_id\n"
        "print(stable_worker_id(Path(sys.argv[1])), flush=True)\n"
        "time.sleep(600)\n"
    )
    first = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert first.stdout is not None
    dead_id = first.stdout.readline().strip()
    second = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert second.stdout is not None
    other_id = second.stdout.readline().strip()
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    restarted = stable_worker_id(tmp_path)
    second.kill()
    second.wait(30)
    assert dead_id.endswith(":slot0")
    assert other_id.endswith(":slot1")  # never the id of a worker that is alive
    assert restarted == dead_id  # the restarted worker is the dead one again


async def test_a_restarted_worker_finishes_its_dead_lease_at_once(tmp_path: Path) -> None:
    store, bus = MemoryReceiptStore(), InProcessEventBus()
    receipt, content = make_receipt()
    await store.add(receipt, content)
    worker_id = "host:tag:slot0"
    # the previous life claimed it with its first loop's id, then died (SIGKILL): the lease runs for 5 minutes
    now = SystemClock().now()
    assert await store.claim_pending(f"{worker_id}-0", now, now + dt.timedelta(minutes=5)) is not None
    service = ExtractionService(store, MemoryExtractor(), bus, SystemClock(), WorkerConfig(lease_seconds=300))
    stats = await ExtractionWorker(service, bus, worker_id=worker_id).drain()
    assert stats.processed == 1
    assert (await store.get(receipt.id, Scope.everyone())).status != ReceiptStatus.PROCESSING
    await bus.aclose()
