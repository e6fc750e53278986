"""RapidOcrEngine.warm_up: engines built ahead serve whichever threads read later (one each), none is built twice,
and a thread past the warmed count builds its own. The model itself is replaced by a counted stand-in."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from PIL import Image

from receiptcore.adapters.extractors.ocr.engine import RapidOcrEngine


class _Model:
    """Stands in for a RapidOCR instance: records the images it was called with, finds no text."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []
        self.threads: set[int] = set()

    def __call__(self, image: Image.Image) -> Any:
        self.calls.append(image.size)
        self.threads.add(threading.get_ident())
        return type("Result", (), {"boxes": None, "txts": None, "scores": None})()


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[_Model]:
    models: list[_Model] = []

    def build(self: RapidOcrEngine) -> _Model:
        models.append(_Model())
        return models[-1]

    monkeypatch.setattr(RapidOcrEngine, "_build", build)
    return models


def _read_in_threads(engine: RapidOcrEngine, n: int) -> None:
    barrier = threading.Barrier(n)

    def read() -> None:
        barrier.wait(5)  # all alive at once: each is a distinct thread with its own engine
        engine.read(Image.new("L", (50, 50), 255))

    threads = [threading.Thread(target=read) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)


def test_warmed_engines_serve_later_threads_without_another_load(built: list[_Model]) -> None:
    engine = RapidOcrEngine()
    engine.warm_up(2)
    assert len(built) == 2
    assert all(len(model.calls) == 1 for model in built), "each warmed engine ran once (the first-run cost)"
    engine.warm_up(2)  # idempotent
    assert len(built) == 2
    _read_in_threads(engine, 2)
    assert len(built) == 2
    assert all(len(model.threads) == 2 for model in built), "each spare went to one reading thread"
    _read_in_threads(engine, 1)  # a third thread: no spare left, so it loads its own
    assert len(built) == 3


def test_without_a_warm_up_the_first_read_loads_the_engine(built: list[_Model]) -> None:
    engine = RapidOcrEngine()
    assert built == []
    engine.read(Image.new("L", (50, 50), 255))
    assert len(built) == 1
    assert built[0].calls == [(50, 50)]
