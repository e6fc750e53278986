"""The fair claim order of ``ReceiptStore.claim_pending`` (ports docstring; issue 9, hole 2), on every adapter:
first attempts before retries, round robin by owner, then the oldest."""

from __future__ import annotations

import datetime as dt

from receiptcore.domain.receipt import Receipt, ReceiptStatus
from receiptcore.ports import ReceiptStore
from tests.factories import T0, make_receipt

LEASE = dt.timedelta(minutes=5)


async def _queue(store: ReceiptStore, owner: str, count: int, start: dt.datetime) -> list[Receipt]:
    receipts = []
    for n in range(count):
        receipt, content = make_receipt(owner, created_at=start + dt.timedelta(seconds=n))
        await store.add(receipt, content)
        receipts.append(receipt)
    return receipts


async def _drain(store: ReceiptStore, now: dt.datetime) -> list[str]:
    """Owners of the receipts claimed, in claim order, until nothing is claimable."""
    owners: list[str] = []
    while (claimed := await store.claim_pending(f"w{len(owners)}", now, now + LEASE)) is not None:
        owners.append(claimed.owner_id)
    return owners


async def test_a_later_owner_is_served_before_an_earlier_owners_backlog(store: ReceiptStore) -> None:
    await _queue(store, "flooder", 5, T0)
    await _queue(store, "late", 1, T0 + dt.timedelta(minutes=1))
    first = await store.claim_pending("first", T0 + dt.timedelta(minutes=2), T0 + LEASE)
    assert first is not None
    assert first.owner_id == "flooder"  # the oldest, nobody served yet
    assert (await _drain(store, T0 + dt.timedelta(minutes=2)))[0] == "late"  # then the other owner


async def test_owners_take_turns(store: ReceiptStore) -> None:
    await _queue(store, "a", 4, T0)
    await _queue(store, "b", 2, T0 + dt.timedelta(minutes=1))
    await _queue(store, "c", 1, T0 + dt.timedelta(minutes=2))
    assert await _drain(store, T0 + dt.timedelta(minutes=3)) == ["a", "b", "c", "a", "b", "a", "a"]


async def test_an_owners_own_receipts_stay_oldest_first(store: ReceiptStore) -> None:
    queued = await _queue(store, "a", 3, T0)
    claimed: list[str] = []
    while receipt := await store.claim_pending(f"w{len(claimed)}", T0 + dt.timedelta(minutes=1), T0 + LEASE):
        claimed.append(receipt.id)
    assert claimed == [r.id for r in queued]


async def test_a_due_retry_never_jumps_ahead_of_another_owners_new_upload(store: ReceiptStore) -> None:
    (retry,) = await _queue(store, "flooder", 1, T0)
    claimed = await store.claim_pending("w", T0, T0 + LEASE)
    assert claimed is not None
    waiting = claimed.model_copy(
        update={
            "status": ReceiptStatus.PENDING,
            "lease_owner": None,
            "lease_until": None,
            "next_attempt_at": T0 + dt.timedelta(seconds=30),
        }
    )
    await store.update(waiting, claimed.version)
    await _queue(store, "newcomer", 2, T0 + dt.timedelta(minutes=1))  # uploaded after the retry was due
    now = T0 + dt.timedelta(minutes=2)
    order: list[bool] = []
    while (receipt := await store.claim_pending(f"w{len(order)}", now, now + LEASE)) is not None:
        order.append(receipt.id == retry.id)
    assert order == [False, False, True]  # both new uploads first, even the newcomer's second one


async def test_retries_are_claimed_when_no_first_attempt_waits(store: ReceiptStore) -> None:
    await _queue(store, "a", 1, T0)
    claimed = await store.claim_pending("w", T0, T0 + LEASE)
    assert claimed is not None
    retry = claimed.model_copy(
        update={"status": ReceiptStatus.PENDING, "lease_owner": None, "lease_until": None, "next_attempt_at": T0}
    )
    await store.update(retry, claimed.version)
    again = await store.claim_pending("w", T0 + dt.timedelta(seconds=1), T0 + LEASE)
    assert again is not None
    assert again.id == claimed.id


async def test_a_worker_reclaims_its_own_dead_lease_at_once_and_first(store: ReceiptStore) -> None:
    """A restarted worker (same id) takes back what its previous life held, before the lease expires."""
    (held,) = await _queue(store, "a", 1, T0)
    await _queue(store, "b", 1, T0 + dt.timedelta(seconds=5))
    first = await store.claim_pending("host:slot0-0", T0, T0 + LEASE)
    assert first is not None
    assert first.id == held.id
    # SIGKILL; the worker restarts with the same id well within the lease
    soon = T0 + dt.timedelta(seconds=10)
    assert (await store.claim_pending("other-worker", soon, soon + LEASE)).id != held.id  # type: ignore[union-attr]
    again = await store.claim_pending("host:slot0-0", soon, soon + LEASE)
    assert again is not None
    assert again.id == held.id
    assert again.lease_until == soon + LEASE
