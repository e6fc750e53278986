"""``freeze_startup_heap``: what start-up built leaves the collections, garbage from before it does not stay."""

from __future__ import annotations

import gc
import weakref

from receiptcore.entrypoints.heap import freeze_startup_heap


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_the_startup_heap_is_frozen_after_a_collection_of_its_garbage() -> None:
    cycle = _Node()
    cycle.other = _Node()
    cycle.other.other = cycle
    gone = weakref.ref(cycle)
    kept = _Node()
    del cycle
    try:
        frozen = freeze_startup_heap()
        assert frozen == gc.get_freeze_count() > 0
        assert gone() is None  # the cycle was collected before the freeze, not frozen with the rest
        # what was alive is out of the generations a collection walks (get_objects lists those), yet alive
        assert not any(obj is kept for obj in gc.get_objects())
        gc.collect()
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
