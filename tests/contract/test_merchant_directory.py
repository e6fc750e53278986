"""The MerchantDirectory contract (ports.MerchantDirectory docstrings) and the learning built on it, one test body
run against every backend (the ``merchant_backend`` fixture in conftest.py: each directory adapter with the receipt
store of the same backend). Learning is scoped to the owner: another user's correction never changes mine."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest

from receiptcore.adapters.clock import ManualClock
from receiptcore.adapters.inspection import PillowFileInspector
from receiptcore.adapters.memory.event_bus import InProcessEventBus
from receiptcore.adapters.memory.extractor import MemoryExtractor
from receiptcore.domain.ids import new_id
from receiptcore.domain.merchants import MerchantEntry
from receiptcore.domain.policy import Principal, Scope
from receiptcore.domain.queries import ReceiptQuery
from receiptcore.domain.receipt import ExtractedReceipt, LineItem, Merchant, Receipt
from receiptcore.domain.users import BUILTIN_ROLES, MEMBER
from receiptcore.errors import Conflict, NotFound, VersionConflict
from receiptcore.ports import MerchantDirectory, ReceiptStore
from receiptcore.services.extraction import ExtractionService
from receiptcore.services.merchants import MerchantService
from receiptcore.services.receipts import ReceiptService, Upload
from tests.factories import T0, unique_png

EVERYONE = Scope.everyone()


def make_entry(owner: str, name: str, *variants: str) -> MerchantEntry:
    return MerchantEntry(id=new_id(), owner_id=owner, name=name, variants=list(variants), created_at=T0, updated_at=T0)


@pytest.fixture
def directory(merchant_backend: tuple[MerchantDirectory, ReceiptStore]) -> MerchantDirectory:
    return merchant_backend[0]


# --- the port ---------------------------------------------------------------------------------------------------


async def test_added_entries_come_back_by_owner_in_id_order(directory: MerchantDirectory) -> None:
    a, b = new_id(), new_id()
    first, second, foreign = make_entry(a, "Netto", "Nettooy"), make_entry(a, "Café Ümlaut"), make_entry(b, "Netto")
    for entry in (second, foreign, first):
        await directory.add(entry)
    assert await directory.entries(a) == sorted([first, second], key=lambda e: e.id)
    assert await directory.entries(b) == [foreign]
    assert await directory.get(first.id, Scope.only(a)) == first
    assert await directory.list(Scope.only(b)) == [foreign]
    assert [e.id for e in await directory.list(EVERYONE)] == sorted(e.id for e in (first, second, foreign))


async def test_listing_pages_by_id(directory: MerchantDirectory) -> None:
    owner = new_id()
    entries = [make_entry(owner, f"Shop number {n}") for n in range(5)]
    for entry in entries:
        await directory.add(entry)
    ids = sorted(e.id for e in entries)
    first = await directory.list(Scope.only(owner), limit=2)
    assert [e.id for e in first] == ids[:2]
    rest = await directory.list(Scope.only(owner), limit=10, after=first[-1].id)
    assert [e.id for e in rest] == ids[2:]
    assert await directory.list(Scope(frozenset())) == []


async def test_an_owner_cannot_have_two_entries_of_the_same_name(directory: MerchantDirectory) -> None:
    owner = new_id()
    await directory.add(make_entry(owner, "The Wild Restaurant"))
    with pytest.raises(Conflict):
        await directory.add(make_entry(owner, "WILD RESTAURANT, the"))
    await directory.add(make_entry(new_id(), "The Wild Restaurant"))  # another owner may
    assert len(await directory.entries(owner)) == 1


async def test_foreign_entries_are_not_found(directory: MerchantDirectory) -> None:
    entry = make_entry(new_id(), "Netto")
    await directory.add(entry)
    other = Scope.only(new_id())
    with pytest.raises(NotFound):
        await directory.get(entry.id, other)
    with pytest.raises(NotFound):
        await directory.delete(entry.id, other)
    assert await directory.list(other) == []
    with pytest.raises(NotFound):
        await directory.save(entry.model_copy(update={"owner_id": new_id()}), entry.version)
    assert await directory.get(entry.id, EVERYONE) == entry


async def test_save_is_compare_and_set_on_the_version(directory: MerchantDirectory) -> None:
    entry = make_entry(new_id(), "Netto")
    await directory.add(entry)
    renamed = entry.renamed("Netto Marken-Discount", T0)
    stored = await directory.save(renamed, entry.version)
    assert stored.version == entry.version + 1
    assert stored.variants == ["Netto"]
    assert await directory.get(entry.id, EVERYONE) == stored
    with pytest.raises(VersionConflict):
        await directory.save(entry.with_variant("Nettooy", T0), entry.version)
    with pytest.raises(NotFound):
        await directory.save(make_entry(entry.owner_id, "Nowhere"), 1)


async def test_renaming_onto_a_taken_name_is_refused_and_stores_nothing(directory: MerchantDirectory) -> None:
    owner = new_id()
    netto, lidl = make_entry(owner, "Netto"), make_entry(owner, "Lidl")
    await directory.add(netto)
    await directory.add(lidl)
    with pytest.raises(Conflict):
        await directory.save(lidl.renamed("NETTO", T0), lidl.version)
    assert await directory.get(lidl.id, EVERYONE) == lidl


async def test_delete_removes_the_entry(directory: MerchantDirectory) -> None:
    entry = make_entry(new_id(), "Netto")
    await directory.add(entry)
    await directory.delete(entry.id, Scope.only(entry.owner_id))
    with pytest.raises(NotFound):
        await directory.get(entry.id, EVERYONE)
    with pytest.raises(NotFound):
        await directory.delete(entry.id, EVERYONE)
    await directory.add(make_entry(entry.owner_id, "Netto"))  # the name is free again


# --- learning on top of it --------------------------------------------------------------------------------------


@dataclass
class World:
    directory: MerchantDirectory
    store: ReceiptStore
    extractor: MemoryExtractor
    merchants: MerchantService
    receipts: ReceiptService
    extraction: ExtractionService

    async def receipt(self, who: Principal, name: str, **values: object) -> Receipt:
        """Upload a receipt whose extractor reads the merchant ``name``; run extraction; return it stored."""
        [outcome] = await self.receipts.upload(who, [Upload(unique_png(), "r.png")])
        output = ExtractedReceipt(
            merchant=Merchant(name=name),
            purchase_date=dt.date(2026, 2, 1),
            currency="EUR",
            total=Decimal("9.99"),
            **values,  # type: ignore[arg-type]
        )
        self.extractor.script(output, sha256=outcome.receipt.source.sha256)
        done = await self.extraction.run_once("w")
        assert done is not None
        return done


@pytest.fixture
async def world(merchant_backend: tuple[MerchantDirectory, ReceiptStore]) -> World:
    directory, store = merchant_backend
    clock, bus, extractor = ManualClock(T0), InProcessEventBus(), MemoryExtractor()
    merchants = MerchantService(directory, store, clock, bus)
    inspector = PillowFileInspector(max_pixels=1_000_000, max_pages=3)
    receipts = ReceiptService(store, inspector, bus, clock, merchants=merchants)
    extraction = ExtractionService(store, extractor, bus, clock, merchants=merchants)
    return World(directory, store, extractor, merchants, receipts, extraction)


def member() -> Principal:
    return Principal(user_id=new_id(), roles=frozenset({MEMBER}), permissions=BUILTIN_ROLES[MEMBER].permissions)


async def test_a_corrected_merchant_teaches_the_spelling_to_its_owner_only(world: World) -> None:
    me, you = member(), member()
    first = await world.receipt(me, "Nettooy")
    assert first.merchant.name == "Nettooy"  # nothing known yet: the name is kept and becomes an entry
    await world.receipts.correct(me, first.id, {"merchant": {"name": "Netto"}}, first.version)
    [entry] = await world.directory.entries(me.user_id)
    assert (entry.name, entry.variants) == ("Netto", ["Nettooy"])

    again = await world.receipt(me, "NETTOOY")
    assert again.merchant.name == "Netto"
    source = again.provenance["merchant.name"]
    assert (source.confidence, source.text, source.method) == (1.0, "NETTOOY", "merchant_directory")

    theirs = await world.receipt(you, "Nettooy")
    assert theirs.merchant.name == "Nettooy"
    assert [e.name for e in await world.directory.entries(you.user_id)] == ["Nettooy"]


async def test_a_partial_name_is_matched_to_the_known_merchant(world: World) -> None:
    me = member()
    await world.receipt(me, "The Wild Restaurant")
    partial = await world.receipt(me, "Restaurant")
    assert partial.merchant.name == "The Wild Restaurant"
    assert 0.8 <= partial.provenance["merchant.name"].confidence < 1


async def test_a_corrected_category_is_learned_per_owner_never_across_users(world: World) -> None:
    me, you = member(), member()
    mine = await world.receipt(me, "Kiosk Ahmed")
    yours = await world.receipt(you, "Kiosk Ahmed")
    assert mine.category is None  # the map knows no kiosk word: nothing is guessed
    await world.receipts.correct(me, mine.id, {"category": "groceries"}, mine.version)

    later = await world.receipt(me, "KIOSK AHMED")
    assert later.category == "groceries"
    assert later.provenance["category"].method == "category:learned"
    assert later.provenance["category"].confidence == pytest.approx(0.95)

    theirs = await world.receipt(you, "Kiosk Ahmed")
    assert theirs.category is None
    assert (await world.store.get(yours.id, EVERYONE)).category is None
    [your_entry] = await world.directory.entries(you.user_id)
    assert your_entry.category is None

    # and my correction of your merchant's category cannot happen: your receipt is not found for me
    with pytest.raises(NotFound):
        await world.receipts.correct(me, yours.id, {"category": "fuel"}, yours.version)


async def test_the_bundled_map_categorises_when_nothing_is_learned(world: World) -> None:
    me = member()
    pharmacy = await world.receipt(me, "Pharmacie du Centre")
    assert pharmacy.category == "pharmacy"
    assert pharmacy.provenance["category"].method == "category:map:merchant"
    items = [LineItem(description="Diesel 41.2 L"), LineItem(description="AdBlue 5L")]
    fuel = await world.receipt(me, "Station 4471", line_items=items)
    assert fuel.category == "fuel"
    assert fuel.provenance["category"].method == "category:map:items"


async def test_a_category_a_person_chose_survives_re_extraction(world: World) -> None:
    me = member()
    receipt = await world.receipt(me, "Pharmacie du Centre")
    corrected = await world.receipts.correct(me, receipt.id, {"category": "services"}, receipt.version)
    await world.receipts.reextract(me, receipt.id)
    world.extractor.script(
        ExtractedReceipt(merchant=Merchant(name="Pharmacie du Centre")), sha256=receipt.source.sha256
    )
    again = await world.extraction.run_once("w")
    assert again is not None
    assert corrected.category == again.category == "services"


async def test_spending_is_grouped_by_canonical_merchant_of_each_owner(world: World) -> None:
    me, you = member(), member()
    netto = await world.receipt(me, "Netto")
    await world.receipt(you, "Nettooy")
    # a receipt stored before the directory knew its spelling (its own entry gone), taught as a variant since
    old = await world.receipt(me, "Netto Filiale 12")
    entries = {e.name: e for e in await world.directory.entries(me.user_id)}
    await world.directory.delete(entries["Netto Filiale 12"].id, EVERYONE)
    await world.directory.save(entries["Netto"].with_variant("Netto Filiale 12", T0), entries["Netto"].version)

    summary = await world.receipts.summary(me, ReceiptQuery())
    assert [(b.key, b.count, b.total) for b in summary.by_merchant] == [("Netto", 2, Decimal("19.98"))]
    assert {netto.id, old.id} == {r.id for r in (await world.receipts.list(me, ReceiptQuery())).items}
    yours = await world.receipts.summary(you, ReceiptQuery())
    assert [(b.key, b.count) for b in yours.by_merchant] == [("Nettooy", 1)]


async def test_merge_and_rename_relabel_the_owners_receipts(world: World) -> None:
    me, you = member(), member()
    # an extra word is another shop to the matcher, so these two became two entries; the person merges them
    await world.receipt(me, "Netto")
    await world.receipt(me, "Netto Marken-Discount")
    theirs = await world.receipt(you, "Netto")
    entries = {e.name: e for e in await world.directory.entries(me.user_id)}
    merged = await world.merchants.merge(me, entries["Netto"].id, [entries["Netto Marken-Discount"].id], None)
    assert merged.receipts_updated == 1
    assert merged.entry.variants == ["Netto Marken-Discount"]
    assert [e.name for e in await world.directory.entries(me.user_id)] == ["Netto"]
    names = sorted(r.merchant.name or "" for r in (await world.receipts.list(me, ReceiptQuery())).items)
    assert names == ["Netto", "Netto"]

    renamed = await world.merchants.update(me, merged.entry.id, {"name": "Netto Supermarkt"}, None)
    assert renamed.receipts_updated == 2
    assert renamed.entry.variants == ["Netto", "Netto Marken-Discount"]
    page = await world.receipts.list(me, ReceiptQuery())
    assert {r.merchant.name for r in page.items} == {"Netto Supermarkt"}
    relabelled = await world.store.get(page.items[0].id, EVERYONE)
    assert relabelled.corrections[-1].field == "merchant"
    assert relabelled.corrections[-1].by == me.user_id
    assert (await world.store.get(theirs.id, EVERYONE)).merchant.name == "Netto"
