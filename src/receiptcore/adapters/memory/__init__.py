"""Memory adapters: production code for one process and the doubles of unit tests (same contract suites)."""

from receiptcore.adapters.memory.event_bus import InProcessEventBus
from receiptcore.adapters.memory.extractor import MemoryExtractor
from receiptcore.adapters.memory.receipt_store import MemoryReceiptStore
from receiptcore.adapters.memory.throttle_store import MemoryThrottleStore
from receiptcore.adapters.memory.user_repo import MemoryUserRepo

__all__ = ["InProcessEventBus", "MemoryExtractor", "MemoryReceiptStore", "MemoryThrottleStore", "MemoryUserRepo"]
