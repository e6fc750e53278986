"""Seed a fresh embedded-profile data directory for the HTTP benchmark.

Everything goes through the product's own adapters and services, as a real install would hold it: users are
created by ``UserService`` (``create_admin``, then ``create_user``) with the production Argon2 parameters. The
first ``FILED_RECEIPTS`` receipts are written by ``SqliteReceiptStore.add`` with a small real PNG each (their
files are on disk); the rest (up to 100,000 or 1,000,000) go in through the same adapter's own row mapping
(``receipt_sql.row_values`` and ``INSERT_SQL``, the statement ``add`` runs), many rows per transaction and
without a file each: ``add`` fsyncs a file and its directory per receipt, which would make 100,000 receipts take
an hour of waiting, and no measured route reads a file. The search index triggers fire on these inserts as on
any other. The receipts are a deterministic mix (fixed random seed) of owners, merchants, dates, currencies,
totals, categories, tags and statuses; extracted ones carry line items, taxes, provenance and one extraction
attempt, so a receipt weighs what an extracted one weighs in practice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
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
BULK_BATCH = 5_000

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


def tiny_png(index: int) -> bytes:
    """A real, unique 8x8 PNG for receipt ``index`` (unique bytes, so no two receipts deduplicate)."""
    colour = (index % 256, (index // 256) % 256, (index // 65536) % 256)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def make_receipt(rng: random.Random, index: int, owner_id: str, content: bytes) -> Receipt:
    """One generated receipt of ``owner_id`` with ``content`` as its file."""
    created = dt.datetime(2023, 1, 2, tzinfo=dt.UTC) + dt.timedelta(minutes=150 * index + rng.randrange(120))
    source = SourceFile(
        filename=f"receipt-{index:05d}.png",
        media_type="image/png",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    status = rng.choices([s for s, _ in STATUSES], weights=[w for _, w in STATUSES])[0]
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


async def _bulk_insert(store: Any, rows: list[list[Any]]) -> None:
    from receiptcore.adapters.sqlite import receipt_sql

    async with store._db.transaction() as conn:  # the adapter's own connection and statement
        await conn.executemany(receipt_sql.INSERT_SQL, rows)


async def _seed(data_dir: Path, count: int, flood_accounts: int) -> Seeded:
    from receiptcore.entrypoints.container import build_container, close_container
    from receiptcore.settings import Settings

    container = build_container(Settings(_env_file=None, data_dir=data_dir))
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
        # the login flood signs in as many people at once, each from their own address
        for n in range(flood_accounts):
            email = f"flood{n}@bench.example"
            await users.create_user(system, email, PASSWORD, roles=[MEMBER])
            seeded.flood_emails.append(email)
        from receiptcore.adapters.sqlite import receipt_sql

        store = container.receipt_store()
        rng = random.Random(20241125)  # fixed: every run seeds the same mix
        rows: list[list[Any]] = []
        for index in range(count):
            owner = member.id if rng.random() < MEMBER_SHARE else rng.choice(others)
            if index < FILED_RECEIPTS:
                content = tiny_png(index)
                receipt, created = await store.add(make_receipt(rng, index, owner, content), content)
                if not created:
                    raise RuntimeError(f"receipt {index} was taken for a duplicate; the seed files must be unique")
            else:
                receipt = make_receipt(rng, index, owner, fake_source(index))
                rows.append(receipt_sql.row_values(receipt))
                if len(rows) >= BULK_BATCH:
                    await _bulk_insert(store, rows)
                    rows = []
            if owner == member.id:
                seeded.member_receipt_ids.append(receipt.id)
            seeded.receipts += 1
        if rows:
            await _bulk_insert(store, rows)
        return seeded
    finally:
        await close_container(container)


def seed_store(data_dir: Path, count: int, flood_accounts: int = 0) -> Seeded:
    """Create ``data_dir`` and fill it: an admin, a member who owns ~40% of ``count`` receipts, nine other owners.

    The store fsyncs every file and its directory on ``add`` (as it must), which makes 10,000 adds on a disk
    take a minute or more, all of it waiting. So when a RAM file system (/dev/shm) is available the seeding
    writes there and the finished data dir (database and files) is then copied to ``data_dir``, which is where
    the server reads and writes during the measurements.
    """
    started = time.monotonic()
    ram = Path("/dev/shm")  # noqa: S108 - a private temporary directory made below, removed after the copy
    if ram.is_dir() and os.access(ram, os.W_OK):
        staging = Path(tempfile.mkdtemp(prefix="receiptcore-bench-seed-", dir=ram))
        try:
            seeded = asyncio.run(_seed(staging / "data", count, flood_accounts))
            shutil.copytree(staging / "data", data_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    else:
        seeded = asyncio.run(_seed(data_dir, count, flood_accounts))
    seeded.seconds = time.monotonic() - started
    return seeded
