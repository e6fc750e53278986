"""The SQLite read path of a receipt listing, in-process: CPU ms per page, the SQL alone, and its query plan.

Not part of ``make bench`` and not a test (nothing asserts on numbers). The HTTP benchmark measures whole
requests under load; this one takes the HTTP layer and the load generator away and times
``SqliteReceiptStore.list`` on a seeded embedded data dir, for the four filtered listings and the six search
words the HTTP benchmark sends (``_product.LIST_FILTERS`` / ``SEARCH_TERMS``), as the member who owns 40% of the
receipts. CPU time (``time.process_time``, every thread of the process) is the figure to read: it barely moves
when other work shares the machine, unlike wall-clock time.

    .venv/bin/python bench/listing_bench.py seed 100000 /tmp/d100k         # a data dir via _seed.seed_store
    .venv/bin/python bench/listing_bench.py amplify /tmp/d100k /tmp/d1m 10  # 10 copies of its receipts: 1M
    .venv/bin/python bench/listing_bench.py measure /tmp/d100k              # the table (migrates the dir first)
    .venv/bin/python bench/listing_bench.py measure /tmp/d100k --plans      # and every EXPLAIN QUERY PLAN

``amplify`` copies a seeded store's receipts N-1 more times in SQL (new ids and sha256 per copy, created_at
shifted by the span of one copy, so the created_at pattern is the one a direct seed of N times as many receipts
would have; dates, totals, statuses, tags and search text repeat): seeding 1,000,000 receipts through
``seed_store`` takes far longer, and every row still goes through the same table, triggers and indexes.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import shutil
import sqlite3
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from _product import LIST_FILTERS, SEARCH_TERMS  # noqa: E402
from receiptcore.adapters.sqlite import receipt_sql as sql  # noqa: E402
from receiptcore.adapters.sqlite.database import SqliteDatabase  # noqa: E402
from receiptcore.adapters.sqlite.receipt_store import SqliteReceiptStore  # noqa: E402
from receiptcore.domain.policy import Scope  # noqa: E402
from receiptcore.domain.queries import ReceiptQuery  # noqa: E402
from receiptcore.entrypoints.http.representation import API_LISTING  # noqa: E402

DB_FILE = "receiptcore.sqlite3"
SEED_SPACING = dt.timedelta(minutes=150)  # _seed.make_receipt: receipt i is created ~150 * i minutes in


def seed(count: int, data_dir: Path) -> None:
    """A fresh data dir of ``count`` receipts, exactly as the HTTP benchmark seeds it."""
    from _seed import seed_store

    seeded = seed_store(data_dir, count)
    print(f"seeded {seeded.receipts} receipts into {data_dir} in {seeded.seconds:.0f} s")


def amplify(source: Path, target: Path, copies: int) -> None:
    """``target`` = ``source`` with its receipts ``copies`` times in all (see the module docstring)."""
    if target.exists():
        raise SystemExit(f"{target} exists; amplify writes a new data dir")
    shutil.copytree(source, target)
    conn = sqlite3.connect(target / DB_FILE, isolation_level=None)
    conn.create_function("bench_id", 2, lambda rid, k: str(uuid.UUID(bytes=_digest(rid, k)[:16])), deterministic=True)
    conn.create_function("bench_sha", 2, lambda sha, k: _digest(sha, k).hex(), deterministic=True)
    conn.create_function("bench_shift", 3, _shift, deterministic=True)
    (base,) = conn.execute("SELECT count(*) FROM receipts").fetchone()
    (last_rowid,) = conn.execute("SELECT max(rowid) FROM receipts").fetchone()
    columns = ", ".join(sql.COLUMNS)
    for k in range(1, copies):
        started = time.monotonic()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            f"INSERT INTO receipts ({columns}) SELECT bench_id(id, :k), owner_id, bench_sha(sha256, :k), status,"  # noqa: S608
            " version, bench_shift(created_at, :k, :n), purchase_date, total_units, currency, category, merchant_key,"
            " merchant_name, tags, search, next_attempt_at, lease_until,"
            " json_set(data, '$.id', bench_id(id, :k), '$.source.sha256', bench_sha(sha256, :k),"
            " '$.created_at', bench_shift(created_at, :k, :n)),"
            # no rendered list item: it holds the copied receipt's id (list pages render such rows when read)
            " NULL, NULL"
            " FROM receipts WHERE rowid <= :last",
            {"k": k, "n": base, "last": last_rowid},
        )
        conn.execute("COMMIT")
        print(f"copy {k}: {base * (k + 1):,} receipts ({time.monotonic() - started:.0f} s)", flush=True)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # no ANALYZE: the product never runs it, plans must match
    conn.close()


def _digest(text: str, k: int) -> bytes:
    return hashlib.sha256(f"{text}/{k}".encode()).digest()


def _shift(created_at: str, k: int, per_copy: int) -> str:
    moved = dt.datetime.fromisoformat(created_at) + SEED_SPACING * per_copy * k
    return moved.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def measure(data_dir: Path, rounds: int, plans: bool) -> None:
    db = SqliteDatabase(data_dir / DB_FILE)
    store = SqliteReceiptStore(db, data_dir / "files")
    started = time.monotonic()
    await db.migrate()
    print(f"migrations: {await db.applied_migrations()} ({time.monotonic() - started:.1f} s to apply pending ones)")
    row = await db.fetchone("SELECT owner_id, count(*) FROM receipts GROUP BY owner_id ORDER BY 2 DESC LIMIT 1")
    total = await db.fetchone("SELECT count(*) FROM receipts")
    if row is None or total is None:
        raise SystemExit("the data dir holds no receipts")
    scope = Scope.only(row[0])
    print(f"{total[0]:,} receipts, the member owns {row[1]:,}; {rounds} rounds per query")
    queries: list[tuple[str, dict[str, Any]]] = [(_label(f), f) for f in LIST_FILTERS]
    queries += [(f"q={term}", {"q": term}) for term in SEARCH_TERMS]
    print(
        "| query | rows | CPU ms/page (store.list) | p50 wall ms | CPU ms/page (list_rendered) | SQL alone CPU ms"
        " | page 2 CPU ms |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, filters in queries:
        query = ReceiptQuery(**filters, limit=50)
        page = await store.list(query, scope)  # warm the page cache
        cpu, wall = await _time(lambda q=query: store.list(q, scope), rounds)
        rendered, _ = await _time(lambda q=query: store.list_rendered(q, scope, API_LISTING), rounds)
        statement, params = sql.list_statement(query, scope, None)
        sql_cpu, _ = await _time(lambda s=statement, p=params: db.fetchall(s, p), rounds)
        second = "-"
        if page.next_cursor:
            next_query = query.model_copy(update={"cursor": page.next_cursor})
            second_cpu, _ = await _time(lambda q=next_query: store.list(q, scope), rounds)
            second = f"{second_cpu:.2f}"
        print(f"| {label} | {len(page.items)} | {cpu:.2f} | {wall:.2f} | {rendered:.2f} | {sql_cpu:.2f} | {second} |")
        if plans:
            lines = await db.fetchall(f"EXPLAIN QUERY PLAN {statement}", params)
            for line in lines:
                print(f"|   plan: `{line[3]}` |")
    await db.aclose()


async def _time(call: Any, rounds: int) -> tuple[float, float]:
    """(mean CPU ms, median wall ms) of ``rounds`` awaited calls."""
    walls = []
    cpu_start = time.process_time()
    for _ in range(rounds):
        wall_start = time.perf_counter()
        await call()
        walls.append((time.perf_counter() - wall_start) * 1000)
    return (time.process_time() - cpu_start) * 1000 / rounds, statistics.median(walls)


def _label(filters: dict[str, str]) -> str:
    return " ".join(f"{key}={value}" for key, value in filters.items())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    seeding = commands.add_parser("seed", help="seed a new data dir through _seed.seed_store")
    seeding.add_argument("count", type=int)
    seeding.add_argument("data_dir", type=Path)
    growing = commands.add_parser("amplify", help="copy a seeded data dir with its receipts N times over")
    growing.add_argument("source", type=Path)
    growing.add_argument("target", type=Path)
    growing.add_argument("copies", type=int)
    measuring = commands.add_parser("measure", help="CPU ms per listing page on a data dir (migrates it first)")
    measuring.add_argument("data_dir", type=Path)
    measuring.add_argument("--rounds", type=int, default=20)
    measuring.add_argument("--plans", action="store_true", help="print each query's EXPLAIN QUERY PLAN")
    args = parser.parse_args(argv)
    if args.command == "seed":
        seed(args.count, args.data_dir)
    elif args.command == "amplify":
        amplify(args.source, args.target, args.copies)
    else:
        asyncio.run(measure(args.data_dir, args.rounds, args.plans))


if __name__ == "__main__":
    main()
