"""The sweep of what a crash left in the SQLite receipt store's file tree: once per store, on first use.

Files are written before the transaction that inserts their row (``receipt_store``), so a crash can leave a
``.tmp`` file or a file whose sha256 no committed receipt has. Either is an orphan, or the file of an upload still
on its way to its transaction: removing that one is safe too, as the upload checks its file again under the write
lock and writes it anew when it is gone. The sweep holds the write lock while it compares the tree with the rows.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from receiptcore.adapters.sqlite import receipt_files as files
from receiptcore.adapters.sqlite.database import SqliteDatabase

log = logging.getLogger(__name__)


class OrphanSweep:
    """The sweep of one store's file tree ``files_dir``: run once per start (again after a failed run)."""

    def __init__(self, db: SqliteDatabase, files_dir: Path) -> None:
        self._db = db
        self._files_dir = files_dir
        self._swept = False
        self._task: asyncio.Task[int] | None = None

    async def run(self) -> int:
        """Delete the tree's temporary files and the files no receipt references; return how many."""
        await self._db.migrate()
        async with self._db.transaction() as conn:
            cursor = await conn.execute("SELECT DISTINCT sha256 FROM receipts")
            referenced = {row[0] for row in await cursor.fetchall()}
            removed = await asyncio.to_thread(files.remove_temp_files, self._files_dir)
            removed += await asyncio.to_thread(files.remove_unreferenced, self._files_dir, referenced)
        self._swept = True
        return removed

    def start(self) -> asyncio.Task[int] | None:
        """The sweep of this start, begun on first use (again after a failed one); None once it has run."""
        if self._swept:
            return None
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.get_loop() is not loop or (self._task.done() and not self._swept):
            self._task = loop.create_task(self.run())
            self._task.add_done_callback(_report_failed_sweep)
        return self._task

    async def once(self) -> None:
        """Wait for this start's sweep (beginning it if need be)."""
        sweep = self.start()
        if sweep is not None:
            # shielded: a cancelled request must not cancel the sweep that other callers wait for
            await asyncio.shield(sweep)


def _report_failed_sweep(task: asyncio.Task[int]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("the sweep of leftover files failed (retried on next use): %s", task.exception())
