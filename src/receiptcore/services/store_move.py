"""Moving an install from one set of stores to another (embedded SQLite + files → PostgreSQL + MongoDB).

``StoreMove`` copies through the ports only, so any adapter pair works: users, custom roles, then receipts with their
original files. Every step is idempotent: what the target already holds unchanged is skipped, so an interrupted move
is resumed by running it again. Refresh tokens are not copied: after a move everyone signs in once more (a session
is a credential, and the move is the moment to start them afresh). ``verify`` compares counts, every user, role and
receipt, and every file's SHA-256 as the target returns it.

The source is only read. What it is asked to do is ``list``, ``get`` and ``open_file``; a caller that must leave the
source's files untouched (the CLI) hands in adapters over a snapshot. Listings may return summaries (the port lets a
store leave the extracted copy and the attempts' outputs out), so every receipt is read whole with ``get`` before it
is copied or compared.

Merchant entries (the directory learned from corrections) are copied after the receipts when both sides name a
directory, and verified entry by entry.

What is not copied: refresh tokens (above), login-throttle counters (they only slow guessing down for a while) and
idempotency records (they only replay a retried request; a retried upload of the same bytes is answered as a
duplicate of the copied receipt anyway).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from receiptcore.domain.merchants import MerchantEntry
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery, SortKey
from receiptcore.domain.receipt import Receipt
from receiptcore.domain.users import Role, User
from receiptcore.errors import Conflict, NotFound
from receiptcore.ports import MerchantDirectory, ReceiptStore, UserRepo

_PAGE = 200
_EVERYONE = Scope.everyone()

# (phase, done, total): "users", "roles", "receipts", "verify"
Progress = Callable[[str, int, int], None]


@dataclass
class MoveReport:
    """What one run copied, skipped (already in the target, unchanged) and found different."""

    copied: dict[str, int] = field(default_factory=lambda: {"users": 0, "roles": 0, "receipts": 0})
    skipped: dict[str, int] = field(default_factory=lambda: {"users": 0, "roles": 0, "receipts": 0})
    problems: list[str] = field(default_factory=list)
    merchants_copied: int = 0


@dataclass
class Verification:
    """Counts on both sides and every disagreement found."""

    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    files_checked: int = 0

    @property
    def ok(self) -> bool:
        """Whether the target holds exactly what the source holds."""
        return not self.problems and all(a == b for a, b in self.counts.values())


@dataclass(frozen=True, slots=True)
class Stores:
    """One side of a move."""

    users: UserRepo
    receipts: ReceiptStore
    # the merchant directory (learned spellings and categories); None: not moved (both sides must have one)
    merchants: MerchantDirectory | None = None


async def _all_users(repo: UserRepo) -> AsyncIterator[User]:
    after: str | None = None
    while True:
        page = await repo.list_users(limit=_PAGE, after=after)
        for user in page:
            yield user
        if len(page) < _PAGE:
            return
        after = page[-1].id


async def _all_receipts(store: ReceiptStore) -> AsyncIterator[Receipt]:
    cursor: str | None = None
    while True:
        page = await store.list(ReceiptQuery(limit=_PAGE, sort=SortKey.CREATED_ASC, cursor=cursor), _EVERYONE)
        for receipt in page.items:
            yield receipt
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def _all_merchants(directory: MerchantDirectory) -> AsyncIterator[MerchantEntry]:
    after: str | None = None
    while True:
        batch = await directory.list(_EVERYONE, limit=_PAGE, after=after)
        for entry in batch:
            yield entry
        if len(batch) < _PAGE:
            return
        after = batch[-1].id


async def _count_receipts(store: ReceiptStore) -> int:
    return sum([1 async for _ in _all_receipts(store)])


class StoreMove:
    """Copies users, roles and receipts (with files) from ``source`` to ``target`` and verifies the result."""

    def __init__(self, source: Stores, target: Stores, progress: Progress | None = None) -> None:
        self._source = source
        self._target = target
        self._progress = progress or (lambda _phase, _done, _total: None)

    async def run(self) -> MoveReport:
        """Copy everything missing from the target. Raises Conflict, before anything is written, when the target
        holds what the source does not (``foreign_in_target``), and when it holds something else under a copied
        identity (another user with a copied user's email); StorageUnavailable when a store is down."""
        report = MoveReport()
        foreign = await self.foreign_in_target()
        if foreign:
            raise Conflict(
                f"the target is not empty: it holds {', '.join(foreign)} that the source does not; move into empty "
                "databases (before the new services first start: they create an admin)"
            )
        await self._copy_roles(report)
        await self._copy_users(report)
        await self._copy_receipts(report)
        await self._copy_merchants(report)
        return report

    async def foreign_in_target(self) -> list[str]:
        """What the target holds that the source does not, as phrases (``"1 user (admin@localhost)"``); empty
        when the target is empty or holds only (part of) this source, as after an interrupted run."""
        source_users = {u.id async for u in _all_users(self._source.users)}
        users = [u.email async for u in _all_users(self._target.users) if u.id not in source_users]
        source_roles = {r.name for r in await self._source.users.list_roles()}
        roles = [r.name for r in await self._target.users.list_roles() if r.name not in source_roles]
        source_receipts = {r.id async for r in _all_receipts(self._source.receipts)}
        receipts = [r.id async for r in _all_receipts(self._target.receipts) if r.id not in source_receipts]
        found = [(users, "user"), (roles, "role"), (receipts, "receipt")]
        return [_phrase(names, noun) for names, noun in found if names]

    async def _copy_roles(self, report: MoveReport) -> None:
        roles = await self._source.users.list_roles()
        existing = {role.name: role for role in await self._target.users.list_roles()}
        for done, role in enumerate(roles, 1):
            await self._copy_role(role, existing.get(role.name), report)
            self._progress("roles", done, len(roles))

    async def _copy_role(self, role: Role, existing: Role | None, report: MoveReport) -> None:
        if existing is None:
            await self._target.users.add_role(role)
            report.copied["roles"] += 1
        elif existing != role:
            await self._target.users.save_role(role)  # the source is the truth until the move is done
            report.copied["roles"] += 1
        else:
            report.skipped["roles"] += 1

    async def _copy_users(self, report: MoveReport) -> None:
        total = await self._source.users.count_users()
        done = 0
        async for user in _all_users(self._source.users):
            existing = await self._target.users.find_user_by_email(user.email)
            if existing is None:
                await self._target.users.add_user(user)
                report.copied["users"] += 1
            elif existing.id != user.id:
                raise Conflict(
                    f"the target already has another user with the email {user.email} (id {existing.id}); "
                    "move into empty stores"
                )
            elif existing != user:
                await self._target.users.save_user(user)
                report.copied["users"] += 1
            else:
                report.skipped["users"] += 1
            done += 1
            self._progress("users", done, total)

    async def _copy_receipts(self, report: MoveReport) -> None:
        total = await _count_receipts(self._source.receipts)
        done = 0
        async for receipt in _all_receipts(self._source.receipts):
            await self._copy_receipt(receipt, report)
            done += 1
            self._progress("receipts", done, total)

    async def _copy_receipt(self, listed: Receipt, report: MoveReport) -> None:
        receipt = await self._source.receipts.get(listed.id, _EVERYONE)  # whole, not the listing's summary
        try:
            existing = await self._target.receipts.get(receipt.id, _EVERYONE)
        except NotFound:
            existing = None
        if existing is not None:
            if existing != receipt:
                report.problems.append(f"receipt {receipt.id} differs in the target (changed there since?)")
            report.skipped["receipts"] += 1
            return
        _source_file, content = await self._source.receipts.open_file(receipt.id, _EVERYONE)
        if hashlib.sha256(content).hexdigest() != receipt.source.sha256:
            report.problems.append(f"receipt {receipt.id}: the source file does not match its SHA-256; not copied")
            return
        stored, created = await self._target.receipts.add(receipt, content)
        if not created:
            # the owner already has these bytes under another receipt id in the target
            report.problems.append(f"receipt {receipt.id}: the target holds the same file as receipt {stored.id}")
            return
        report.copied["receipts"] += 1

    async def _copy_merchants(self, report: MoveReport) -> None:
        """Copy every merchant entry missing from the target; one that differs there is reported, not replaced."""
        source, target = self._source.merchants, self._target.merchants
        if source is None or target is None:
            return
        async for entry in _all_merchants(source):
            try:
                existing = await target.get(entry.id, _EVERYONE)
            except NotFound:
                await target.add(entry)
                report.merchants_copied += 1
                continue
            if existing != entry:
                report.problems.append(f"merchant {entry.id} differs in the target (changed there since?)")

    async def _verify_merchants(self, result: Verification) -> None:
        source, target = self._source.merchants, self._target.merchants
        if source is None or target is None:
            return
        async for entry in _all_merchants(source):
            try:
                if await target.get(entry.id, _EVERYONE) != entry:
                    result.problems.append(f"merchant {entry.id} differs in the target")
            except NotFound:
                result.problems.append(f"merchant {entry.id} is missing in the target")

    async def verify(self) -> Verification:
        """Compare both sides: counts, each user and role, each receipt, and the SHA-256 of every target file."""
        result = Verification()
        source_users = {u.id: u async for u in _all_users(self._source.users)}
        target_users = {u.id: u async for u in _all_users(self._target.users)}
        result.counts["users"] = (len(source_users), len(target_users))
        result.problems += [
            f"user {uid} missing or different" for uid, u in source_users.items() if target_users.get(uid) != u
        ]
        source_roles = {r.name: r for r in await self._source.users.list_roles()}
        target_roles = {r.name: r for r in await self._target.users.list_roles()}
        result.counts["roles"] = (len(source_roles), len(target_roles))
        result.problems += [
            f"role {n} missing or different" for n, r in source_roles.items() if target_roles.get(n) != r
        ]
        total = await _count_receipts(self._source.receipts)
        target_count = await _count_receipts(self._target.receipts)
        result.counts["receipts"] = (total, target_count)
        done = 0
        async for receipt in _all_receipts(self._source.receipts):
            await self._verify_receipt(receipt, result)
            done += 1
            self._progress("verify", done, total)
        await self._verify_merchants(result)
        return result

    async def _verify_receipt(self, listed: Receipt, result: Verification) -> None:
        receipt = await self._source.receipts.get(listed.id, _EVERYONE)
        try:
            copied = await self._target.receipts.get(receipt.id, _EVERYONE)
            source_file, content = await self._target.receipts.open_file(receipt.id, _EVERYONE)
        except NotFound:
            result.problems.append(f"receipt {receipt.id} is missing in the target")
            return
        if copied != receipt:
            result.problems.append(f"receipt {receipt.id} differs in the target")
        digest = hashlib.sha256(content).hexdigest()
        if digest != receipt.source.sha256 or source_file.sha256 != receipt.source.sha256:
            result.problems.append(f"receipt {receipt.id}: the target's file has SHA-256 {digest}")
        result.files_checked += 1


def _phrase(names: list[str], noun: str) -> str:
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"{len(names)} {noun}{'' if len(names) == 1 else 's'} ({shown})"
