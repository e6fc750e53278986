"""The receipt life cycle as data: the statuses, the named transitions, and where each may lead from where.

    pending ──claim──► processing ──extract──► extracted | needs_review
                        │  ▲  ├──defer──────────────────► pending   (the extractor asked to wait; not a failure)
                        │  │  └──fail──► pending (retried later) | failed (the last allowed attempt)
                        └──┘ claim again once the lease expired (the worker died)
    extracted | needs_review ──confirm──► confirmed
    extracted | needs_review | failed ──correct──► extracted | needs_review;   confirmed ──correct──► confirmed
    extracted | needs_review | failed | confirmed ──requeue──► pending   (re-extraction; the history is kept)

``LIFECYCLE`` is the one definition: ``Receipt``'s transition methods check it, the state-machine test reads it,
and ``NEXT_STATUSES`` (status → every status one transition can reach) is derived from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from receiptcore.errors import InvalidTransition


class ReceiptStatus(StrEnum):
    """Life cycle: pending → processing → extracted | needs_review | failed, then confirmed by a person."""

    PENDING = "pending"
    PROCESSING = "processing"
    EXTRACTED = "extracted"
    NEEDS_REVIEW = "needs_review"
    FAILED = "failed"
    CONFIRMED = "confirmed"


class Transition(StrEnum):
    """The named changes of a receipt's status (each is one method of ``Receipt``)."""

    CLAIM = "claim"  # a worker takes the receipt under a lease
    EXTRACT = "extract"  # the extractor's output is stored
    DEFER = "defer"  # the extractor asked to be retried later (rate limit, outage); not a failure
    FAIL = "fail"  # an attempt failed: retried later, or failed for good after the last allowed attempt
    CORRECT = "correct"  # a person changed fields
    CONFIRM = "confirm"  # a person accepted the data
    REQUEUE = "requeue"  # a person asked for extraction again


_S = ReceiptStatus
_READ = frozenset({_S.EXTRACTED, _S.NEEDS_REVIEW})

# transition → {status it may start from → statuses it may end in}
LIFECYCLE: Mapping[Transition, Mapping[ReceiptStatus, frozenset[ReceiptStatus]]] = MappingProxyType(
    {
        Transition.CLAIM: MappingProxyType(
            {_S.PENDING: frozenset({_S.PROCESSING}), _S.PROCESSING: frozenset({_S.PROCESSING})}
        ),
        Transition.EXTRACT: MappingProxyType({_S.PROCESSING: _READ}),
        Transition.DEFER: MappingProxyType({_S.PROCESSING: frozenset({_S.PENDING})}),
        Transition.FAIL: MappingProxyType({_S.PROCESSING: frozenset({_S.PENDING, _S.FAILED})}),
        Transition.CORRECT: MappingProxyType(
            {_S.EXTRACTED: _READ, _S.NEEDS_REVIEW: _READ, _S.FAILED: _READ, _S.CONFIRMED: frozenset({_S.CONFIRMED})}
        ),
        Transition.CONFIRM: MappingProxyType({status: frozenset({_S.CONFIRMED}) for status in _READ}),
        Transition.REQUEUE: MappingProxyType(
            {status: frozenset({_S.PENDING}) for status in (*_READ, _S.FAILED, _S.CONFIRMED)}
        ),
    }
)

# status → every status one transition may lead to (derived from LIFECYCLE)
NEXT_STATUSES: Mapping[ReceiptStatus, frozenset[ReceiptStatus]] = MappingProxyType(
    {
        status: frozenset().union(*(edges.get(status, frozenset()) for edges in LIFECYCLE.values()))
        for status in ReceiptStatus
    }
)

# What a refused transition tells the person (formatted with the current status); the API shows it as the detail.
_REFUSALS: Mapping[Transition, str] = MappingProxyType(
    {
        Transition.CLAIM: "a {status} receipt is not waiting for extraction",
        Transition.EXTRACT: "a {status} receipt is not being extracted",
        Transition.DEFER: "a {status} receipt is not being extracted",
        Transition.FAIL: "a {status} receipt is not being extracted",
        Transition.CORRECT: "the receipt is still being extracted; correct it when extraction has finished",
        Transition.CONFIRM: "a {status} receipt cannot be confirmed; it needs extracted data first",
        Transition.REQUEUE: "the receipt is being extracted right now",
    }
)


def allowed(transition: Transition, current: ReceiptStatus) -> frozenset[ReceiptStatus]:
    """The statuses ``transition`` may lead to from ``current``; empty when it may not start there."""
    return LIFECYCLE[transition].get(current, frozenset())


def check(transition: Transition, current: ReceiptStatus, target: ReceiptStatus | None = None) -> None:
    """Raise InvalidTransition unless ``transition`` may take a ``current`` receipt to ``target`` (to anywhere
    when ``target`` is None: whether it may start from ``current`` at all).

    Raises:
        InvalidTransition: with the refusal sentence of ``transition``; ``extra`` names the transition and statuses.
    """
    targets = allowed(transition, current)
    if not targets if target is None else target not in targets:
        raise InvalidTransition(
            _REFUSALS[transition].format(status=current.value),
            transition=transition.value,
            status=current.value,
            target=None if target is None else target.value,
        )
