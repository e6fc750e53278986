"""MemoryMerchantDirectory: the MerchantDirectory port in a dict (one process; the double of unit tests)."""

from __future__ import annotations

import builtins

from receiptcore.domain.merchants import MerchantEntry
from receiptcore.domain.policy import Scope
from receiptcore.errors import Conflict, NotFound, require_version
from receiptcore.ports import MerchantDirectory


class MemoryMerchantDirectory(MerchantDirectory):
    """Entries by id; the per-owner key uniqueness is checked on every write. Entries are immutable models, so
    handing them out shares no mutable state."""

    def __init__(self) -> None:
        self._entries: dict[str, MerchantEntry] = {}

    async def entries(self, owner_id: str) -> builtins.list[MerchantEntry]:
        """Every entry of ``owner_id``, ordered by id."""
        return sorted((e for e in self._entries.values() if e.owner_id == owner_id), key=lambda e: e.id)

    async def list(self, scope: Scope, *, limit: int = 100, after: str | None = None) -> builtins.list[MerchantEntry]:
        """Entries inside ``scope`` by id, after ``after``, at most ``limit``."""
        visible = sorted(
            (e for e in self._entries.values() if scope.allows(e.owner_id) and (after is None or e.id > after)),
            key=lambda e: e.id,
        )
        return visible[: max(0, limit)]

    async def get(self, entry_id: str, scope: Scope) -> MerchantEntry:
        """The entry; NotFound when absent or outside ``scope``."""
        entry = self._entries.get(entry_id)
        if entry is None or not scope.allows(entry.owner_id):
            raise NotFound(f"merchant {entry_id} not found")
        return entry

    async def add(self, entry: MerchantEntry) -> None:
        """Store a new entry; Conflict on a taken id or owner key."""
        if entry.id in self._entries:
            raise Conflict(f"merchant {entry.id} already exists")
        self._check_key(entry)
        self._entries[entry.id] = entry

    async def save(self, entry: MerchantEntry, expected_version: int) -> MerchantEntry:
        """Compare-and-set on ``version``; the stored copy gets ``expected_version + 1``."""
        current = self._entries.get(entry.id)
        if current is not None and current.owner_id != entry.owner_id:
            current = None  # another owner's entry is not found
        require_version(f"merchant {entry.id}", None if current is None else current.version, expected_version)
        self._check_key(entry)
        stored = entry.model_copy(update={"version": expected_version + 1})
        self._entries[entry.id] = stored
        return stored

    async def delete(self, entry_id: str, scope: Scope) -> None:
        """Delete the entry; NotFound when absent or outside ``scope``."""
        await self.get(entry_id, scope)
        del self._entries[entry_id]

    def _check_key(self, entry: MerchantEntry) -> None:
        key = entry.key
        for other in self._entries.values():
            if other.owner_id == entry.owner_id and other.id != entry.id and other.key == key:
                raise Conflict(f"the merchant {other.name!r} already has this name")
