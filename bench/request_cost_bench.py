"""CPU per request through the product's ASGI app, in process: no sockets, no HTTP server, no load generator.

A fixed number of requests is driven straight into ``create_app(container)`` (the embedded profile: SQLite and
files under a temporary data dir seeded by ``bench/_seed.py``) and, for comparison, into the bare Litestar app of
``bench/_baseline_app.py``. Each request is a plain ASGI call with a hand-made scope; the figure is this
process's CPU time (``time.process_time``, all threads: SQLite runs in a thread) divided by the requests, so it
holds on a busy machine where wall-clock requests per second do not. The access log is on at INFO, as shipped,
written in JSON to /dev/null. Nothing asserts on the numbers (bench/README.md).

    PYTHONPATH=src .venv/bin/python bench/request_cost_bench.py --requests 5000
    PYTHONPATH=src .venv/bin/python bench/request_cost_bench.py --only me --profile /tmp/me.prof

Rows: the bare endpoint, ``GET /auth/me``, ``GET /api/receipts/{id}`` (the member's ids in turn), the filtered
listing and the text search pages of ``http_bench.py`` (``_product.LIST_FILTERS`` / ``SEARCH_TERMS``, 50 per
page, in turn; ``--data-dir`` runs them on a kept 100,000-receipt store), a 429 refusal
of a login past the admission bound (the bound is forced to zero; no password is checked), and a whole
``POST /auth/login`` (real Argon2id at the production parameters; fewer requests, its cost is mostly hashing),
for which the SQLite write transactions per request (``BEGIN IMMEDIATE``, warm-up included) are counted too.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import logging
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._baseline_app import create_baseline_app
from bench._seed import SEEDED_FILE, Seeded, seed_store

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _product imports its siblings as top-level modules
from _product import LIST_FILTERS, SEARCH_TERMS

ALL_ROWS = ("baseline", "me", "receipt", "list", "search", "routed", "shed", "login")


class _Driver:
    """Sends requests into an ASGI app and keeps what it answered."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def request(
        self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"", client: str = "127.0.0.1"
    ) -> int:
        path, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), *headers],
            "client": (client, 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status


async def _lifespan_start(app: Any) -> tuple[asyncio.Task[None], asyncio.Queue[Any], asyncio.Queue[Any]]:
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    outbox: asyncio.Queue[Any] = asyncio.Queue()
    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put)
    )
    await inbox.put({"type": "lifespan.startup"})
    started = await asyncio.wait_for(outbox.get(), 30)
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"startup failed: {started}")
    return task, inbox, outbox


async def _lifespan_stop(state: tuple[asyncio.Task[None], asyncio.Queue[Any], asyncio.Queue[Any]]) -> None:
    task, inbox, outbox = state
    await inbox.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(outbox.get(), 30)
    await task


async def _measure(
    label: str,
    make: Callable[[int], Any],
    requests: int,
    expect: int,
    profile: cProfile.Profile | None,
) -> dict[str, Any]:
    for n in range(min(200, requests)):  # warm-up: caches, the first token verification
        status = await make(n)
        if status != expect:
            raise RuntimeError(f"{label}: expected {expect}, got {status}")
    if profile is not None:
        profile.enable()
    cpu = time.process_time()
    wall = time.perf_counter()
    for n in range(requests):
        await make(n)
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    if profile is not None:
        profile.disable()
    return {"row": label, "requests": requests, "cpu_us": cpu / requests * 1e6, "wall_us": wall / requests * 1e6}


async def main(args: argparse.Namespace, data_dir: Path, seeded: Any, log: Any) -> list[dict[str, Any]]:  # noqa: PLR0915
    from receiptcore.entrypoints.container import build_container
    from receiptcore.entrypoints.http.app import create_app
    from receiptcore.entrypoints.logs import configure_logging
    from receiptcore.settings import Settings

    configure_logging("info", "json", log)  # the access log as shipped, in JSON
    rows: list[dict[str, Any]] = []
    profile = cProfile.Profile() if args.profile else None
    wanted = set(args.only.split(",")) if args.only else {*ALL_ROWS} - {"routed"}

    settings = Settings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    container = build_container(settings)
    app = create_app(container)
    driver = _Driver(app)
    state = await _lifespan_start(app)
    json_type = [(b"content-type", b"application/json")]
    body = json.dumps({"email": seeded.member_email, "password": seeded.password}).encode()
    status = await driver.request("POST", "/auth/login", json_type, body)
    if status != 200:
        raise RuntimeError(f"login failed: {status}")
    session = await container.auth_service().login(seeded.member_email, seeded.password)
    auth = [(b"authorization", f"Bearer {session.access_token}".encode())]
    ids = seeded.member_receipt_ids
    # the same routes through Litestar's routing alone (create_app(fast_paths=False), same container), alternating
    # with the served app in rounds so that a change of the machine's load hits both alike
    routed = _Driver(create_app(container, fast_paths=False)) if "routed" in wanted else None
    # the listing and search pages of the HTTP benchmark (bench/_product.py), in turn
    lists = [f"/api/receipts?{urlencode({**query, 'limit': '50'})}" for query in LIST_FILTERS]
    searches = [f"/api/receipts?{urlencode({'q': term, 'limit': '50'})}" for term in SEARCH_TERMS]
    routes = [
        ("GET /auth/me", lambda d: lambda _n: d.request("GET", "/auth/me", auth), "me"),
        (
            "GET /api/receipts/{id}",
            lambda d: lambda n: d.request("GET", f"/api/receipts/{ids[n % len(ids)]}", auth),
            "receipt",
        ),
        ("GET /api/receipts (filtered, 50/page)", lambda d: lambda n: d.request("GET", lists[n % 4], auth), "list"),
        (
            "GET /api/receipts?q= (text search)",
            lambda d: lambda n: d.request("GET", searches[n % len(searches)], auth),
            "search",
        ),
    ]
    for label, make, key in routes:
        if key not in wanted:
            continue
        if routed is None:
            rows.append(await _measure(label, make(driver), args.requests, 200, profile))
            continue
        served_rows, routed_rows = [], []
        for _ in range(args.rounds):
            served_rows.append(await _measure(label, make(driver), args.requests, 200, profile))
            routed_rows.append(await _measure(label + " (routed)", make(routed), args.requests, 200, None))
        rows += [_median(label, served_rows), _median(label + " (routed)", routed_rows)]
    if "shed" in wanted:
        addresses = (f"10.{n // 62500 % 250}.{n // 250 % 250}.{n % 250}" for n in itertools.count())
        admission = container.login_admission()
        limit, admission.limit = admission.limit, 0
        admission.in_progress = 0
        rows.append(
            await _measure(
                "POST /auth/login refused 429 (overloaded)",
                # a new address each time: a repeat offender's refusal waits 25 ms (a timer, no CPU)
                lambda _n: driver.request("POST", "/auth/login", json_type, body, next(addresses)),
                args.requests,
                429,
                profile,
            )
        )
        admission.limit = limit
    if "login" in wanted:
        logins = max(20, args.requests // 100)
        with _CountedTransactions() as counted:
            row = await _measure(
                "POST /auth/login (Argon2id)",
                lambda _n: driver.request("POST", "/auth/login", json_type, body),
                logins,
                200,
                profile,
            )
        # warm-up and measured logins alike
        row["tx"] = counted.count / (logins + min(200, logins))
        rows.append(row)
    await _lifespan_stop(state)
    # last: the bare app's default logging config would otherwise change the product's logging
    if "baseline" in wanted:
        base = _Driver(create_baseline_app())
        state = await _lifespan_start(base.app)
        rows.append(
            await _measure("baseline GET", lambda _n: base.request("GET", "/baseline", []), args.requests, 200, profile)
        )
        await _lifespan_stop(state)

    if profile is not None:
        profile.dump_stats(args.profile)
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats(40)
    return rows


class _CountedTransactions:
    """Counts the SQLite write transactions (``SqliteDatabase.transaction`` and ``.write``: every BEGIN
    IMMEDIATE) opened while it is entered."""

    def __init__(self) -> None:
        self.count = 0
        self._original: Any = None

    def __enter__(self) -> _CountedTransactions:
        from receiptcore.adapters.sqlite.database import SqliteDatabase

        self._original = original = SqliteDatabase.transaction
        self._original_write = original_write = getattr(SqliteDatabase, "write", None)  # before 2026-12-07: none

        def transaction(db: Any) -> Any:
            self.count += 1
            return original(db)

        def write(db: Any, work: Any) -> Any:  # the same transaction in one hop
            self.count += 1
            return original_write(db, work)

        SqliteDatabase.transaction = transaction  # type: ignore[method-assign]
        if original_write is not None:
            SqliteDatabase.write = write  # type: ignore[method-assign]
        return self

    def __exit__(self, *_exc: object) -> None:
        from receiptcore.adapters.sqlite.database import SqliteDatabase

        SqliteDatabase.transaction = self._original  # type: ignore[method-assign]
        if self._original_write is not None:
            SqliteDatabase.write = self._original_write  # type: ignore[method-assign]


def _median(label: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    cpu = sorted(sample["cpu_us"] for sample in samples)
    wall = sorted(sample["wall_us"] for sample in samples)
    return {
        "row": label,
        "requests": samples[0]["requests"],
        "cpu_us": cpu[len(cpu) // 2],
        "wall_us": wall[len(wall) // 2],
    }


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5000, help="requests per row (login: a hundredth)")
    parser.add_argument("--receipts", type=int, default=500, help="receipts seeded (40%% the member's)")
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated rows: {','.join(ALL_ROWS)} (routed: me, receipt, list and search also through"
        " Litestar's routing alone; not run unless named)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="a seeded data dir to copy instead of seeding --receipts afresh: one kept by http_bench.py"
        " --data-cache (it holds bench-seeded.json), e.g. the 100,000-receipt store",
    )
    parser.add_argument("--rounds", type=int, default=3, help="with routed: rounds of each, the median is reported")
    parser.add_argument("--profile", default="", help="write a cProfile of the measured requests here")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _parse()
    logging.getLogger("bench").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        seeded_dir = Path(tmp) / "data"
        if arguments.data_dir:
            seeded_store = Seeded(**json.loads((arguments.data_dir / SEEDED_FILE).read_text()))
            shutil.copytree(arguments.data_dir, seeded_dir)
        else:
            seeded_store = seed_store(seeded_dir, arguments.receipts)
        with open(os.devnull, "w", encoding="utf-8") as devnull:
            results = asyncio.run(main(arguments, seeded_dir, seeded_store, devnull))
    print(f"{'row':<44} {'requests':>8} {'CPU us/req':>11} {'wall us/req':>12} {'write tx/req':>12}")
    for row in results:
        tx = f"{row['tx']:.2f}" if "tx" in row else "-"
        print(f"{row['row']:<44} {row['requests']:>8} {row['cpu_us']:>11.0f} {row['wall_us']:>12.0f} {tx:>12}")
