"""UserRepo.save_user_keeping_admin: the last active admin survives, and a save based on a stale read is refused,
also under concurrent saves (one test body per adapter)."""

from __future__ import annotations

import asyncio

import pytest

from receiptcore.domain.users import ADMIN, AUDITOR, User
from receiptcore.errors import Conflict, NotFound
from receiptcore.ports import UserRepo
from tests.factories import demoted, disabled, make_user


async def admins(repo: UserRepo, count: int) -> list[User]:
    users = [make_user(roles=[ADMIN, AUDITOR]) for _ in range(count)]
    for user in users:
        await repo.add_user(user)
    return users


async def test_the_only_admin_can_be_neither_demoted_nor_disabled(repo: UserRepo) -> None:
    (only,) = await admins(repo, 1)
    for change in (demoted(only), disabled(only), disabled(demoted(only))):
        with pytest.raises(Conflict, match="last active admin"):
            await repo.save_user_keeping_admin(change)
        assert await repo.get_user(only.id) == only  # nothing stored
    renamed = only.model_copy(update={"display_name": "Still admin", "roles": [ADMIN]})
    await repo.save_user_keeping_admin(renamed)  # changes that keep them an active admin are fine
    assert await repo.get_user(only.id) == renamed


async def test_one_of_two_admins_can_go_but_not_the_second(repo: UserRepo) -> None:
    first, second = await admins(repo, 2)
    await repo.save_user_keeping_admin(demoted(first))
    with pytest.raises(Conflict):
        await repo.save_user_keeping_admin(disabled(second))
    assert await repo.count_active_with_role(ADMIN) == 1


async def test_a_disabled_admin_is_not_a_remaining_admin(repo: UserRepo) -> None:
    first, second = await admins(repo, 2)
    await repo.save_user(disabled(second))
    with pytest.raises(Conflict):
        await repo.save_user_keeping_admin(demoted(first))


async def test_non_admins_and_inactive_admins_save_freely(repo: UserRepo) -> None:
    # No admin at all: saving other users is not blocked, and granting admin is how the install recovers.
    member = make_user()
    await repo.add_user(member)
    await repo.save_user_keeping_admin(member.model_copy(update={"display_name": "Bea"}))
    off_admin = make_user(roles=[ADMIN], disabled=True)
    await repo.add_user(off_admin)
    await repo.save_user_keeping_admin(demoted(off_admin))
    await repo.save_user_keeping_admin(member.model_copy(update={"roles": [ADMIN]}))
    assert await repo.count_active_with_role(ADMIN) == 1


async def test_missing_user_and_taken_email_behave_like_save_user(repo: UserRepo) -> None:
    with pytest.raises(NotFound):
        await repo.save_user_keeping_admin(make_user())
    first, second = await admins(repo, 2)
    with pytest.raises(Conflict):
        await repo.save_user_keeping_admin(second.model_copy(update={"email": first.email}))
    assert (await repo.get_user(second.id)).email == second.email


async def test_concurrent_removal_of_the_last_two_admins_lets_exactly_one_through(repo: UserRepo) -> None:
    for _ in range(5):
        first, second = await admins(repo, 2)
        outcomes = await asyncio.gather(
            repo.save_user_keeping_admin(demoted(first)),
            repo.save_user_keeping_admin(disabled(second)),
            return_exceptions=True,
        )
        assert sum(isinstance(o, Conflict) for o in outcomes) == 1, outcomes
        assert sum(o is None for o in outcomes) == 1, outcomes
        assert await repo.count_active_with_role(ADMIN) == 1
        # Leave no active admin behind for the next round's pair to lean on.
        survivor = await repo.get_user(first.id if outcomes[1] is None else second.id)
        await repo.save_user(demoted(survivor))


async def test_a_save_based_on_a_stale_read_is_refused(repo: UserRepo) -> None:
    user = make_user()
    await repo.add_user(user)
    read = await repo.get_user(user.id)
    await repo.save_user(disabled(read))  # someone else, meanwhile
    with pytest.raises(Conflict, match="changed"):
        await repo.save_user_keeping_admin(read.model_copy(update={"display_name": "Stale"}), expected=read)
    assert await repo.get_user(user.id) == disabled(read)  # nothing stored: still disabled
    fresh = await repo.get_user(user.id)
    await repo.save_user_keeping_admin(fresh.model_copy(update={"display_name": "Fresh"}), expected=fresh)
    assert (await repo.get_user(user.id)).display_name == "Fresh"


async def test_expected_of_a_missing_user_is_not_found(repo: UserRepo) -> None:
    ghost = make_user()
    with pytest.raises(NotFound):
        await repo.save_user_keeping_admin(ghost, expected=ghost)


async def test_of_concurrent_saves_from_one_read_exactly_one_wins(repo: UserRepo) -> None:
    user = make_user()
    await repo.add_user(user)
    read = await repo.get_user(user.id)
    outcomes = await asyncio.gather(
        repo.save_user_keeping_admin(disabled(read), expected=read),
        repo.save_user_keeping_admin(read.model_copy(update={"display_name": "Other"}), expected=read),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "NoneType"], outcomes
    stored = await repo.get_user(user.id)
    assert stored in (disabled(read), read.model_copy(update={"display_name": "Other"}))
