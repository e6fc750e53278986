"""The storage quota of ``ReceiptStore.add`` (``quota_bytes``), run against every adapter (the ``store`` fixture):
an owner's receipts never hold more than the quota, also when adds race; nothing is stored by a refused add."""

from __future__ import annotations

import asyncio
import os

import pytest

from receiptcore.domain.ids import new_id
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery
from receiptcore.errors import QuotaExceeded
from receiptcore.ports import ReceiptStore
from tests.factories import make_receipt


async def _stored_bytes(store: ReceiptStore, owner: str) -> tuple[int, int]:
    page = await store.list(ReceiptQuery(limit=100), Scope.only(owner))
    return len(page.items), sum(r.source.size for r in page.items)


async def test_an_add_past_the_quota_is_refused_and_stores_nothing(store: ReceiptStore) -> None:
    owner = new_id()
    first, content = make_receipt(owner, os.urandom(600))
    await store.add(first, content, quota_bytes=1000)
    second, more = make_receipt(owner, os.urandom(500))
    with pytest.raises(QuotaExceeded) as raised:
        await store.add(second, more, quota_bytes=1000)
    assert "1000" in raised.value.detail
    assert await _stored_bytes(store, owner) == (1, 600)
    exactly, rest = make_receipt(owner, os.urandom(400))  # up to the quota itself is allowed
    _, created = await store.add(exactly, rest, quota_bytes=1000)
    assert created
    assert await _stored_bytes(store, owner) == (2, 1000)


async def test_the_quota_is_per_owner_and_off_without_quota_bytes(store: ReceiptStore) -> None:
    full, other = new_id(), new_id()
    receipt, content = make_receipt(full, os.urandom(900))
    await store.add(receipt, content, quota_bytes=1000)
    theirs, their_content = make_receipt(other, os.urandom(900))
    _, created = await store.add(theirs, their_content, quota_bytes=1000)
    assert created
    unlimited, big = make_receipt(full, os.urandom(5000))
    _, created = await store.add(unlimited, big)
    assert created


async def test_a_duplicate_of_a_stored_file_is_returned_even_when_the_quota_is_full(store: ReceiptStore) -> None:
    owner = new_id()
    receipt, content = make_receipt(owner, os.urandom(1000))
    await store.add(receipt, content, quota_bytes=1000)
    again, _ = make_receipt(owner, content)
    existing, created = await store.add(again, content, quota_bytes=1000)
    assert (existing.id, created) == (receipt.id, False)


async def test_deleting_frees_quota(store: ReceiptStore) -> None:
    owner = new_id()
    receipt, content = make_receipt(owner, os.urandom(800))
    await store.add(receipt, content, quota_bytes=1000)
    await store.delete(receipt.id, Scope.only(owner))
    after, more = make_receipt(owner, os.urandom(800))
    _, created = await store.add(after, more, quota_bytes=1000)
    assert created


async def test_concurrent_adds_never_take_an_owner_past_the_quota(store: ReceiptStore) -> None:
    owner = new_id()
    made = [make_receipt(owner, os.urandom(300)) for _ in range(12)]

    async def add(receipt_and_content: tuple[object, bytes]) -> bool:
        receipt, content = receipt_and_content
        try:
            await store.add(receipt, content, quota_bytes=1000)  # type: ignore[arg-type]
        except QuotaExceeded:
            return False
        return True

    accepted = await asyncio.gather(*(add(m) for m in made))
    count, used = await _stored_bytes(store, owner)
    assert used <= 1000
    assert count == sum(accepted)
    assert 1 <= count <= 3
