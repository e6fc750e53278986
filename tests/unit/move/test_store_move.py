"""StoreMove over the memory adapters: everything is copied, a second run skips everything (resume), verification
checks counts, records and every file's SHA-256, and a target that disagrees is reported, never overwritten."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from receiptcore.adapters.memory import MemoryReceiptStore, MemoryUserRepo
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import Page, ReceiptQuery
from receiptcore.domain.receipt import Receipt, ReceiptStatus
from receiptcore.domain.users import ADMIN, Role
from receiptcore.errors import Conflict
from receiptcore.services.store_move import StoreMove, Stores
from tests.factories import T0, make_receipt, make_user
from tests.unit.move.builders import rich_receipt


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


async def test_another_user_with_the_same_email_in_the_target_stops_the_move_before_anything_is_written() -> None:
    source, target = await filled_source(receipts=2), empty()
    some = (await source.users.list_users())[0]
    await target.users.add_user(make_user(email=some.email))
    with pytest.raises(Conflict, match=r"not empty: it holds 1 user \(" + some.email):
        await StoreMove(source, target).run()
    assert await target.users.count_users() == 1
    assert (await target.receipts.list(ReceiptQuery(), Scope.everyone())).items == []


async def test_a_target_holding_other_receipts_or_roles_is_refused_but_a_partial_copy_of_the_source_is_not() -> None:
    source, target = await filled_source(receipts=3), empty()
    await StoreMove(source, target).run()  # a partial (here: whole) copy of this source is fine to resume
    assert await StoreMove(source, target).foreign_in_target() == []
    stranger, content = make_receipt(content=b"someone else's receipt")
    await target.receipts.add(stranger, content)
    await target.users.add_role(Role(name="zz-other", permissions=frozenset({"receipts:read"})))
    foreign = await StoreMove(source, target).foreign_in_target()
    assert foreign == ["1 role (zz-other)", f"1 receipt ({stranger.id})"]
    with pytest.raises(Conflict, match="not empty"):
        await StoreMove(source, target).run()


class SummarisingStore(MemoryReceiptStore):
    """Lists summaries, as the SQLite and MongoDB stores do (the port allows it): no extracted copy, no outputs."""

    async def list(self, query: ReceiptQuery, scope: Scope) -> Page[Receipt]:
        page = await super().list(query, scope)
        items = [
            r.model_copy(
                update={
                    "extracted": None,
                    "extraction_attempts": [a.model_copy(update={"output": None}) for a in r.extraction_attempts],
                }
            )
            for r in page.items
        ]
        return Page[Receipt](items=items, next_cursor=page.next_cursor)


async def test_receipts_a_store_lists_as_summaries_are_copied_whole_with_attempts_and_extracted_data() -> None:
    users = MemoryUserRepo()
    owner = make_user()
    await users.add_user(owner)
    source = Stores(users, SummarisingStore())
    for seed in range(3):
        receipt, content = rich_receipt(owner.id, seed)
        await source.receipts.add(receipt, content)
    target = Stores(MemoryUserRepo(), SummarisingStore())
    move = StoreMove(source, target)
    await move.run()
    assert (await move.verify()).ok
    for listed in (await source.receipts.list(ReceiptQuery(), Scope.everyone())).items:
        copied = await target.receipts.get(listed.id, Scope.everyone())
        assert copied == await source.receipts.get(listed.id, Scope.everyone())
        assert copied.extracted is not None
        assert copied.extraction_attempts[-1].output is not None
