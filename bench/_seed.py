"""Seed a fresh embedded-profile data directory for the HTTP benchmark.

Everything goes through the product's own adapters and services, as a real install would hold it: users are
created by ``UserService`` (``create_admin``, then ``create_user``) with the production Argon2 parameters. The
first ``FILED_RECEIPTS`` receipts are written by ``SqliteReceiptStore.add`` with a small real PNG each (their
files are on disk); the rest (up to 100,000 or 1,000,000) go in through the same adapter's own row mapping
(``receipt_sql.row_values`` and ``INSERT_SQL``, the statement ``add`` runs), many rows per transaction and
without a file each: ``add`` fsyncs a file and its directory per receipt, which would make 100,000 receipts take
an hour of waiting, and no measured route reads a file. The search index triggers fire on these inserts as on
any other. The bulk rows are computed in two other processes while this one inserts them over one plain sqlite3
connection (5,000 rows per transaction, ``synchronous=OFF`` on that throwaway connection), and a seeded data dir
can be kept between runs (``seed_store(cache=...)``, the bench's ``--data-cache``). The receipts are a
deterministic mix (fixed random seed) of owners, merchants, dates, currencies, totals, categories, tags and
statuses; extracted ones carry line items, taxes, provenance and one extraction attempt, so a receipt weighs
what an extracted one weighs in practice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from PIL import Image

from receiptcore.domain.ids import new_id
from receiptcore.domain.policy import Principal
from receiptcore.domain.receipt import (
    ExtractedReceipt,
    ExtractionAttempt,
    FieldSource,
    LineItem,
    Merchant,
    Payment,
    PaymentMethod,
    Receipt,
    ReceiptStatus,
    ReceiptType,
    SourceFile,
    TaxLine,
)
from receiptcore.domain.users import ADMIN, MEMBER, PERMISSIONS

PASSWORD = "bench-password-not-secret-42"  # noqa: S105 - a throwaway account in a temporary data dir
ADMIN_EMAIL = "admin@bench.example"
MEMBER_EMAIL = "member@bench.example"
OTHER_OWNERS = 9
MEMBER_SHARE = 0.4
FILED_RECEIPTS = 2_000
BULK_BATCH = 5_000  # receipts per transaction of the bulk part
GENERATORS = 2  # processes computing bulk rows while this one inserts
SEED = 20241125
SEEDED_FILE = "bench-seeded.json"  # beside a cached data dir: the credentials and ids it was seeded with

MERCHANTS = [
    ("Tesco Extra", "Jalan Ampang, Kuala Lumpur", ReceiptType.GROCERY, "groceries"),
    ("AEON Big", "Mid Valley City, Kuala Lumpur", ReceiptType.GROCERY, "groceries"),
    ("Village Grocer", "Bangsar Village, Kuala Lumpur", ReceiptType.GROCERY, "groceries"),
    ("Lidl", "Hauptstrasse 12, Berlin", ReceiptType.GROCERY, "groceries"),
    ("Carrefour Market", "Rue de Rivoli 80, Paris", ReceiptType.GROCERY, "groceries"),
    ("Whole Foods Market", "399 4th St, San Francisco", ReceiptType.GROCERY, "groceries"),
    ("Starbucks", "KLCC, Kuala Lumpur", ReceiptType.RESTAURANT, "dining"),
    ("Old Town White Coffee", "SS2, Petaling Jaya", ReceiptType.RESTAURANT, "dining"),
    ("Nando's", "Sunway Pyramid, Subang Jaya", ReceiptType.RESTAURANT, "dining"),
    ("Café de Flore", "172 Bd Saint-Germain, Paris", ReceiptType.RESTAURANT, "dining"),
    ("Shell", "Jalan Tun Razak, Kuala Lumpur", ReceiptType.FUEL, "fuel"),
    ("Petronas", "Jalan Duta, Kuala Lumpur", ReceiptType.FUEL, "fuel"),
    ("Aral", "Frankfurter Allee 1, Berlin", ReceiptType.FUEL, "fuel"),
    ("IKEA", "Damansara, Petaling Jaya", ReceiptType.RETAIL, "home"),
    ("Popular Bookstore", "Jalan Sultan Ismail, Kuala Lumpur", ReceiptType.RETAIL, "books"),
    ("MR DIY", "Cheras, Kuala Lumpur", ReceiptType.RETAIL, "home"),
    ("Uniqlo", "Pavilion, Kuala Lumpur", ReceiptType.RETAIL, "clothing"),
    ("Guardian Pharmacy", "Bukit Bintang, Kuala Lumpur", ReceiptType.PHARMACY, "health"),
    ("dm-drogerie markt", "Kurfürstendamm 30, Berlin", ReceiptType.PHARMACY, "health"),
    ("Grab", "Kuala Lumpur", ReceiptType.TRANSPORT, "transport"),
    ("Deutsche Bahn", "Berlin Hbf", ReceiptType.TRANSPORT, "transport"),
    ("Hotel Maya", "Jalan Ampang, Kuala Lumpur", ReceiptType.LODGING, "travel"),
    ("Speedy Laundry", "Kepong, Kuala Lumpur", ReceiptType.SERVICE, "services"),
    ("Kedai Runcit Ah Seng", "Taman Connaught, Cheras", ReceiptType.GROCERY, "groceries"),
]
ITEMS = [
    "milk 1l",
    "bread wholemeal",
    "eggs 10pcs",
    "rice 5kg",
    "chicken breast",
    "coffee latte",
    "teh tarik",
    "nasi lemak",
    "diesel",
    "unleaded 95",
    "notebook a5",
    "ballpoint pen",
    "shampoo",
    "toothpaste",
    "apples",
    "bananas",
    "cheese",
    "butter",
    "water 1.5l",
    "screws m4",
    "extension cord",
    "t-shirt",
    "socks",
    "paracetamol",
]
TAGS = ["work", "family", "travel", "tax", "reimburse", "2024-trip", "office"]
CURRENCIES = [("MYR", Decimal(6), 60), ("EUR", Decimal(19), 25), ("USD", Decimal(0), 15)]
STATUSES = [
    (ReceiptStatus.EXTRACTED, 50),
    (ReceiptStatus.NEEDS_REVIEW, 18),
    (ReceiptStatus.CONFIRMED, 22),
    (ReceiptStatus.FAILED, 4),
    (ReceiptStatus.PENDING, 6),
]
# A store for the worker-on rows: the same mix without a queue, so the only backlog is what the bench uploads
# (a seeded pending receipt of the bulk part has no file for the worker to read).
QUIET_STATUSES = [(ReceiptStatus.EXTRACTED, 56), *STATUSES[1:4]]
FIRST_DAY = dt.date(2023, 1, 1)
DAYS = (dt.date(2025, 10, 31) - FIRST_DAY).days
CENT = Decimal("0.01")


@dataclass
class Seeded:
    """What the seeding produced: credentials and the ids the routes are driven with."""

    member_email: str
    admin_email: str
    password: str
    member_id: str
    member_receipt_ids: list[str] = field(default_factory=list)
    flood_emails: list[str] = field(default_factory=list)
    receipts: int = 0
    seconds: float = 0.0
    cached: bool = False


def tiny_png(index: int) -> bytes:
    """A real, unique 8x8 PNG for receipt ``index`` (unique bytes, so no two receipts deduplicate)."""
    colour = (index % 256, (index // 256) % 256, (index // 65536) % 256)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def make_receipt(
    rng: random.Random, index: int, owner_id: str, content: bytes, statuses: list[tuple[ReceiptStatus, int]] = STATUSES
) -> Receipt:
    """One generated receipt of ``owner_id`` with ``content`` as its file, its status drawn from ``statuses``."""
    created = dt.datetime(2023, 1, 2, tzinfo=dt.UTC) + dt.timedelta(minutes=150 * index + rng.randrange(120))
    source = SourceFile(
        filename=f"receipt-{index:05d}.png",
        media_type="image/png",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    status = rng.choices([s for s, _ in statuses], weights=[w for _, w in statuses])[0]
    fields: dict[str, Any] = {
        "id": new_id(),
        "owner_id": owner_id,
        "status": status,
        "created_at": created,
        "updated_at": created,
        "source": source,
    }
    if status not in (ReceiptStatus.PENDING, ReceiptStatus.FAILED):
        extracted = _extracted(rng)
        attempt = ExtractionAttempt(
            attempt=1,
            extractor="ocr",
            extractor_version="bench",
            started_at=created,
            finished_at=created + dt.timedelta(seconds=3),
            duration_ms=3000,
            output=extracted,
        )
        fields |= extracted.data().model_dump()
        fields |= {
            "category": MERCHANTS_BY_NAME[extracted.merchant.name or ""][3],
            "tags": rng.sample(TAGS, rng.randrange(3)),
            "provenance": extracted.provenance,
            "raw_text": extracted.raw_text,
            "extraction_attempts": [attempt],
            "updated_at": created + dt.timedelta(seconds=3),
        }
    return Receipt.model_validate(fields)


MERCHANTS_BY_NAME = {m[0]: m for m in MERCHANTS}


def _extracted(rng: random.Random) -> ExtractedReceipt:
    name, address, kind, _ = rng.choice(MERCHANTS)
    currency, tax_rate, _ = rng.choices(CURRENCIES, weights=[c[2] for c in CURRENCIES])[0]
    items = []
    for _ in range(rng.randint(1, 6)):
        quantity = Decimal(rng.randint(1, 3))
        unit_price = Decimal(rng.randint(50, 6000)) * CENT
        items.append(
            LineItem(
                description=rng.choice(ITEMS), quantity=quantity, unit_price=unit_price, amount=quantity * unit_price
            )
        )
    subtotal = sum((item.amount or Decimal(0) for item in items), Decimal(0))
    tax = (subtotal * tax_rate / 100).quantize(CENT)
    total = subtotal + tax
    taxes = [TaxLine(label=f"TAX {tax_rate}%", rate=tax_rate, base=subtotal, amount=tax)] if tax else []
    day = FIRST_DAY + dt.timedelta(days=rng.randrange(DAYS))
    lines = [name.upper(), address] + [f"{i.description} {i.quantity} x {i.unit_price} {i.amount}" for i in items]
    lines += [f"SUBTOTAL {subtotal}", f"TOTAL {currency} {total}", day.strftime("%d/%m/%Y")]
    return ExtractedReceipt(
        receipt_type=kind,
        merchant=Merchant(name=name, address=address),
        purchase_date=day,
        purchase_time=dt.time(rng.randrange(8, 22), rng.randrange(60)),
        receipt_number=f"R{rng.randrange(10**8):08d}",
        currency=currency,
        line_items=items,
        subtotal=subtotal,
        taxes=taxes,
        total=total,
        payments=[Payment(method=rng.choice(list(PaymentMethod)), amount=total)],
        provenance={
            "merchant.name": FieldSource(confidence=0.97, text=name.upper(), page=1, box=[10, 10, 200, 30]),
            "purchase_date": FieldSource(confidence=0.92, text=lines[-1], page=1, box=[10, 400, 120, 420]),
            "total": FieldSource(confidence=0.95, text=lines[-2], page=1, box=[10, 380, 200, 400]),
        },
        raw_text="\n".join(lines),
    )


def fake_source(index: int) -> bytes:
    """Unique bytes standing for receipt ``index``'s file in the bulk part (its sha256 and size are stored)."""
    return f"bench receipt file {index}".encode()


@dataclass(frozen=True)
class _Chunk:
    """One batch of the bulk part: receipts ``first`` .. ``first + size - 1``, generated from their own seed."""

    number: int
    first: int
    size: int
    member_id: str
    others: tuple[str, ...]
    quiet: bool


def _chunk_rows(chunk: _Chunk) -> list[list[Any]]:
    """The INSERT rows of one chunk (run in a generator process): the adapter's own row mapping."""
    from receiptcore.adapters.sqlite import receipt_sql
    from receiptcore.entrypoints.http.representation import API_LISTING  # what the container gives the store

    rng = random.Random(f"{SEED}:{chunk.number}")  # per chunk, so any number of processes seeds the same data
    statuses = QUIET_STATUSES if chunk.quiet else STATUSES
    rows = []
    for index in range(chunk.first, chunk.first + chunk.size):
        owner = chunk.member_id if rng.random() < MEMBER_SHARE else rng.choice(chunk.others)
        receipt = make_receipt(rng, index, owner, fake_source(index), statuses)
        rows.append(receipt_sql.row_values(receipt, API_LISTING))
    return rows


def _insert_columns() -> tuple[int, int]:
    """Where ``id`` and ``owner_id`` are in the adapter's INSERT statement's rows."""
    from receiptcore.adapters.sqlite import receipt_sql

    columns = [c.strip() for c in receipt_sql.INSERT_SQL.split("(", 1)[1].split(")", 1)[0].split(",")]
    return columns.index("id"), columns.index("owner_id")


def _bulk_insert(database: Path, chunks: list[_Chunk], seeded: Seeded) -> None:
    """Insert the bulk part through one plain sqlite3 connection, one transaction per chunk.

    The rows are the adapter's own (``row_values``) and the statement is the one ``add`` runs, so every index
    and the search-index triggers see them as they see any insert. ``synchronous=OFF`` is for this throwaway
    seeding connection only (the data dir is a temporary copy; the server opens it with its own settings). The
    rows are generated in other processes, at most a few chunks ahead of the inserts, so memory stays bounded.
    """
    import multiprocessing
    import sqlite3

    from receiptcore.adapters.sqlite import receipt_sql

    id_at, owner_at = _insert_columns()
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")  # 256 MiB of page cache for the index inserts
        # fork after the asyncio part has closed its connection and thread; the children only compute rows
        context = multiprocessing.get_context("fork")
        generators = max(1, min(GENERATORS, (os.cpu_count() or 1)))
        with context.Pool(generators) as pool:
            pending = [pool.apply_async(_chunk_rows, (chunk,)) for chunk in chunks[: 2 * generators]]
            submitted = len(pending)
            while pending:
                rows = pending.pop(0).get()
                if submitted < len(chunks):
                    pending.append(pool.apply_async(_chunk_rows, (chunks[submitted],)))
                    submitted += 1
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(receipt_sql.INSERT_SQL, rows)
                conn.execute("COMMIT")
                seeded.member_receipt_ids.extend(row[id_at] for row in rows if row[owner_at] == seeded.member_id)
                seeded.receipts += len(rows)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def _seed_people_and_files(
    data_dir: Path, count: int, flood_accounts: int, quiet: bool
) -> tuple[Seeded, list[str], Path]:
    """Users through ``UserService`` and the first ``FILED_RECEIPTS`` receipts through ``SqliteReceiptStore.add``."""
    from receiptcore.entrypoints.container import build_container, close_container
    from receiptcore.settings import Settings

    settings = Settings(_env_file=None, data_dir=data_dir)
    container = build_container(settings)
    try:
        users = container.user_service()
        admin = await users.create_admin(ADMIN_EMAIL, PASSWORD)
        system = Principal(user_id=admin.id, roles=frozenset({ADMIN}), permissions=PERMISSIONS)
        member = await users.create_user(system, MEMBER_EMAIL, PASSWORD, display_name="Bench Member", roles=[MEMBER])
        others = [
            (await users.create_user(system, f"owner{n}@bench.example", PASSWORD, roles=[MEMBER])).id
            for n in range(OTHER_OWNERS)
        ]
        seeded = Seeded(MEMBER_EMAIL, ADMIN_EMAIL, PASSWORD, member.id)
        # the login flood and the upload row sign in as many people at once, each from their own address
        for n in range(flood_accounts):
            email = f"flood{n}@bench.example"
            await users.create_user(system, email, PASSWORD, roles=[MEMBER])
            seeded.flood_emails.append(email)
        store = container.receipt_store()
        rng = random.Random(SEED)  # fixed: every run seeds the same mix
        statuses = QUIET_STATUSES if quiet else STATUSES
        for index in range(min(count, FILED_RECEIPTS)):
            owner = member.id if rng.random() < MEMBER_SHARE else rng.choice(others)
            content = tiny_png(index)
            receipt, created = await store.add(make_receipt(rng, index, owner, content, statuses), content)
            if not created:
                raise RuntimeError(f"receipt {index} was taken for a duplicate; the seed files must be unique")
            if owner == member.id:
                seeded.member_receipt_ids.append(receipt.id)
            seeded.receipts += 1
        return seeded, others, settings.sqlite_path
    finally:
        await close_container(container)


def _seed(data_dir: Path, count: int, flood_accounts: int, quiet: bool) -> Seeded:
    seeded, others, database = asyncio.run(_seed_people_and_files(data_dir, count, flood_accounts, quiet))
    chunks = [
        _Chunk(number, first, min(BULK_BATCH, count - first), seeded.member_id, tuple(others), quiet)
        for number, first in enumerate(range(FILED_RECEIPTS, count, BULK_BATCH))
    ]
    if chunks:
        _bulk_insert(database, chunks, seeded)
    return seeded


def cache_key(count: int, flood_accounts: int, quiet: bool) -> str:
    """What a seeded data dir's *data* depends on: the seed parameters, this file, the receipt model and the
    adapter's row mapping and INSERT statement. A change to any of them seeds afresh; a change to the schema alone
    (a new index, a new migration) does not: the kept dir is migrated like an upgraded install (``_migrate``)."""
    import inspect

    from receiptcore.adapters.sqlite import receipt_sql

    digest = hashlib.sha256(json.dumps([count, flood_accounts, quiet]).encode())
    domain = Path(__file__).resolve().parents[1] / "src" / "receiptcore" / "domain"
    for source in (Path(__file__).resolve(), domain / "receipt.py", domain / "receipt_values.py"):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    digest.update(receipt_sql.INSERT_SQL.encode())
    digest.update(inspect.getsource(receipt_sql.row_values).encode())
    from receiptcore.entrypoints.http.representation import API_LISTING

    digest.update(API_LISTING.key.encode())  # the rendered list items the rows carry
    return f"{count}-{flood_accounts}-{'quiet' if quiet else 'mixed'}-{digest.hexdigest()[:16]}"


async def _migrate(data_dir: Path) -> None:
    """Apply the migrations the current code has and a cached data dir may lack, before a server opens it (a
    server would apply them at its start too, but building an index over 1M rows must not count against its
    start-up timeout)."""
    from receiptcore.domain.policy import Scope
    from receiptcore.entrypoints.container import build_container, close_container
    from receiptcore.errors import NotFound
    from receiptcore.settings import Settings

    container = build_container(Settings(_env_file=None, data_dir=data_dir))
    try:
        with contextlib.suppress(NotFound):
            await container.receipt_store().get("no-such-receipt", Scope.everyone())  # migrates on first use
        await container.user_service().ensure_first_admin()  # the users' migrations (an admin exists: no-op)
    finally:
        await close_container(container)


def _seed_into(target: Path, count: int, flood_accounts: int, quiet: bool) -> Seeded:
    """Seed ``target`` (it must not exist), through a RAM file system when there is one (see ``seed_store``)."""
    ram = Path("/dev/shm")  # noqa: S108 - a private temporary directory made below, removed after the copy
    if not (ram.is_dir() and os.access(ram, os.W_OK)):
        return _seed(target, count, flood_accounts, quiet)
    staging = Path(tempfile.mkdtemp(prefix="receiptcore-bench-seed-", dir=ram))
    try:
        seeded = _seed(staging / "data", count, flood_accounts, quiet)
        shutil.copytree(staging / "data", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return seeded


def seed_store(
    data_dir: Path, count: int, flood_accounts: int = 0, *, quiet: bool = False, cache: Path | None = None
) -> Seeded:
    """Create ``data_dir`` and fill it: an admin, a member who owns ~40% of ``count`` receipts, nine other owners.

    ``quiet``: no receipt waits for extraction (for the rows where the worker runs). ``cache``: a directory
    where seeded data dirs are kept between runs, one per ``cache_key``; a hit is copied to ``data_dir`` (the
    servers write into their data dir, never into the cache), a miss is seeded and then kept there.

    The store fsyncs every file and its directory on ``add`` (as it must), which makes 10,000 adds on a disk
    take a minute or more, all of it waiting. So when a RAM file system (/dev/shm) is available the seeding
    writes there and the finished data dir (database and files) is then copied to ``data_dir``, which is where
    the server reads and writes during the measurements.
    """
    started = time.monotonic()
    if cache is None:
        seeded = _seed_into(data_dir, count, flood_accounts, quiet)
    else:
        kept = cache / cache_key(count, flood_accounts, quiet)
        hit = (kept / SEEDED_FILE).is_file()
        if not hit:
            cache.mkdir(parents=True, exist_ok=True)
            partial = Path(tempfile.mkdtemp(prefix=".seeding-", dir=cache))
            try:
                seeded = _seed_into(partial / "data", count, flood_accounts, quiet)
                (partial / "data" / SEEDED_FILE).write_text(json.dumps(dataclasses.asdict(seeded)))
                shutil.rmtree(kept, ignore_errors=True)
                (partial / "data").rename(kept)
            finally:
                shutil.rmtree(partial, ignore_errors=True)
        seeded = Seeded(**json.loads((kept / SEEDED_FILE).read_text()))
        # the kept copy itself is migrated (once per new migration: rebuilding the search index of 1,000,000
        # receipts takes minutes), then copied
        asyncio.run(_migrate(kept))
        shutil.copytree(kept, data_dir, ignore=shutil.ignore_patterns(SEEDED_FILE))
        seeded.cached = hit
    seeded.seconds = time.monotonic() - started
    return seeded
