"""The merchant directory's entries and rules: canonical name, known spellings, address, the owner's category.

A directory is kept per install and partitioned by owner (ADR 0012): an entry is learned from one person's
receipts and corrections, so it says where that person shops, and only their own corrections may rename it or
change its category. ``Scope`` decides whose entries a query reaches, exactly as for receipts.

How a spelling is matched to an entry is ``receiptcore.domain.name_matching``; ``match_merchant`` applies it to a
directory. Entries change only through the methods below (each returns a new, validated copy with the next
version), so every adapter stores the same thing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from receiptcore.domain.name_matching import AMBIGUITY_MARGIN, MATCH_THRESHOLD, name_score, normalised
from receiptcore.domain.queries import MerchantReceipts, SpendingBucket

MAX_VARIANTS = 200
# Words of an item table's column headings ("Product Sale Unit Final Description Qty Price Price"): OCR sometimes
# reads such a row as the shop's address, and the directory must not learn it (``learnable_address``).
TABLE_HEADER_WORDS = frozenset(
    {
        "amount", "amt", "article", "artikel", "betrag", "code", "description", "desc", "disc", "discount", "each",
        "ea", "final", "gesamt", "item", "items", "menge", "net", "no", "preis", "price", "prices", "product",
        "products", "qty", "quantity", "rate", "sale", "sku", "sum", "summe", "tax", "total", "unit", "uom", "vat",
        "x",
    }
)  # fmt: skip
# as long as a receipt's merchant name may be, so every printed or corrected name can become an entry
MerchantName = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
CategoryName = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


class MerchantEntry(BaseModel):
    """One merchant in an owner's directory.

    ``variants`` are other spellings seen or taught for it (OCR variants, partial names), never the canonical
    ``name`` itself and never two with the same normalised form. ``category`` is what the owner chose last time
    for this merchant (None until they do).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    owner_id: str
    name: MerchantName
    variants: list[MerchantName] = Field(default_factory=list, max_length=MAX_VARIANTS)
    address: Annotated[str, StringConstraints(max_length=500, strip_whitespace=True)] | None = None
    category: CategoryName | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: Annotated[int, Field(ge=1)] = 1

    @classmethod
    def new(
        cls, *, entry_id: str, owner_id: str, name: str, at: dt.datetime, address: str | None = None
    ) -> MerchantEntry:
        """A new entry with no variants yet."""
        return cls(id=entry_id, owner_id=owner_id, name=name, address=address or None, created_at=at, updated_at=at)

    @property
    def key(self) -> str:
        """The normalised canonical name: unique among one owner's entries."""
        return normalised(self.name)

    def spellings(self) -> list[str]:
        """The canonical name followed by every variant."""
        return [self.name, *self.variants]

    def knows(self, spelling: str) -> bool:
        """Whether ``spelling`` normalises like the name or one of the variants."""
        key = normalised(spelling)
        return bool(key) and any(normalised(s) == key for s in self.spellings())

    def with_variant(self, spelling: str, at: dt.datetime) -> MerchantEntry:
        """This entry also knowing ``spelling``; itself when it already does (or the spelling is empty)."""
        if not normalised(spelling) or self.knows(spelling):
            return self
        variants = [*self.variants, spelling.strip()][-MAX_VARIANTS:]
        return self._next(at, variants=variants)

    def renamed(self, name: str, at: dt.datetime) -> MerchantEntry:
        """This entry under the canonical ``name``; the old name is kept as a variant (receipts still print it)."""
        if name.strip() == self.name:
            return self
        spellings = [self.name, *self.variants]
        key = normalised(name)
        return self._next(at, name=name, variants=_distinct(s for s in spellings if normalised(s) != key))

    def absorbing(self, other: MerchantEntry, at: dt.datetime) -> MerchantEntry:
        """This entry after merging ``other`` into it: its spellings become variants; address and category
        are taken from ``other`` only where this entry has none."""
        key = self.key
        variants = _distinct(s for s in [*self.variants, *other.spellings()] if normalised(s) != key)
        return self._next(
            at,
            variants=variants[-MAX_VARIANTS:],
            address=self.address or other.address,
            category=self.category or other.category,
        )

    def with_category(self, category: str | None, at: dt.datetime) -> MerchantEntry:
        """This entry remembering ``category`` as the owner's choice; itself when it already does."""
        if category == self.category:
            return self
        return self._next(at, category=category)

    def readdressed(self, address: str | None, at: dt.datetime) -> MerchantEntry:
        """This entry at ``address`` (None: no known address); itself when it already is."""
        if (address or None) == self.address:
            return self
        return self._next(at, address=address or None)

    def _next(self, at: dt.datetime, **changes: object) -> MerchantEntry:
        values = {**self.model_dump(), **changes, "updated_at": at, "version": self.version + 1}
        return MerchantEntry.model_validate(values)


def looks_like_table_header(line: str) -> bool:
    """Whether ``line`` reads like the column headings of an item table: three or more words, none with a digit,
    at least two different heading words, and heading words at least two thirds of them."""
    found = line.casefold().replace(".", " ").replace(":", " ").replace("/", " ").split()
    if len(found) < 3 or any(ch.isdigit() for ch in line):
        return False
    headings = [w for w in found if w in TABLE_HEADER_WORDS]
    return len(set(headings)) >= 2 and 3 * len(headings) >= 2 * len(found)


def learnable_address(address: str | None) -> str | None:
    """The part of an address read from a receipt that the directory may learn: without lines that look like an
    item table's headings (an OCR misreading), None when nothing else is left."""
    if not address:
        return None
    kept = [line for line in address.splitlines() if line.strip() and not looks_like_table_header(line)]
    return "\n".join(line.strip() for line in kept) or None


def _distinct(spellings: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for spelling in spellings:
        key = normalised(spelling)
        if key and key not in seen:
            seen.add(key)
            out.append(spelling)
    return out


@dataclass(frozen=True, slots=True)
class MerchantMatch:
    """The directory entry a printed name matched, the score (the merchant field's confidence), and the spelling
    of the entry that scored it."""

    entry: MerchantEntry
    score: float
    spelling: str


def score_entry(printed: str, entry: MerchantEntry) -> tuple[float, str]:
    """The best score of ``printed`` against any spelling of ``entry``, and that spelling."""
    return max(((name_score(printed, s), s) for s in entry.spellings()), key=lambda pair: pair[0])


def match_merchant(printed: str | None, entries: Sequence[MerchantEntry]) -> MerchantMatch | None:
    """The entry ``printed`` names, or None: the best score must reach ``MATCH_THRESHOLD`` and beat the best
    score of every other entry by ``AMBIGUITY_MARGIN``."""
    if not printed or not normalised(printed):
        return None
    scored = sorted(((score_entry(printed, e), e) for e in entries), key=lambda item: item[0][0], reverse=True)
    if not scored or scored[0][0][0] < MATCH_THRESHOLD:
        return None
    (best, spelling), entry = scored[0]
    if len(scored) > 1 and best - scored[1][0][0] < AMBIGUITY_MARGIN:
        return None
    return MerchantMatch(entry=entry, score=round(best, 4), spelling=spelling)


def _canonical(entries: Sequence[MerchantEntry]) -> dict[tuple[str, str], MerchantEntry]:
    """Each owner's entries by (owner, normalised spelling)."""
    lookup: dict[tuple[str, str], MerchantEntry] = {}
    for entry in entries:
        for spelling in entry.spellings():
            lookup.setdefault((entry.owner_id, normalised(spelling)), entry)
    return lookup


def group_by_merchant(buckets: Sequence[SpendingBucket], entries: Sequence[MerchantEntry]) -> list[SpendingBucket]:
    """Spending buckets by (owner, merchant name) regrouped by canonical merchant, per owner and currency: a bucket
    whose name is a spelling of one of its owner's ``entries`` counts under that entry's name and id. Another
    owner's entries never regroup a bucket (two people's "Netto" stay two merchants). Sorted by name, owner,
    currency."""
    canonical = _canonical(entries)
    groups: dict[tuple[str | None, str, str | None], SpendingBucket] = {}
    for bucket in buckets:
        entry = canonical.get((bucket.owner_id or "", normalised(bucket.key))) if bucket.owner_id else None
        name = entry.name if entry is not None else bucket.key
        group = (bucket.owner_id, normalised(name) or name, bucket.currency)
        known = groups.get(group)
        groups[group] = SpendingBucket(
            key=known.key if known is not None else name,
            currency=bucket.currency,
            total=bucket.total + (known.total if known is not None else 0),
            count=bucket.count + (known.count if known is not None else 0),
            owner_id=bucket.owner_id,
            merchant_id=entry.id if entry is not None else None,
        )
    return sorted(groups.values(), key=lambda b: (b.key, b.owner_id or "", b.currency or ""))


def group_receipts_by_merchant(
    counts: Sequence[MerchantReceipts], entries: Sequence[MerchantEntry]
) -> list[MerchantReceipts]:
    """Receipt counts by (owner, merchant name) regrouped by canonical merchant, as ``group_by_merchant`` does."""
    canonical = _canonical(entries)
    groups: dict[tuple[str, str], MerchantReceipts] = {}
    for row in counts:
        entry = canonical.get((row.owner_id, normalised(row.key)))
        name = entry.name if entry is not None else row.key
        group = (row.owner_id, normalised(name) or name)
        known = groups.get(group)
        groups[group] = MerchantReceipts(
            key=known.key if known is not None else name,
            owner_id=row.owner_id,
            count=row.count + (known.count if known is not None else 0),
            merchant_id=entry.id if entry is not None else None,
        )
    return sorted(groups.values(), key=lambda m: (m.key, m.owner_id))
