"""StoreMove over the memory adapters: everything is copied, a second run skips everything (resume), verification
checks counts, records and every file's SHA-256, and a target that disagrees is reported, never overwritten."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from receiptcore.adapters.memory import MemoryReceiptStore, MemoryUserRepo
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery
from receiptcore.domain.receipt import ReceiptStatus
from receiptcore.domain.users import ADMIN, Role
from receiptcore.errors import Conflict
from receiptcore.services.store_move import StoreMove, Stores
from tests.factories import T0, make_receipt, make_user


async def filled_source(receipts: int = 7) -> Stores:
    users, store = MemoryUserRepo(), MemoryReceiptStore()
    admin, member = make_user(roles=[ADMIN]), make_user()
    for user in (admin, member):
        await users.add_user(user)
    await users.add_role(Role(name="bookkeeper", permissions=frozenset({"receipts:read:any"})))
    for i in range(receipts):
        receipt, content = make_receipt(
            owner_id=(admin, member)[i % 2].id,
            status=ReceiptStatus.EXTRACTED if i % 3 else ReceiptStatus.PENDING,
            total=Decimal(f"{i}.15"),
            currency="EUR",
            created_at=T0 + dt.timedelta(minutes=i),
        )
        await store.add(receipt, content)
    return Stores(users, store)


def empty() -> Stores:
    return Stores(MemoryUserRepo(), MemoryReceiptStore())


async def test_a_move_copies_everything_and_verifies() -> None:
    source, target = await filled_source(), empty()
    seen: list[tuple[str, int, int]] = []
    move = StoreMove(source, target, progress=lambda *step: seen.append(step))
    report = await move.run()
    assert report.copied == {"users": 2, "roles": 1, "receipts": 7}
    assert report.problems == []
    verification = await move.verify()
    assert verification.ok, verification.problems
    assert verification.counts == {"users": (2, 2), "roles": (1, 1), "receipts": (7, 7)}
    assert verification.files_checked == 7
    assert ("receipts", 7, 7) in seen
    assert ("verify", 7, 7) in seen


async def test_running_again_resumes_and_copies_nothing_twice() -> None:
    source, target = await filled_source(), empty()
    await StoreMove(source, target).run()
    again = await StoreMove(source, target).run()
    assert again.copied == {"users": 0, "roles": 0, "receipts": 0}
    assert again.skipped == {"users": 2, "roles": 1, "receipts": 7}
    assert (await StoreMove(source, target).verify()).ok


async def test_an_interrupted_move_finishes_on_the_next_run() -> None:
    source, target = await filled_source(), empty()

    class Interrupted(Exception):
        pass

    def stop_after_three(phase: str, done: int, _total: int) -> None:
        if phase == "receipts" and done == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        await StoreMove(source, target, progress=stop_after_three).run()
    assert not (await StoreMove(source, target).verify()).ok
    report = await StoreMove(source, target).run()
    assert report.copied["receipts"] == 4
    assert report.skipped["receipts"] == 3
    assert (await StoreMove(source, target).verify()).ok


async def test_verification_notices_a_damaged_file_in_the_target() -> None:
    source, target = await filled_source(receipts=2), empty()
    move = StoreMove(source, target)
    await move.run()
    first = (await target.receipts.list(ReceiptQuery(), Scope.everyone())).items[0]
    # the target loses the file and gets other bytes under the same receipt id
    await target.receipts.delete(first.id, Scope.everyone())
    other, content = make_receipt(owner_id=first.owner_id, content=b"other bytes")
    await target.receipts.add(first.model_copy(update={"source": other.source}), content)
    verification = await move.verify()
    assert not verification.ok
    assert any(first.id in problem for problem in verification.problems)


async def test_another_user_with_the_same_email_in_the_target_stops_the_move() -> None:
    source, target = await filled_source(receipts=0), empty()
    some = (await source.users.list_users())[0]
    await target.users.add_user(make_user(email=some.email))
    with pytest.raises(Conflict, match="another user"):
        await StoreMove(source, target).run()
