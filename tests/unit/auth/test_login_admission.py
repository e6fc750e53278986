"""LoginAdmission: a bounded count of logins in progress; a ticket inside a held one is that same place."""

from __future__ import annotations

import asyncio

import pytest

from receiptcore.errors import Overloaded
from receiptcore.services.admission import LoginAdmission


def test_tickets_past_the_limit_are_refused_and_places_come_back() -> None:
    admission = LoginAdmission(2)
    with admission.ticket():
        assert admission.in_progress == 1
        assert not admission.full
    admission.in_progress = 2
    with pytest.raises(Overloaded), admission.ticket():
        pass  # pragma: no cover
    admission.in_progress = 0
    with pytest.raises(ValueError, match="at least 1"):
        LoginAdmission(0)


def test_a_ticket_inside_a_held_one_is_the_same_place_even_when_full() -> None:
    # the HTTP layer takes the place before routing and the route takes it again: counted once, never refused
    admission = LoginAdmission(1)
    with admission.ticket():
        assert admission.full
        with admission.ticket():
            assert admission.in_progress == 1
        assert admission.in_progress == 1
    assert admission.in_progress == 0
    with admission.ticket():  # and after it, a fresh place again
        assert admission.in_progress == 1


async def test_concurrent_logins_hold_places_of_their_own() -> None:
    admission = LoginAdmission(2)
    inside = asyncio.Event()
    release = asyncio.Event()

    async def login() -> None:
        with admission.ticket():
            inside.set()
            await release.wait()
            with admission.ticket():  # the route's, within this login's own
                pass

    first = asyncio.create_task(login())
    await inside.wait()
    second = asyncio.create_task(login())
    await asyncio.sleep(0)
    assert admission.in_progress == 2  # another task's ticket is not this one's place
    with pytest.raises(Overloaded), admission.ticket():
        pass  # pragma: no cover
    release.set()
    await asyncio.gather(first, second)
    assert admission.in_progress == 0
