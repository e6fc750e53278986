"""Rendered list pages (``ListsRendered``, ``ReceiptService.list_rendered``) are the ``list`` pages, rendered.

Same items in the same order, the same cursors (each path continues the other's), and each item's bytes are the
projection's rendering of the receipt as it is now, on every adapter: a store that keeps renderings (SQLite, with
the projection the container gives it) must never serve one made under another key or before an update.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from receiptcore.adapters.memory.event_bus import InProcessEventBus
from receiptcore.domain.ids import new_id
from receiptcore.domain.policy import Principal, Scope
from receiptcore.domain.queries import ReceiptQuery, SortKey
from receiptcore.domain.receipt import LineItem, Merchant, Receipt, ReceiptStatus
from receiptcore.domain.users import RECEIPTS_READ
from receiptcore.entrypoints.http.representation import API_LISTING, receipt_to_api
from receiptcore.ports import ListsRendered, ReceiptStore
from receiptcore.services.receipts import ReceiptService
from tests.factories import T0, make_receipt


class _Tagged:
    """A projection under another key: renders the API JSON with a prefix, so its bytes are told apart."""

    key = "test-other-key"

    def render(self, receipt: Receipt) -> bytes:
        return b"other:" + API_LISTING.render(receipt)


class _Clock:
    def now(self) -> dt.datetime:
        return T0


def _service(store: ReceiptStore) -> ReceiptService:
    return ReceiptService(store, inspector=None, bus=InProcessEventBus(), clock=_Clock())  # type: ignore[arg-type]


def _member(owner: str) -> Principal:
    return Principal(user_id=owner, roles=frozenset({"member"}), permissions=frozenset({RECEIPTS_READ}))


async def _seed(store: ReceiptStore, owner: str) -> list[Receipt]:
    receipts = []
    for n in range(9):
        receipt, content = make_receipt(
            owner,
            created_at=T0 + dt.timedelta(hours=n % 4),  # ties on created_at: the id decides
            status=ReceiptStatus.CONFIRMED if n % 3 else ReceiptStatus.NEEDS_REVIEW,
            merchant=Merchant(name="Durian Palace" if n % 2 else f"Shop {n}"),
            total=None if n == 4 else Decimal(n % 5) + Decimal("0.5"),
            purchase_date=None if n == 7 else dt.date(2026, 1, 1 + n % 3),
            line_items=[LineItem(description=f"item {n}", amount=Decimal(1))],
            tags=["work"] if n % 2 else [],
        )
        receipts.append((await store.add(receipt, content))[0])
    return receipts


QUERIES = [
    {},
    {"status": ReceiptStatus.CONFIRMED},
    {"q": "durian"},
    {"q": "du"},
    {"tag": "work", "min_total": Decimal(1)},
]


@pytest.mark.parametrize("sort", list(SortKey), ids=str)
@pytest.mark.parametrize("filters", range(len(QUERIES)), ids=lambda i: str(QUERIES[i]) or "none")
async def test_rendered_pages_are_the_listed_pages_rendered(store: ReceiptStore, sort: SortKey, filters: int) -> None:
    owner = new_id()
    await _seed(store, owner)
    await _seed(store, new_id())  # another owner's receipts stay out
    scope = Scope.only(owner)
    service = _service(store)
    query = ReceiptQuery(sort=sort, limit=2, **QUERIES[filters])  # type: ignore[arg-type]
    listed: list[str] = []
    rendered: list[bytes] = []
    cursor = None
    while True:
        page = await store.list(query.model_copy(update={"cursor": cursor}), scope)
        other = await service.list_rendered(_member(owner), query.model_copy(update={"cursor": cursor}), API_LISTING)
        assert len(other.items) == len(page.items)
        assert (other.next_cursor is None) == (page.next_cursor is None)
        listed += [r.id for r in page.items]
        rendered += other.items
        if page.next_cursor is None:
            break
        # the rendered page's cursor continues the listing exactly as the listing's own does
        assert other.next_cursor is not None
        via_rendered = await store.list(query.model_copy(update={"cursor": other.next_cursor}), scope)
        via_listed = await store.list(query.model_copy(update={"cursor": page.next_cursor}), scope)
        assert [r.id for r in via_rendered.items] == [r.id for r in via_listed.items]
        cursor = page.next_cursor
    assert listed, "the query selects something"
    expected = [API_LISTING.render(await store.get(rid, scope)) for rid in listed]
    assert rendered == expected


async def test_a_rendering_under_another_key_or_before_an_update_is_never_served(store: ReceiptStore) -> None:
    owner = new_id()
    receipts = await _seed(store, owner)
    scope = Scope.only(owner)
    service = _service(store)
    query = ReceiptQuery(limit=50)
    other = await service.list_rendered(_member(owner), query, _Tagged())
    assert all(item.startswith(b"other:") for item in other.items)
    changed = receipts[0].model_copy(update={"notes": "changed after it was first rendered"})
    await store.update(changed, receipts[0].version)
    page = await service.list_rendered(_member(owner), query, API_LISTING)
    shown = [item for item in page.items if receipts[0].id.encode() in item]
    assert shown == [API_LISTING.render(await store.get(receipts[0].id, scope))]
    assert b"changed after it was first rendered" in shown[0]


async def test_the_api_listing_is_the_api_representation() -> None:
    receipt, _ = make_receipt(new_id(), notes='\u00e9t\u00e9 "quoted"')
    assert json.loads(API_LISTING.render(receipt)) == json.loads(json.dumps(receipt_to_api(receipt)))


def test_stores_that_keep_renderings_say_so(store: ReceiptStore) -> None:
    # the SQLite store keeps them (with or without a projection of its own: then every page renders on read)
    assert isinstance(store, ListsRendered) == (type(store).__name__ == "SqliteReceiptStore")
