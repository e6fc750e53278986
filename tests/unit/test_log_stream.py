"""The access lines of one event-loop turn: written together at the turn's end, whole, in order, never lost."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
from collections.abc import Callable, Iterator

import pytest
import uvloop

from receiptcore.entrypoints import logs
from receiptcore.entrypoints.log_stream import AT_ONCE_AFTER_A_LONE_LINE, PENDING_CHARS, TurnBufferedHandler

_ACCESS = "%s %s %s %s ms"
_LOOPS = [pytest.param(asyncio.new_event_loop, id="asyncio"), pytest.param(uvloop.new_event_loop, id="uvloop")]


class _Stream(io.StringIO):
    """A stream that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def sole_handler() -> Iterator[Callable[[], _Stream]]:
    """Leave the receiptcore handler alone on the root logger (as ``serve`` runs), writing JSON lines to a stream;
    called in the test's body, after pytest's own capture handlers joined the root logger."""
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level

    def install() -> _Stream:
        target = _Stream()
        root.handlers = []
        logs.configure_logging("info", "json", target)
        return target

    yield install
    root.handlers = saved
    root.setLevel(level)


def _access(n: int, source: str = "loop") -> None:
    fields = {"method": "GET", "path": f"/{source}/{n}", "route": "/x", "status": 200, "duration_ms": 0.1}
    assert logs.log_direct(
        logging.getLogger("receiptcore.http"), logging.INFO, _ACCESS, ("GET", "/x", 200, 0.1), fields
    )


def _paths(stream: io.StringIO) -> list[str]:
    return [json.loads(line)["path"] for line in stream.getvalue().splitlines()]


def _run(factory: Callable[[], asyncio.AbstractEventLoop], coro: object) -> None:
    loop = factory()
    try:
        loop.run_until_complete(coro)  # type: ignore[arg-type]
    finally:
        loop.close()


def test_the_receiptcore_handler_is_the_turn_buffered_one(sole_handler: Callable[[], _Stream]) -> None:
    sole_handler()
    assert [type(h) for h in logging.getLogger().handlers] == [TurnBufferedHandler]


@pytest.mark.parametrize("factory", _LOOPS)
def test_the_lines_of_one_turn_are_written_whole_in_order_in_one_write_by_its_end(
    sole_handler: Callable[[], _Stream], factory: Callable[[], asyncio.AbstractEventLoop]
) -> None:
    stream = sole_handler()

    async def turn() -> None:
        for n in range(50):
            _access(n)
        assert stream.getvalue() == ""  # waiting for the end of the turn
        await asyncio.sleep(0)  # the turn ends; the flush scheduled by its first line runs
        assert _paths(stream) == [f"/loop/{n}" for n in range(50)]
        assert stream.writes == 1
        _access(50)  # the next turn schedules its own flush
        await asyncio.sleep(0)
        assert _paths(stream)[-1] == "/loop/50"

    _run(factory, turn())


def test_outside_a_loop_a_line_is_written_at_once(sole_handler: Callable[[], _Stream]) -> None:
    stream = sole_handler()
    _access(1, "plain")
    assert _paths(stream) == ["/plain/1"]


@pytest.mark.parametrize("factory", _LOOPS)
def test_a_record_through_the_handler_chain_comes_after_the_waiting_lines_at_once(
    sole_handler: Callable[[], _Stream], factory: Callable[[], asyncio.AbstractEventLoop]
) -> None:
    stream = sole_handler()

    async def turn() -> None:
        _access(1)
        _access(2)
        logging.getLogger("receiptcore.serve").error("crashing", extra={"path": "/error"})
        assert _paths(stream) == ["/loop/1", "/loop/2", "/error"]  # before the turn ends: an error path flushes

    _run(factory, turn())


def test_a_line_of_another_thread_writes_the_waiting_lines_first(sole_handler: Callable[[], _Stream]) -> None:
    stream = sole_handler()

    async def turn() -> None:
        _access(1)
        thread = threading.Thread(target=_access, args=(1, "thread"))
        thread.start()
        thread.join()
        assert _paths(stream) == ["/loop/1", "/thread/1"]

    _run(asyncio.new_event_loop, turn())


def test_lines_of_threads_and_of_the_loop_interleave_whole_and_each_in_order(
    sole_handler: Callable[[], _Stream],
) -> None:
    stream = sole_handler()
    per_source = 400

    def thread_lines(name: str) -> None:
        for n in range(per_source):
            if n % 2:
                _access(n, name)
            else:  # the stdlib handler chain, on the same stream
                logging.getLogger("receiptcore.test").warning("x", extra={"path": f"/{name}/{n}"})

    async def loop_lines() -> None:
        for n in range(per_source):
            _access(n)
            if n % 7 == 0:
                await asyncio.sleep(0)

    threads = [threading.Thread(target=thread_lines, args=(f"t{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    _run(asyncio.new_event_loop, loop_lines())
    for thread in threads:
        thread.join()
    paths = _paths(stream)  # every line parses: none torn
    for source in ("loop", "t0", "t1", "t2"):
        assert [p for p in paths if p.startswith(f"/{source}/")] == [f"/{source}/{n}" for n in range(per_source)]


def test_lines_past_the_bound_are_written_without_waiting_for_the_turn(sole_handler: Callable[[], _Stream]) -> None:
    stream = sole_handler()

    async def turn() -> None:
        n = 0
        while stream.getvalue() == "":
            _access(n)
            n += 1
            assert n * 150 < 2 * PENDING_CHARS, "the bound never wrote"
        assert _paths(stream) == [f"/loop/{i}" for i in range(n)]
        await asyncio.sleep(0)

    _run(asyncio.new_event_loop, turn())


def test_flush_logs_writes_the_waiting_lines_and_a_closed_loop_leaves_none_behind(
    sole_handler: Callable[[], _Stream],
) -> None:
    stream = sole_handler()
    loop = asyncio.new_event_loop()

    async def turn_then_flush() -> None:
        _access(1)
        logs.flush_logs()  # what serve does when its loop is done
        assert _paths(stream) == ["/loop/1"]

    async def line_and_stop() -> None:
        _access(2)  # its flush is scheduled, and never runs: the loop stops and closes first
        loop.stop()

    loop.run_until_complete(turn_then_flush())
    stopping = loop.create_task(line_and_stop())
    loop.run_forever()
    assert stopping.done()
    loop.close()
    _access(3, "after")  # no loop: written at once, after the line the closed loop left
    assert _paths(stream) == ["/loop/1", "/loop/2", "/after/3"]

    async def next_loop() -> None:  # a new loop schedules its own flush again
        _access(4)
        assert stream.getvalue().count("\n") == 3
        await asyncio.sleep(0)
        assert _paths(stream)[-1] == "/loop/4"

    _run(asyncio.new_event_loop, next_loop())


def test_logging_shutdown_writes_the_waiting_lines(sole_handler: Callable[[], _Stream]) -> None:
    stream = sole_handler()

    async def turn() -> None:
        _access(1)
        handler = logging.getLogger().handlers[0]
        handler.flush()  # what logging.shutdown calls at exit, before worker.exit_process's os._exit too
        assert _paths(stream) == ["/loop/1"]

    _run(asyncio.new_event_loop, turn())


@pytest.mark.parametrize(
    "names", [["status"], ["_hidden", "status"], ["Upper", "_x"], ["Upper"], ["9", "_"], ["`tick", "~"], []]
)
def test_a_direct_line_drops_the_underscore_fields_a_record_would(
    sole_handler: Callable[[], _Stream], names: list[str]
) -> None:
    stream = sole_handler()
    logger = logging.getLogger("receiptcore.http")
    fields = dict.fromkeys(names, "v")
    logger.info("line", extra=fields)
    through_record = stream.getvalue()
    assert logs.log_direct(logger, logging.INFO, "line", (), fields)
    direct = stream.getvalue()[len(through_record) :]
    assert json.loads(direct) == {**json.loads(through_record), "time": json.loads(direct)["time"]}
    assert not any(key.startswith("_") for key in json.loads(direct))


def test_after_a_turn_of_one_line_the_next_lines_are_written_at_once_then_a_turn_waits_again(
    sole_handler: Callable[[], _Stream],
) -> None:
    stream = sole_handler()

    async def quiet_then_busy() -> None:
        _access(0)
        assert stream.getvalue() == ""  # a fresh handler waits for the end of the turn
        await asyncio.sleep(0)  # that turn held one line
        for n in range(1, AT_ONCE_AFTER_A_LONE_LINE + 1):
            _access(n)
            assert _paths(stream)[-1] == f"/loop/{n}"  # a quiet loop: at once
            await asyncio.sleep(0)
        _access(AT_ONCE_AFTER_A_LONE_LINE + 1)
        _access(AT_ONCE_AFTER_A_LONE_LINE + 2)
        assert len(_paths(stream)) == AT_ONCE_AFTER_A_LONE_LINE + 1  # waiting again
        await asyncio.sleep(0)
        assert _paths(stream) == [f"/loop/{n}" for n in range(AT_ONCE_AFTER_A_LONE_LINE + 3)]

    _run(uvloop.new_event_loop, quiet_then_busy())
