"""The ReceiptStore contract for listing: filters, cursor paging and summaries, against every adapter."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
from decimal import Decimal

import pytest

from receiptcore.domain.ids import new_id
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery, SortKey
from receiptcore.domain.receipt import LineItem, Merchant, ReceiptStatus
from receiptcore.errors import ValidationFailed
from receiptcore.ports import ReceiptStore
from tests.factories import T0, make_receipt

EVERYONE = Scope.everyone()


async def _seed_for_filters(store: ReceiptStore) -> tuple[str, dict[str, str]]:
    owner = new_id()
    specs = {
        "lunch": {
            "merchant": Merchant(name="Noodle Bar", address="1 Main St"),
            "purchase_date": dt.date(2026, 1, 10),
            "total": Decimal("12.50"),
            "currency": "EUR",
            "category": "Food",
            "tags": ["Work", "lunch"],
            "status": ReceiptStatus.EXTRACTED,
            "line_items": [LineItem(description="Ramen 100%_spicy", amount=Decimal("12.50"))],
        },
        "fuel": {
            "merchant": Merchant(name="Shell"),
            "purchase_date": dt.date(2026, 2, 1),
            "total": Decimal("60.00"),
            "currency": "EUR",
            "category": "transport",
            "raw_text": "DIESEL 40 L",
            "status": ReceiptStatus.CONFIRMED,
        },
        "unknown": {"notes": "Found in a coat", "receipt_number": "INV-77"},
    }
    ids = {}
    for name, fields in specs.items():
        receipt, content = make_receipt(owner, **fields)
        await store.add(receipt, content)
        ids[name] = receipt.id
    return owner, ids


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (ReceiptQuery(q="noodle"), {"lunch"}),
        (ReceiptQuery(q="MAIN st"), {"lunch"}),
        (ReceiptQuery(q="ramen"), {"lunch"}),
        (ReceiptQuery(q="100%_"), {"lunch"}),
        (ReceiptQuery(q="0%"), {"lunch"}),
        (ReceiptQuery(q="%"), {"lunch"}),
        (ReceiptQuery(q="_"), {"lunch"}),
        (ReceiptQuery(q="diesel"), {"fuel"}),
        (ReceiptQuery(q="coat"), {"unknown"}),
        (ReceiptQuery(q="inv-77"), {"unknown"}),
        (ReceiptQuery(q="nothing like it"), set()),
        (ReceiptQuery(status=ReceiptStatus.CONFIRMED), {"fuel"}),
        (ReceiptQuery(category="food"), {"lunch"}),
        (ReceiptQuery(tag="work"), {"lunch"}),
        (ReceiptQuery(tag="wor"), set()),
        (ReceiptQuery(merchant=("noodle bar",)), {"lunch"}),
        (ReceiptQuery(merchant=(" NOODLE BAR ",)), {"lunch"}),
        (ReceiptQuery(merchant=("Noodle",)), set()),
        (ReceiptQuery(merchant=("Shell", "Noodle Bar", "Aral")), {"lunch", "fuel"}),
        (ReceiptQuery(merchant=("shell",), q="noodle"), set()),
        (ReceiptQuery(date_from=dt.date(2026, 1, 11)), {"fuel"}),
        (ReceiptQuery(date_to=dt.date(2026, 1, 10)), {"lunch"}),
        (ReceiptQuery(min_total=Decimal("12.5")), {"lunch", "fuel"}),
        (ReceiptQuery(min_total=Decimal("12.501")), {"fuel"}),
        (ReceiptQuery(max_total=Decimal("12.499")), set()),
        (ReceiptQuery(max_total=Decimal(100), min_total=Decimal(13)), {"fuel"}),
        (ReceiptQuery(), {"lunch", "fuel", "unknown"}),
    ],
)
async def test_list_filters(store: ReceiptStore, query: ReceiptQuery, expected: set[str]) -> None:
    owner, ids = await _seed_for_filters(store)
    page = await store.list(query, Scope.only(owner))
    assert {r.id for r in page.items} == {ids[name] for name in expected}


async def test_owner_filter_inside_a_wide_scope(store: ReceiptStore) -> None:
    owner, ids = await _seed_for_filters(store)
    await _seed_for_filters(store)
    page = await store.list(ReceiptQuery(owner_id=owner), EVERYONE)
    assert {r.id for r in page.items} == set(ids.values())


async def _seed_for_paging(store: ReceiptStore) -> tuple[str, list[str]]:
    owner = new_id()
    ids = []
    for i in range(17):
        # ties on every sort value and NULLs in date and total exercise the tie-breaker and NULLs-last rules
        receipt, content = make_receipt(
            owner,
            created_at=T0 + dt.timedelta(seconds=i // 3),
            purchase_date=None if i % 4 == 0 else dt.date(2026, 1, 1 + i % 5),
            total=None if i % 5 == 0 else Decimal(i % 6) + Decimal("0.25"),
        )
        await store.add(receipt, content)
        ids.append(receipt.id)
    return owner, ids


@pytest.mark.parametrize("sort", list(SortKey))
@pytest.mark.parametrize("limit", [1, 4, 17, 50])
async def test_cursor_paging_walks_every_receipt_once_in_order(store: ReceiptStore, sort: SortKey, limit: int) -> None:
    owner, ids = await _seed_for_paging(store)
    seen = []
    cursor = None
    for _ in range(40):
        page = await store.list(ReceiptQuery(sort=sort, limit=limit, cursor=cursor), Scope.only(owner))
        assert len(page.items) <= limit
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(r.id for r in seen) == sorted(ids)
    field = sort.value.lstrip("-")
    desc = sort.value.startswith("-")
    values = [getattr(r, field) for r in seen]
    present = [v for v in values if v is not None]
    assert values[: len(present)] == present, "NULLs come last"
    assert present == sorted(present, reverse=desc)
    for a, b in itertools.pairwise(seen):
        if getattr(a, field) == getattr(b, field):
            assert (a.id > b.id) if desc else (a.id < b.id)


@pytest.mark.parametrize("sort", [SortKey.CREATED_DESC, SortKey.DATE_ASC, SortKey.TOTAL_DESC])
async def test_a_merchant_filter_pages_through_exactly_its_receipts(store: ReceiptStore, sort: SortKey) -> None:
    owner = new_id()
    expected = set()
    for i in range(11):
        name = ["Netto", "NETTO", "Nettooy", "Aldi"][i % 4]
        receipt, content = make_receipt(
            owner,
            merchant=Merchant(name=name),
            created_at=T0 + dt.timedelta(seconds=i // 2),
            purchase_date=None if i % 3 == 0 else dt.date(2026, 1, 1 + i % 2),
            total=None if i % 5 == 0 else Decimal(i % 3),
        )
        await store.add(receipt, content)
        if name != "Aldi":
            expected.add(receipt.id)
    other, content = make_receipt(new_id(), merchant=Merchant(name="Netto"))
    await store.add(other, content)
    seen: list[str] = []
    cursor = None
    query = ReceiptQuery(merchant=("netto", "Nettooy"), sort=sort, limit=2)
    for _ in range(20):
        page = await store.list(query.model_copy(update={"cursor": cursor}), Scope.only(owner))
        seen.extend(r.id for r in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(expected)
    everyone = await store.list(ReceiptQuery(merchant=("Netto",), limit=50), EVERYONE)
    assert other.id in {r.id for r in everyone.items}


async def test_last_page_has_no_cursor(store: ReceiptStore) -> None:
    owner, _ids = await _seed_for_paging(store)
    page = await store.list(ReceiptQuery(limit=17), Scope.only(owner))
    assert len(page.items) == 17
    assert page.next_cursor is None


async def test_tampered_or_foreign_cursor_is_refused(store: ReceiptStore) -> None:
    owner, _ = await _seed_for_paging(store)
    page = await store.list(ReceiptQuery(limit=2), Scope.only(owner))
    assert page.next_cursor is not None
    raw = bytearray(base64.urlsafe_b64decode(page.next_cursor + "=" * (-len(page.next_cursor) % 4)))
    raw[-3] ^= 0x01
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    for bad in (tampered, "not-a-cursor", "", "AAAA", page.next_cursor[:-2]):
        with pytest.raises(ValidationFailed):
            await store.list(ReceiptQuery(limit=2, cursor=bad or "x"), Scope.only(owner))
    with pytest.raises(ValidationFailed):
        await store.list(ReceiptQuery(limit=2, cursor=page.next_cursor, sort=SortKey.TOTAL_ASC), Scope.only(owner))


async def test_summarize_groups_by_month_category_merchant_and_currency(store: ReceiptStore) -> None:
    owner = new_id()
    rows = [
        ("2026-01-05", "10.10", "EUR", "Food", "Noodle Bar"),
        ("2026-01-20", "0.20", "EUR", "food", "NOODLE BAR"),
        ("2026-02-01", "5.00", "USD", None, "Deli"),
        (None, "1.0001", "EUR", "Food", None),
    ]
    for date, total, currency, category, merchant in rows:
        receipt, content = make_receipt(
            owner,
            purchase_date=dt.date.fromisoformat(date) if date else None,
            total=Decimal(total),
            currency=currency,
            category=category,
            merchant=Merchant(name=merchant),
        )
        await store.add(receipt, content)
    no_total, content = make_receipt(owner, purchase_date=dt.date(2026, 1, 1))
    await store.add(no_total, content)
    summary = await store.summarize(ReceiptQuery(sort=SortKey.TOTAL_ASC, limit=1), Scope.only(owner))
    assert summary.receipt_count == 5
    months = {(b.key, b.currency): (b.total, b.count) for b in summary.by_month}
    assert months == {("2026-01", "EUR"): (Decimal("10.30"), 2), ("2026-02", "USD"): (Decimal("5.00"), 1)}
    categories = {(b.key, b.currency): (b.total, b.count) for b in summary.by_category}
    assert categories == {
        ("food", "EUR"): (Decimal("11.3001"), 3),
        ("uncategorized", "USD"): (Decimal("5.00"), 1),
    }
    merchants = {(b.key, b.currency): (b.total, b.count) for b in summary.by_merchant}
    assert merchants == {
        ("NOODLE BAR", "EUR"): (Decimal("10.30"), 2),
        ("Deli", "USD"): (Decimal("5.00"), 1),
        ("unknown", "EUR"): (Decimal("1.0001"), 1),
    }
    filtered = await store.summarize(ReceiptQuery(date_from=dt.date(2026, 2, 1)), Scope.only(owner))
    assert filtered.receipt_count == 1
    assert [b.key for b in filtered.by_merchant] == ["Deli"]


async def test_summarize_keeps_each_owners_merchants_apart_and_counts_every_receipt(store: ReceiptStore) -> None:
    me, you = new_id(), new_id()
    rows = [
        (me, "Netto", "2.00", "EUR"),
        (me, "NETTO", "3.00", "EUR"),
        (me, "Netto", None, None),
        (me, None, None, None),
        (you, "Netto", "4.00", "EUR"),
        (you, "Netto", "1.00", "DKK"),
    ]
    for owner, merchant, total, currency in rows:
        receipt, content = make_receipt(
            owner, merchant=Merchant(name=merchant), total=Decimal(total) if total else None, currency=currency
        )
        await store.add(receipt, content)
    summary = await store.summarize(ReceiptQuery(), Scope(frozenset({me, you})))
    assert [(b.key, b.owner_id, b.currency, b.total, b.count) for b in summary.by_merchant] == sorted(
        [
            ("NETTO", me, "EUR", Decimal("5.00"), 2),
            ("Netto", you, "DKK", Decimal("1.00"), 1),
            ("Netto", you, "EUR", Decimal("4.00"), 1),
        ],
        key=lambda row: (row[0], row[1], row[2]),
    )
    counts = {(m.key, m.owner_id): m.count for m in summary.merchant_receipts}
    assert counts == {("NETTO", me): 3, ("unknown", me): 1, ("Netto", you): 2}
    mine = await store.summarize(ReceiptQuery(merchant=("netto",)), Scope.only(me))
    assert [(m.key, m.count) for m in mine.merchant_receipts] == [("NETTO", 3)]
