"""Receipt's named transitions: each follows the domain's table, sets its dependent fields together, refuses the rest.

The table itself (``receiptcore.domain.lifecycle.LIFECYCLE``) is the one definition; these tests drive every
transition method from every status and check the method and the table agree, then pin what each sets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import get_type_hints

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiptcore.domain.lifecycle import LIFECYCLE, NEXT_STATUSES, ReceiptStatus, Transition, allowed
from receiptcore.domain.receipt import (
    Correction,
    ExtractedReceipt,
    ExtractionAttempt,
    Merchant,
    Receipt,
    ReceiptWarning,
    _Changes,
)
from receiptcore.errors import Conflict, InvalidTransition
from tests.factories import T0, make_receipt

S = ReceiptStatus
LATER = T0 + dt.timedelta(minutes=5)
ATTEMPT = ExtractionAttempt(attempt=1, extractor="memory", extractor_version="1", started_at=T0)
OUTPUT = ExtractedReceipt(merchant=Merchant(name="SHOP"), currency="EUR", total=Decimal("4.20"), pages=2)
REVIEW = [ReceiptWarning(code="total_mismatch")]


def _leased(status: ReceiptStatus) -> Receipt:
    receipt, _ = make_receipt(status=status, lease_owner="w1", lease_until=LATER, next_attempt_at=T0, version=3)
    return receipt


# every transition method, called with arguments that let it reach each of its targets
CALLS: dict[Transition, list[Callable[[Receipt], Receipt]]] = {
    Transition.CLAIM: [lambda r: r.claimed_by("w2", LATER)],
    Transition.EXTRACT: [
        lambda r: r.extracted_from(OUTPUT, ATTEMPT, warnings=[], duplicate_of=None, at=LATER),
        lambda r: r.extracted_from(OUTPUT, ATTEMPT, warnings=REVIEW, duplicate_of="other", at=LATER),
    ],
    Transition.DEFER: [lambda r: r.deferred(ATTEMPT, until=LATER, at=T0)],
    Transition.FAIL: [
        lambda r: r.failed(ATTEMPT, retry_at=LATER, at=T0),
        lambda r: r.failed(ATTEMPT, retry_at=None, at=T0),
    ],
    Transition.CORRECT: [
        lambda r: r.corrected(r, [], warnings=[], at=LATER),
        lambda r: r.corrected(r, [], warnings=REVIEW, at=LATER),
    ],
    Transition.CONFIRM: [lambda r: r.confirmed(LATER)],
    Transition.REQUEUE: [lambda r: r.requeued(LATER)],
}
# the two person's transitions that are no-ops where the receipt already is
IDEMPOTENT = {(Transition.CONFIRM, S.CONFIRMED), (Transition.REQUEUE, S.PENDING)}


def test_every_transition_has_a_method_and_a_refusal() -> None:
    assert set(CALLS) == set(Transition) == set(LIFECYCLE)


@given(status=st.sampled_from(S), transition=st.sampled_from(Transition), variant=st.integers(0, 1))
def test_a_transition_goes_only_where_the_table_lets_it(
    status: ReceiptStatus, transition: Transition, variant: int
) -> None:
    calls = CALLS[transition]
    call = calls[variant % len(calls)]
    receipt = _leased(status)
    if (transition, status) in IDEMPOTENT:
        assert call(receipt) is receipt
        return
    if not allowed(transition, status):
        with pytest.raises(InvalidTransition) as refused:
            call(receipt)
        assert refused.value.extra["transition"] == transition.value
        assert refused.value.extra["status"] == status.value
        return
    moved = call(receipt)
    assert moved.status in LIFECYCLE[transition][status]
    assert moved.status in NEXT_STATUSES[status]
    assert receipt.status == status, "a transition returns a copy; the original is untouched"


def test_every_allowed_target_is_reached_by_some_call() -> None:
    reached = {
        (transition, status, call(_leased(status)).status)
        for transition, calls in CALLS.items()
        for status in LIFECYCLE[transition]
        for call in calls
        if (transition, status) not in IDEMPOTENT
    }
    table = {
        (transition, status, target)
        for transition, edges in LIFECYCLE.items()
        for status, targets in edges.items()
        for target in targets
    }
    assert reached == table


def test_next_statuses_are_the_union_of_the_transitions() -> None:
    expected = {
        S.PENDING: {S.PROCESSING},
        S.PROCESSING: {S.PROCESSING, S.PENDING, S.EXTRACTED, S.NEEDS_REVIEW, S.FAILED},
        S.EXTRACTED: {S.EXTRACTED, S.NEEDS_REVIEW, S.CONFIRMED, S.PENDING},
        S.NEEDS_REVIEW: {S.EXTRACTED, S.NEEDS_REVIEW, S.CONFIRMED, S.PENDING},
        S.FAILED: {S.EXTRACTED, S.NEEDS_REVIEW, S.PENDING},
        S.CONFIRMED: {S.CONFIRMED, S.PENDING},
    }
    assert dict(NEXT_STATUSES) == expected


def test_a_refused_transition_is_a_conflict_with_the_documented_detail() -> None:
    pending = _leased(S.PENDING)
    with pytest.raises(Conflict) as refused:
        pending.confirmed(LATER)
    assert refused.value.code == "conflict"
    assert refused.value.detail == "a pending receipt cannot be confirmed; it needs extracted data first"
    with pytest.raises(InvalidTransition, match="still being extracted"):
        _leased(S.PROCESSING).require(Transition.CORRECT)
    with pytest.raises(InvalidTransition, match="being extracted right now"):
        _leased(S.PROCESSING).requeued(LATER)
    _leased(S.EXTRACTED).require(Transition.CORRECT)  # allowed: no error


def test_only_a_claim_bumps_the_version_itself() -> None:
    # the store's compare-and-set gives every other transition its new version
    assert _leased(S.PENDING).claimed_by("w2", LATER).version == 4
    assert _leased(S.PROCESSING).deferred(ATTEMPT, until=LATER, at=T0).version == 3
    assert _leased(S.EXTRACTED).confirmed(LATER).version == 3


def test_a_claim_sets_the_lease() -> None:
    claimed = _leased(S.PENDING).claimed_by("w2", LATER)
    assert (claimed.status, claimed.lease_owner, claimed.lease_until) == (S.PROCESSING, "w2", LATER)
    assert claimed.leased_to("w2")
    assert not claimed.leased_to("w1")


@pytest.mark.parametrize(
    "finish",
    [
        lambda r: r.extracted_from(OUTPUT, ATTEMPT, warnings=[], duplicate_of=None, at=LATER),
        lambda r: r.failed(ATTEMPT, retry_at=None, at=LATER),
        lambda r: r.deferred(ATTEMPT, until=LATER + dt.timedelta(seconds=30), at=LATER),
        lambda r: r.failed(ATTEMPT, retry_at=LATER + dt.timedelta(seconds=30), at=LATER),
    ],
    ids=["extracted", "failed", "deferred", "retried"],
)
def test_every_end_of_an_extraction_releases_the_lease_and_records_the_attempt(
    finish: Callable[[Receipt], Receipt],
) -> None:
    done = finish(_leased(S.PROCESSING))
    assert (done.lease_owner, done.lease_until, done.updated_at) == (None, None, LATER)
    assert done.extraction_attempts == [ATTEMPT]
    if done.status == S.PENDING:
        assert done.next_attempt_at == LATER + dt.timedelta(seconds=30)
    else:
        assert done.next_attempt_at is None


def test_extraction_replaces_the_data_and_keeps_the_extracted_copy() -> None:
    done = _leased(S.PROCESSING).extracted_from(OUTPUT, ATTEMPT, warnings=REVIEW, duplicate_of="r2", at=LATER)
    assert (done.status, done.total, done.merchant.name) == (S.NEEDS_REVIEW, Decimal("4.20"), "SHOP")
    assert done.extracted == OUTPUT.data()
    assert (done.warnings, done.possible_duplicate_of, done.source.pages) == (REVIEW, "r2", 2)


def test_a_correction_keeps_a_confirmed_receipt_confirmed_and_audits() -> None:
    confirmed, _ = make_receipt(status=S.CONFIRMED, total=Decimal(3))
    edited = Receipt.model_validate({**confirmed.model_dump(), "total": Decimal(5), "notes": "fixed"})
    audit = Correction(field="total", from_value="3", to_value="5", by="u1", at=LATER)
    done = confirmed.corrected(edited, [audit], warnings=REVIEW, at=LATER)
    assert (done.status, done.total, done.notes, done.updated_at) == (S.CONFIRMED, Decimal(5), "fixed", LATER)
    assert done.corrections == [audit]
    assert done.extracted is not None
    assert done.extracted.total == Decimal(3)


def test_a_requeue_counts_failures_afresh() -> None:
    failed = ATTEMPT.finished("failed", at=T0, duration_ms=1, error="x")
    receipt, _ = make_receipt(status=S.FAILED, extraction_attempts=[failed], queued_at=T0)
    assert receipt.failures_since_queued() == 1
    queued = receipt.requeued(LATER)
    assert (queued.status, queued.queued_at, queued.extraction_attempts) == (S.PENDING, LATER, [failed])
    assert queued.failures_since_queued() == 0
    assert queued.failures_since_queued(failed.model_copy(update={"started_at": LATER})) == 1


def test_the_typed_changes_name_only_receipt_fields() -> None:
    # the TypedDict behind the transitions' keyword checks must not drift from the model
    assert set(get_type_hints(_Changes)) <= set(Receipt.model_fields)
