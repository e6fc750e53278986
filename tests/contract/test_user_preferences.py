"""The user's preferences on every UserRepo adapter (issue 12): the default currency is stored with the user,
kept by every save, and the service above reads it per receipt owner."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from receiptcore.adapters.clock import SystemClock
from receiptcore.domain.ids import new_id
from receiptcore.domain.policy import Principal
from receiptcore.domain.users import ADMIN, MEMBER
from receiptcore.errors import ValidationFailed
from receiptcore.ports import UserRepo
from receiptcore.services.preferences import PreferencesService
from tests.factories import USER_T0 as T0
from tests.factories import make_user


def _principal(user_id: str) -> Principal:
    return Principal(user_id=user_id, roles=frozenset({MEMBER}), permissions=frozenset())


async def test_a_new_user_has_no_currency_of_their_own(repo: UserRepo) -> None:
    user = make_user()
    await repo.add_user(user)
    assert (await repo.get_user(user.id)).default_currency is None


async def test_the_default_currency_reads_back_after_add_and_save(repo: UserRepo) -> None:
    user = make_user(default_currency="CHF")
    await repo.add_user(user)
    assert (await repo.get_user(user.id)).default_currency == "CHF"
    assert (await repo.find_user_by_email(user.email)) == user
    changed = user.with_default_currency("JPY", T0 + dt.timedelta(seconds=1))
    await repo.save_user(changed)
    assert await repo.get_user(user.id) == changed
    cleared = changed.with_default_currency(None, T0 + dt.timedelta(seconds=2))
    await repo.save_user_keeping_admin(cleared, expected=changed)
    assert (await repo.get_user(user.id)).default_currency is None
    [listed] = [u for u in await repo.list_users() if u.id == user.id]
    assert listed == cleared


async def test_a_change_of_roles_keeps_the_default_currency(repo: UserRepo) -> None:
    user = make_user(roles=[MEMBER, ADMIN], default_currency="GBP")
    await repo.add_user(user)
    await repo.save_user_keeping_admin(user.model_copy(update={"display_name": "Grace"}), expected=user)
    assert (await repo.get_user(user.id)).default_currency == "GBP"


def test_a_user_with_a_code_that_is_not_iso_4217_cannot_be_built() -> None:
    for bad in ("eur", "EURO", "XYZ", ""):
        with pytest.raises(ValidationError, match="ISO 4217"):
            make_user(default_currency=bad)


async def test_the_service_sets_reads_and_resets_the_callers_currency(repo: UserRepo) -> None:
    user = make_user()
    await repo.add_user(user)
    service = PreferencesService(repo, SystemClock(), install_default_currency="EUR")
    me = _principal(user.id)
    initial = await service.get(me)
    assert (initial.default_currency, initial.own_default_currency) == ("EUR", None)
    assert await service.currency_for(user.id) == "EUR"
    chosen = await service.set_default_currency(me, "USD")
    assert (chosen.default_currency, chosen.own_default_currency) == ("USD", "USD")
    assert await service.currency_for(user.id) == "USD"
    stored = await repo.get_user(user.id)
    assert stored.default_currency == "USD"
    assert stored.updated_at > user.updated_at
    assert stored.roles == user.roles
    assert stored.token_version == user.token_version  # a preference never ends a session
    reset = await service.set_default_currency(me, None)
    assert reset.default_currency == "EUR"
    assert await service.currency_for(user.id) == "EUR"


async def test_a_bad_code_is_refused_and_nothing_is_stored(repo: UserRepo) -> None:
    user = make_user(default_currency="SEK")
    await repo.add_user(user)
    service = PreferencesService(repo, SystemClock(), install_default_currency=None)
    with pytest.raises(ValidationFailed, match="not an ISO 4217 currency code"):
        await service.set_default_currency(_principal(user.id), "usd")
    assert await repo.get_user(user.id) == user


async def test_an_owner_the_store_does_not_know_gets_the_install_default(repo: UserRepo) -> None:
    assert await PreferencesService(repo, SystemClock(), "NOK").currency_for(new_id()) == "NOK"
    assert await PreferencesService(repo, SystemClock(), None).currency_for(new_id()) is None
