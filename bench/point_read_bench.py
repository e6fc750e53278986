"""What one SQLite point read costs on the event loop's thread, against the same read through a reader thread.

``SqliteDatabase.fetchone_point`` (a primary-key or unique-index read on the calling thread, no executor hop)
against ``SqliteDatabase.fetchone`` (the same statement on a reader connection's thread), on a WAL database
file: ``SELECT 1``, a user by id, a 4 KB row by primary key, and the ``auth_changes`` counter. The figure is CPU
µs per read (``time.process_time``: every thread of the process, the reader thread included), median of five
rounds; nothing asserts on the numbers (bench/README.md).

    PYTHONPATH=src .venv/bin/python bench/point_read_bench.py --reads 5000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.user_repo import SqliteUserRepo
from receiptcore.adapters.sqlite.user_sql import READ_AUTH_CHANGES, USER_COLUMNS

BLOB_DDL = "CREATE TABLE blobs (id TEXT PRIMARY KEY, data TEXT NOT NULL);"


async def _cpu_us(read: Callable[[], Awaitable[object]], reads: int, rounds: int = 5) -> float:
    samples = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(reads // rounds):
            await read()
        samples.append((time.process_time() - started) / (reads // rounds) * 1e6)
    return statistics.median(samples)


async def main(reads: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = SqliteDatabase(Path(tmp) / "receiptcore.sqlite3")
        repo = SqliteUserRepo(db)
        db.register_migration("blobs_v1", BLOB_DDL)
        await db.migrate()
        await db.execute(
            f"INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, '', 'x', '[\"member\"]', 0, 1, ?, ?, NULL, NULL)",  # noqa: S608
            ("u1", "ada@example.com", "2026-01-01T00:00:00.000000+00:00", "2026-01-01T00:00:00.000000+00:00"),
        )
        await db.execute("INSERT INTO blobs (id, data) VALUES ('b1', ?)", ("x" * 4000,))
        user = f"SELECT {USER_COLUMNS} FROM users WHERE id = ?"  # noqa: S608
        rows = [
            ("SELECT 1", "SELECT 1", ()),
            ("a user by id", user, ("u1",)),
            ("a 4 KB row by primary key", "SELECT data FROM blobs WHERE id = ?", ("b1",)),
            ("the auth_changes counter", READ_AUTH_CHANGES, ()),
        ]
        print(f"{'read (CPU µs per read)':<30} {'reader thread':>14} {'on the loop':>12}")
        for label, sql, params in rows:
            await db.fetchone(sql, params)
            await db.fetchone_point(sql, params)
            hop = await _cpu_us(lambda sql=sql, params=params: db.fetchone(sql, params), reads)
            point = await _cpu_us(lambda sql=sql, params=params: db.fetchone_point(sql, params), reads)
            print(f"{label:<30} {hop:>14.1f} {point:>12.1f}")
        repo_user = await _cpu_us(lambda: repo.get_user("u1"), reads)
        print(f"{'SqliteUserRepo.get_user':<30} {'':>14} {repo_user:>12.1f}")
        await db.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reads", type=int, default=5000, help="reads per row and kind")
    asyncio.run(main(parser.parse_args().reads))
