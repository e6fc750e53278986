"""The UserRepo contract (ports.UserRepo docstrings), one test body run against every adapter."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from receiptcore.domain.ids import new_id
from receiptcore.domain.users import ADMIN, AUDITOR, MEMBER, Role
from receiptcore.errors import Conflict, NotFound
from receiptcore.ports import UserRepo
from tests.factories import USER_T0 as T0
from tests.factories import make_token, make_user


async def test_added_user_reads_back_equal(repo: UserRepo) -> None:
    user = make_user(roles=[MEMBER, AUDITOR])
    user.password_changed_at = T0 + dt.timedelta(seconds=5)
    await repo.add_user(user)
    assert await repo.get_user(user.id) == user
    assert await repo.find_user_by_email(user.email) == user


async def test_missing_user_is_not_found(repo: UserRepo) -> None:
    with pytest.raises(NotFound):
        await repo.get_user(new_id())
    assert await repo.find_user_by_email("nobody@example.com") is None


async def test_email_is_unique_case_insensitively(repo: UserRepo) -> None:
    await repo.add_user(make_user("Same@Example.com"))
    with pytest.raises(Conflict):
        await repo.add_user(make_user("same@example.COM"))
    found = await repo.find_user_by_email("SAME@example.com")
    assert found is not None
    assert found.email == "same@example.com"


async def test_save_overwrites_and_refuses_a_taken_email(repo: UserRepo) -> None:
    first, second = make_user(), make_user()
    await repo.add_user(first)
    await repo.add_user(second)
    second.display_name = "Grace"
    second.roles = [ADMIN]
    second.token_version = 7
    second.disabled = True
    await repo.save_user(second)
    assert await repo.get_user(second.id) == second
    second.email = first.email.upper()
    with pytest.raises(Conflict):
        await repo.save_user(second)
    assert (await repo.get_user(second.id)).display_name == "Grace"


async def test_save_user_can_change_own_email_and_frees_the_old_one(repo: UserRepo) -> None:
    user = make_user()
    await repo.add_user(user)
    old = user.email
    user.email = f"renamed-{user.id}@example.com"
    await repo.save_user(user)
    assert await repo.find_user_by_email(old) is None
    await repo.add_user(make_user(old))


async def test_save_missing_user_is_not_found(repo: UserRepo) -> None:
    with pytest.raises(NotFound):
        await repo.save_user(make_user())


async def test_list_users_pages_by_id(repo: UserRepo) -> None:
    users = [make_user() for _ in range(5)]
    for user in reversed(users):
        await repo.add_user(user)
    ids = sorted(u.id for u in users)
    assert [u.id for u in await repo.list_users(limit=2)] == ids[:2]
    assert [u.id for u in await repo.list_users(limit=2, after=ids[1])] == ids[2:4]
    assert [u.id for u in await repo.list_users(limit=10, after=ids[3])] == ids[4:]
    assert await repo.list_users(after=ids[4]) == []


async def test_counts_include_disabled_users_but_active_role_count_does_not(repo: UserRepo) -> None:
    await repo.add_user(make_user(roles=[ADMIN]))
    await repo.add_user(make_user(roles=[ADMIN, MEMBER]))
    await repo.add_user(make_user(roles=[ADMIN], disabled=True))
    await repo.add_user(make_user(roles=["administrators"]))
    assert await repo.count_users() == 4
    assert await repo.count_active_with_role(ADMIN) == 2
    assert await repo.count_active_with_role(MEMBER) == 1
    assert await repo.count_active_with_role(AUDITOR) == 0


async def test_custom_roles_lifecycle(repo: UserRepo) -> None:
    role = Role(name="bookkeeper", description="Books", permissions=frozenset({"receipts:read", "receipts:read:any"}))
    await repo.add_role(role)
    await repo.add_role(Role(name="approver", permissions=frozenset()))
    with pytest.raises(Conflict):
        await repo.add_role(Role(name="bookkeeper"))
    assert [r.name for r in await repo.list_roles()] == ["approver", "bookkeeper"]
    changed = role.model_copy(update={"permissions": frozenset({"users:read"}), "description": "Changed"})
    await repo.save_role(changed)
    assert (await repo.list_roles())[1] == changed
    await repo.delete_role("approver")
    with pytest.raises(NotFound):
        await repo.delete_role("approver")
    with pytest.raises(NotFound):
        await repo.save_role(Role(name="ghost"))
    assert await repo.list_roles() == [changed]


async def test_refresh_token_is_found_by_hash_and_used_once(repo: UserRepo) -> None:
    user = make_user()
    await repo.add_user(user)
    token = make_token(user)
    await repo.add_refresh_token(token)
    assert await repo.find_refresh_token(token.token_hash) == token
    assert await repo.find_refresh_token("0" * 64) is None
    at = T0 + dt.timedelta(minutes=3)
    assert await repo.use_refresh_token(token.id, at) is True
    assert await repo.use_refresh_token(token.id, at) is False
    used = await repo.find_refresh_token(token.token_hash)
    assert used is not None
    assert used.used_at == at
    assert await repo.use_refresh_token(new_id(), at) is False


async def test_revoked_token_cannot_be_used(repo: UserRepo) -> None:
    user = make_user()
    await repo.add_user(user)
    token = make_token(user)
    await repo.add_refresh_token(token)
    assert await repo.revoke_refresh_family(token.family_id, T0) == 1
    assert await repo.use_refresh_token(token.id, T0) is False


async def test_revoke_family_and_user_count_only_unrevoked_tokens(repo: UserRepo) -> None:
    user, other = make_user(), make_user()
    await repo.add_user(user)
    await repo.add_user(other)
    family = new_id()
    members = [make_token(user, family_id=family) for _ in range(3)]
    second_family = make_token(user)
    foreign = make_token(other)
    for token in [*members, second_family, foreign]:
        await repo.add_refresh_token(token)
    at = T0 + dt.timedelta(hours=1)
    assert await repo.revoke_refresh_family(family, at) == 3
    assert await repo.revoke_refresh_family(family, at) == 0
    revoked = await repo.find_refresh_token(members[0].token_hash)
    assert revoked is not None
    assert revoked.revoked_at == at
    assert await repo.revoke_user_refresh_tokens(user.id, at) == 1
    assert await repo.revoke_user_refresh_tokens(user.id, at) == 0
    untouched = await repo.find_refresh_token(foreign.token_hash)
    assert untouched is not None
    assert untouched.revoked_at is None


async def test_a_session_is_live_until_a_token_of_its_family_is_revoked(repo: UserRepo) -> None:
    user = make_user()
    await repo.add_user(user)
    first = make_token(user)
    await repo.add_refresh_token(first)
    other = make_token(user)
    await repo.add_refresh_token(other)
    assert await repo.session_revoked(first.family_id) is False
    assert await repo.use_refresh_token(first.id, T0)  # rotation uses a token; the session lives on
    await repo.add_refresh_token(make_token(user, family_id=first.family_id))
    assert await repo.session_revoked(first.family_id) is False
    await repo.revoke_refresh_family(first.family_id, T0)
    assert await repo.session_revoked(first.family_id) is True
    assert await repo.session_revoked(other.family_id) is False  # another session of the same user
    await repo.revoke_user_refresh_tokens(user.id, T0)
    assert await repo.session_revoked(other.family_id) is True
    assert await repo.session_revoked(new_id()) is True  # a session never stored is not a live one


async def test_exactly_one_of_concurrent_uses_wins(repo: UserRepo) -> None:
    user = make_user()
    await repo.add_user(user)
    tokens = [make_token(user) for _ in range(5)]
    for token in tokens:
        await repo.add_refresh_token(token)
    for token in tokens:
        results = await asyncio.gather(*(repo.use_refresh_token(token.id, T0) for _ in range(4)))
        assert sorted(results) == [False, False, False, True]


async def test_returned_objects_are_copies(repo: UserRepo) -> None:
    user = make_user()
    await repo.add_user(user)
    user.display_name = "changed after add"
    fetched = await repo.get_user(user.id)
    assert fetched.display_name == "Ada"
    fetched.roles.append(ADMIN)
    assert (await repo.get_user(user.id)).roles == [MEMBER]


async def test_non_ascii_email_is_found_case_insensitively(repo: UserRepo) -> None:
    user = make_user("Jürgen.Ölmann@Example.de")
    await repo.add_user(user)
    found = await repo.find_user_by_email("JÜRGEN.ÖLMANN@example.DE")
    assert found is not None
    assert found.id == user.id
    with pytest.raises(Conflict):
        await repo.add_user(make_user("jürgen.ölmann@EXAMPLE.de"))
