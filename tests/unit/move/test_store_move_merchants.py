"""StoreMove also moves the merchant directory (learned spellings and per-owner categories) when both sides name
one: copied once, skipped when already there, verified entry by entry."""

from __future__ import annotations

from receiptcore.adapters.memory import MemoryReceiptStore, MemoryUserRepo
from receiptcore.adapters.memory.merchant_directory import MemoryMerchantDirectory
from receiptcore.domain.ids import new_id
from receiptcore.domain.merchants import MerchantEntry
from receiptcore.domain.policy import Scope
from receiptcore.services.store_move import StoreMove, Stores
from tests.factories import T0


def stores() -> Stores:
    return Stores(MemoryUserRepo(), MemoryReceiptStore(), MemoryMerchantDirectory())


async def test_merchants_are_moved_once_and_verified() -> None:
    source, target = stores(), stores()
    assert source.merchants is not None
    assert target.merchants is not None
    owner = new_id()
    entries = [
        MerchantEntry(
            id=new_id(),
            owner_id=owner,
            name=f"Shop {n}",
            variants=["Shopp"],
            category="groceries",
            created_at=T0,
            updated_at=T0,
        )
        for n in range(3)
    ]
    for entry in entries:
        await source.merchants.add(entry)
    move = StoreMove(source, target)
    assert (await move.run()).merchants_copied == 3
    assert await target.merchants.list(Scope.everyone()) == sorted(entries, key=lambda e: e.id)
    assert (await move.verify()).ok
    assert (await move.run()).merchants_copied == 0

    await target.merchants.delete(entries[0].id, Scope.everyone())
    verification = await move.verify()
    assert not verification.ok
    assert verification.problems == [f"merchant {entries[0].id} is missing in the target"]
