"""The receiptcore log handler's stream writes: the access lines of one event-loop turn in one write.

Every request's access line used to be written and flushed on its own: a ``write`` system call per request on
the event loop (to a pipe under ``receiptcore serve | tee`` or a container's log collector). ``TurnBufferedHandler``
keeps the lines ``logs.log_direct`` hands it on an event loop's thread in a list, and the first line of a turn
schedules (``call_soon``) one flush for the end of that turn: lines reach the stream within the turn they were
written in (milliseconds at most), joined into one write. A quiet loop (a turn that held a single line) writes
its next ``AT_ONCE_AFTER_A_LONE_LINE`` lines at once instead: there a scheduled flush costs more than the write
it saves. Everything else flushes what waits first, then writes
its own text at once, so nothing is lost or reordered and every line is written whole:

- a record through the handler chain (``emit``: a warning, an error, an unhandled exception logged by asyncio,
  uvicorn or the app, any line logged by another thread);
- an access line from a thread with no running loop, or from another loop than the one a flush is scheduled on;
- more than ``PENDING_CHARS`` characters waiting;
- ``flush`` itself: ``logging.shutdown`` at exit (also before ``worker.exit_process``'s ``os._exit``),
  ``serve.run_serving`` when the loop is done (a clean stop or a crash), ``configure_logging`` replacing the
  handler, ``setStream``.

All of it under the handler's lock, the lock ``emit`` takes, so lines of several threads interleave whole. Only a
process killed outright (SIGKILL) between a line and the end of its turn loses it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

# characters of access lines kept waiting before they are written without waiting for the end of the turn
# (~200 lines; a turn serving that many requests writes them in one call anyway)
PENDING_CHARS = 64 * 1024
# after a turn that held a single line, the next lines on a loop are written at once, this many of them: a lone line
# saves no write by waiting, and the flush it schedules costs the loop more than the write (docs/benchmarks.md)
AT_ONCE_AFTER_A_LONE_LINE = 16


class TurnBufferedHandler(logging.StreamHandler):  # type: ignore[type-arg]  # StreamHandler[TextIO] at runtime
    """A ``StreamHandler`` whose ``write_line`` lines on an event loop's thread wait for the end of the turn."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._pending_chars = 0
        # the loop a flush is scheduled on (None: none is)
        self._scheduled_on: asyncio.AbstractEventLoop | None = None
        # lines still to write at once, the last turn having held only one (AT_ONCE_AFTER_A_LONE_LINE)
        self._at_once = 0

    def write_line(self, text: str) -> None:
        """Write ``text`` (whole lines, terminator included), at the end of this loop turn when called on an
        event loop's thread (unless the loop is quiet: ``AT_ONCE_AFTER_A_LONE_LINE``). The caller holds the
        handler's lock; errors of the stream are raised."""
        scheduled = self._scheduled_on
        if self._at_once and scheduled is None and not self._pending:  # a quiet loop's line: nothing waits
            self._at_once -= 1
            self.stream.write(text)
            self.stream.flush()
            return
        loop = asyncio._get_running_loop()  # the C getter asyncio.get_running_loop wraps, without its raise
        if scheduled is not None and scheduled is not loop and scheduled.is_closed():
            self._scheduled_on = scheduled = None  # closed before its flush ran (what it held is written below)
        self._pending.append(text)
        self._pending_chars += len(text)
        if loop is None or self._pending_chars > PENDING_CHARS or (scheduled is not None and scheduled is not loop):
            self._write_pending()  # no turn to wait for, too much waiting, or another loop's turn to end
        elif scheduled is None:
            self._scheduled_on = loop
            loop.call_soon(self._end_of_turn)

    def emit(self, record: logging.LogRecord) -> None:
        """``StreamHandler.emit``, after the lines waiting: in order, flushed at once."""
        try:
            msg = self.format(record)
            with self.lock:  # type: ignore[union-attr]  # Handler.createLock made it
                self._pending.append(msg + self.terminator)
                self._write_pending()
        except RecursionError:  # as StreamHandler.emit
            raise
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """Write the lines waiting and flush the stream."""
        with self.lock:  # type: ignore[union-attr]
            if self.stream and hasattr(self.stream, "flush"):
                self._write_pending()

    def _write_pending(self) -> None:
        """Write what waits as one text and flush (the lock held). The lines are dropped if the stream fails, as
        a failed ``emit`` drops its line."""
        pending = self._pending
        if pending:
            text = pending[0] if len(pending) == 1 else "".join(pending)
            pending.clear()
            self._pending_chars = 0
            self.stream.write(text)
        self.stream.flush()

    def _end_of_turn(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._scheduled_on = None
            if len(self._pending) == 1:
                self._at_once = AT_ONCE_AFTER_A_LONE_LINE
            try:
                self._write_pending()
            except RecursionError:
                raise
            except Exception:
                self.handleError(logging.makeLogRecord({"msg": "the access lines of a loop turn"}))
