"""Text search ``q`` is a case-insensitive substring match on every adapter, also after updates and deletes.

The SQLite store answers it from a trigram FTS index (three characters and more) and a ``LIKE`` scan (shorter);
the memory store compares strings. Both must agree with the plain definition, ``q.casefold() in search_text``,
for queries drawn from a small alphabet that makes overlaps, repeats, wildcards and quotes likely.
"""

from __future__ import annotations

import random

from receiptcore.adapters.receipt_queries import search_text
from receiptcore.domain.ids import new_id
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery
from receiptcore.domain.receipt import LineItem, Merchant, Receipt
from receiptcore.ports import ReceiptStore
from tests.factories import make_receipt

ALPHABET = 'abAB %_"\\äÄß\n'


def _text(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(size)).strip() or "a"


async def _found(store: ReceiptStore, q: str) -> set[str]:
    found: set[str] = set()
    cursor = None
    while True:
        page = await store.list(ReceiptQuery(q=q, limit=100, cursor=cursor), Scope.everyone())
        found.update(r.id for r in page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


async def _check(store: ReceiptStore, receipts: dict[str, Receipt], rng: random.Random) -> None:
    for _ in range(150):
        q = _text(rng, rng.randint(1, 5))
        expected = {rid for rid, r in receipts.items() if q.strip().casefold() in search_text(r)}
        assert await _found(store, q) == expected, repr(q)


async def test_text_search_is_a_substring_match_after_adds_updates_and_deletes(store: ReceiptStore) -> None:
    rng = random.Random(7)
    owner = new_id()
    receipts: dict[str, Receipt] = {}
    for _ in range(25):
        receipt, content = make_receipt(
            owner,
            merchant=Merchant(name=_text(rng, 8)),
            line_items=[LineItem(description=_text(rng, 12))],
            notes=_text(rng, 6),
            raw_text=_text(rng, 30),
        )
        await store.add(receipt, content)
        receipts[receipt.id] = receipt
    await _check(store, receipts, rng)
    for rid in rng.sample(sorted(receipts), 8):
        current = await store.get(rid, Scope.everyone())
        edited = Receipt.model_validate({**current.model_dump(), "notes": _text(rng, 10)})
        receipts[rid] = await store.update(edited, current.version)
    for rid in rng.sample(sorted(receipts), 5):
        await store.delete(rid, Scope.everyone())
        del receipts[rid]
    await _check(store, receipts, rng)
