"""MerchantService around its directory: entry rules, a directory outage never costs an extraction or a stored
correction, and the canonical grouping of spending across owners."""

from __future__ import annotations

import builtins
from decimal import Decimal

import pytest

from receiptcore.adapters.clock import ManualClock
from receiptcore.adapters.memory.event_bus import InProcessEventBus
from receiptcore.adapters.memory.merchant_directory import MemoryMerchantDirectory
from receiptcore.adapters.memory.receipt_store import MemoryReceiptStore
from receiptcore.domain.merchants import (
    MerchantEntry,
    group_by_merchant,
    group_receipts_by_merchant,
    learnable_address,
    looks_like_table_header,
)
from receiptcore.domain.queries import MerchantReceipts, SpendingBucket
from receiptcore.domain.receipt import ExtractedReceipt, Merchant
from receiptcore.errors import StorageUnavailable
from receiptcore.services.merchants import MerchantService
from tests.factories import T0, make_receipt


def entry(owner: str, name: str, *variants: str) -> MerchantEntry:
    return MerchantEntry(
        id=f"{owner}-{name}", owner_id=owner, name=name, variants=list(variants), created_at=T0, updated_at=T0
    )


class DownDirectory(MemoryMerchantDirectory):
    """A directory whose backend cannot be reached."""

    async def entries(self, owner_id: str) -> builtins.list[MerchantEntry]:
        raise StorageUnavailable("the directory is down")


def service(directory: MemoryMerchantDirectory) -> MerchantService:
    return MerchantService(directory, MemoryReceiptStore(), ManualClock(T0), InProcessEventBus())


def test_renaming_keeps_the_old_name_as_a_spelling_and_bumps_the_version() -> None:
    netto = entry("o", "Netto", "Nettooy")
    renamed = netto.renamed("Netto Marken-Discount", T0)
    assert (renamed.name, renamed.variants, renamed.version) == ("Netto Marken-Discount", ["Netto", "Nettooy"], 2)
    assert renamed.renamed("Netto Marken-Discount", T0) is renamed
    # renaming to a known spelling takes it out of the variants
    assert netto.renamed("NETTOOY", T0).variants == ["Netto"]
    assert netto.with_variant("nettooy", T0) is netto


def test_absorbing_takes_the_other_spellings_once_and_fills_what_is_missing() -> None:
    target = entry("o", "Netto", "Nettooy")
    other = entry("o", "Netto Marken-Discount", "NETTOOY", "Netto MD").readdressed("Hauptstr. 1", T0)
    merged = target.absorbing(other, T0)
    assert merged.variants == ["Nettooy", "Netto Marken-Discount", "Netto MD"]
    assert merged.address == "Hauptstr. 1"


async def test_a_directory_outage_leaves_the_extraction_as_read() -> None:
    output = ExtractedReceipt(merchant=Merchant(name="Pharmacie du Centre"))
    enriched = await service(DownDirectory()).enrich("o", output)
    assert enriched.output.merchant.name == "Pharmacie du Centre"
    assert enriched.category == "pharmacy"  # the bundled map needs no directory


async def test_a_directory_outage_does_not_undo_a_stored_correction() -> None:
    before, _ = make_receipt("o", merchant=Merchant(name="Nettooy"))
    after = before.model_copy(update={"merchant": Merchant(name="Netto"), "category": "groceries"})
    await service(DownDirectory()).learn(before, after)  # logged, not raised


def test_spending_counts_under_the_canonical_name_of_each_owner_and_owners_stay_apart() -> None:
    def bucket(owner: str, key: str, currency: str, total: str, count: int) -> SpendingBucket:
        return SpendingBucket(key=key, currency=currency, total=Decimal(total), count=count, owner_id=owner)

    buckets = [
        bucket("a", "Nettooy", "EUR", "1.50", 1),
        bucket("a", "Netto", "EUR", "2.25", 2),
        bucket("a", "Netto", "DKK", "10.00", 1),
        bucket("b", "NETTO", "EUR", "4.00", 1),
        bucket("a", "Restaurant", "EUR", "5.00", 1),
        bucket("b", "Restaurant", "EUR", "7.00", 1),
        bucket("b", "Kiosk", "EUR", "1.00", 1),
    ]
    entries = [
        entry("a", "Netto", "Nettooy"),
        # two owners file "Restaurant" under different merchants: each owner's under their own
        entry("a", "The Wild Restaurant", "Restaurant"),
        entry("b", "Restaurant Roma", "Restaurant"),
        entry("b", "Netto"),
    ]
    grouped = group_by_merchant(buckets, entries)
    assert [(b.key, b.owner_id, b.currency, b.total, b.count, b.merchant_id) for b in grouped] == [
        ("Kiosk", "b", "EUR", Decimal("1.00"), 1, None),
        ("Netto", "a", "DKK", Decimal("10.00"), 1, "a-Netto"),
        ("Netto", "a", "EUR", Decimal("3.75"), 3, "a-Netto"),
        ("Netto", "b", "EUR", Decimal("4.00"), 1, "b-Netto"),
        ("Restaurant Roma", "b", "EUR", Decimal("7.00"), 1, "b-Restaurant Roma"),
        ("The Wild Restaurant", "a", "EUR", Decimal("5.00"), 1, "a-The Wild Restaurant"),
    ]
    counts = [
        MerchantReceipts(key="Nettooy", owner_id="a", count=2),
        MerchantReceipts(key="netto", owner_id="a", count=3),
        MerchantReceipts(key="Netto", owner_id="b", count=1),
    ]
    assert [(m.key, m.owner_id, m.count, m.merchant_id) for m in group_receipts_by_merchant(counts, entries)] == [
        ("Netto", "a", 5, "a-Netto"),
        ("Netto", "b", 1, "b-Netto"),
    ]


@pytest.mark.parametrize(
    "header",
    [
        "Product Sale Unit Final Description Qty Price Price",
        "ITEM DESCRIPTION QTY AMOUNT",
        "Artikel Menge Preis",
        "Description Qty U.Price Total",
    ],
)
def test_an_item_table_heading_is_not_learned_as_an_address(header: str) -> None:
    assert looks_like_table_header(header)
    assert learnable_address(header) is None
    assert learnable_address(f"{header}\nHauptstr. 1, 10115 Berlin") == "Hauptstr. 1, 10115 Berlin"


@pytest.mark.parametrize(
    "address",
    ["Hauptstr. 1, 10115 Berlin", "Unit 4, Price Street", "Total Energies Station Road", "No 12 Jalan Sale"],
)
def test_an_address_with_a_heading_word_in_it_is_kept(address: str) -> None:
    assert not looks_like_table_header(address)
    assert learnable_address(address) == address


async def test_a_new_entry_does_not_take_a_table_heading_as_its_address() -> None:
    directory = MemoryMerchantDirectory()
    output = ExtractedReceipt(
        merchant=Merchant(name="Kedai Runcit Ali", address="Product Sale Unit Final Description Qty Price Price")
    )
    await service(directory).enrich("o", output)
    (learned,) = await directory.entries("o")
    assert (learned.name, learned.address) == ("Kedai Runcit Ali", None)
