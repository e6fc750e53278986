"""UserService: creation, reads, updates, roles, disabling, last-admin protection, first admin."""

from __future__ import annotations

import pytest

from receiptcore.domain.policy import Principal
from receiptcore.domain.users import ADMIN, AUDITOR, MEMBER
from receiptcore.errors import (
    Conflict,
    InvalidCredentials,
    NotFound,
    PermissionDenied,
    TokenRejected,
    ValidationFailed,
    WeakPassword,
)
from tests.unit.auth.support import GOOD_PASSWORD, World, root


async def test_create_admin_and_login(world: World) -> None:
    admin = await world.users.create_admin("Boss@Example.com", GOOD_PASSWORD)
    assert admin.roles == [ADMIN]
    assert admin.email == "boss@example.com"
    assert admin.password_hash.startswith("$argon2id$")
    assert (await world.auth.login("boss@example.com", GOOD_PASSWORD)).user.id == admin.id
    assert world.bus.types() == ["user.created"]


@pytest.mark.parametrize("email", ["not-an-email", "a@b.", "a@.b", "two@@example.com", "sp ace@example.com", ""])
async def test_bad_email_is_a_validation_error(world: World, email: str) -> None:
    with pytest.raises(ValidationFailed):
        await world.users.create_admin(email, GOOD_PASSWORD)


async def test_duplicate_email_conflicts_case_insensitively(world: World) -> None:
    await world.users.create_admin("dup@example.com", GOOD_PASSWORD)
    with pytest.raises(Conflict):
        await world.users.create_user(root(), "DUP@example.com", GOOD_PASSWORD)


async def test_weak_password_is_refused_at_creation(world: World) -> None:
    for weak in ["short", "password1234", "new@example.com"]:
        with pytest.raises(WeakPassword):
            await world.users.create_user(root(), "new@example.com", weak)
    assert await world.repo.count_users() == 0


async def test_ensure_first_admin_only_on_an_empty_store(world: World) -> None:
    created = await world.users.ensure_first_admin()
    assert created is not None
    user, password = created
    assert user.email == "admin@localhost"
    assert user.roles == [ADMIN]
    assert len(password) >= 24
    assert (await world.auth.login("admin@localhost", password)).user.id == user.id
    assert await world.users.ensure_first_admin() is None
    assert await world.repo.count_users() == 1


async def test_ensure_first_admin_does_nothing_when_any_user_exists(world: World) -> None:
    await world.make_user()
    assert await world.users.ensure_first_admin() is None


async def test_create_user_needs_users_manage(world: World) -> None:
    member = await world.make_user()
    with pytest.raises(PermissionDenied):
        await world.users.create_user(world.principal_of(member), "x@example.com", GOOD_PASSWORD)


async def test_create_user_with_unknown_role_is_a_validation_error(world: World) -> None:
    with pytest.raises(ValidationFailed, match="unknown roles"):
        await world.users.create_user(root(), "x@example.com", GOOD_PASSWORD, roles=["wizard"])


async def test_create_user_defaults_to_member_and_publishes(world: World) -> None:
    user = await world.users.create_user(root(), "x@example.com", GOOD_PASSWORD, display_name="X")
    assert user.roles == [MEMBER]
    assert user.display_name == "X"
    assert world.bus.events[-1].type == "user.created"
    assert world.bus.events[-1].payload["user_id"] == user.id


async def test_a_delegated_manager_cannot_grant_admin(world: World) -> None:
    await world.roles.create_role(root(), "helpdesk", ["users:read", "users:manage", "receipts:read"])
    helpdesk = await world.make_user(roles=["helpdesk"])
    principal = await _authenticated(world, helpdesk.email)
    with pytest.raises(PermissionDenied):
        await world.users.create_user(principal, "x@example.com", GOOD_PASSWORD, roles=[ADMIN])
    member = await world.users.create_user(principal, "y@example.com", GOOD_PASSWORD, roles=[])
    with pytest.raises(PermissionDenied):
        await world.users.set_roles(principal, member.id, [AUDITOR])  # auditor reads any receipt
    admin = await world.make_user(roles=[ADMIN])
    with pytest.raises(PermissionDenied):
        await world.users.update_user(principal, admin.id, password="taken-over-account-1")


async def test_get_user_needs_users_read_unless_self(world: World) -> None:
    member, other = await world.make_user(), await world.make_user()
    principal = world.principal_of(member)
    assert (await world.users.get_user(principal, member.id)).id == member.id
    with pytest.raises(PermissionDenied):
        await world.users.get_user(principal, other.id)
    auditor = world.principal_of(await world.make_user(roles=[AUDITOR]))
    assert (await world.users.get_user(auditor, other.id)).id == other.id
    with pytest.raises(NotFound):
        await world.users.get_user(auditor, "0190a0a0-0000-7000-8000-000000000000")


async def test_list_users_needs_users_read(world: World) -> None:
    member = await world.make_user()
    await world.make_user()
    with pytest.raises(PermissionDenied):
        await world.users.list_users(world.principal_of(member))
    assert len(await world.users.list_users(root())) == 2
    assert len(await world.users.list_users(root(), limit=1)) == 1


async def test_update_user_changes_fields_and_password(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    updated = await world.users.update_user(root(), user.id, display_name="Renamed", email="renamed@example.com")
    assert (updated.display_name, updated.email, updated.token_version) == ("Renamed", "renamed@example.com", 1)
    assert (await world.auth.authenticate(session.access_token)).user_id == user.id  # no revocation for a rename
    updated = await world.users.update_user(root(), user.id, password="a-brand-new-passphrase-9")
    assert updated.token_version == 2
    assert world.bus.types()[-1] == "user.tokens_revoked"
    assert (await world.auth.login("renamed@example.com", "a-brand-new-passphrase-9")).user.id == user.id


async def test_update_user_refuses_bad_input(world: World) -> None:
    user, other = await world.make_user(), await world.make_user()
    with pytest.raises(ValidationFailed):
        await world.users.update_user(root(), user.id, email="nope")
    with pytest.raises(ValidationFailed):
        await world.users.update_user(root(), user.id, display_name="x" * 500)
    with pytest.raises(Conflict):
        await world.users.update_user(root(), user.id, email=other.email)
    with pytest.raises(WeakPassword):
        await world.users.update_user(root(), user.id, password="password1234")
    with pytest.raises(PermissionDenied):
        await world.users.update_user(world.principal_of(other), user.id, display_name="hacked")
    assert (await world.repo.get_user(user.id)).display_name == ""


async def test_set_roles_bumps_version_and_publishes(world: World) -> None:
    user = await world.make_user()
    updated = await world.users.set_roles(root(), user.id, [MEMBER, AUDITOR, MEMBER])
    assert updated.roles == [MEMBER, AUDITOR]
    assert updated.token_version == 2
    event = world.bus.events[-1]
    assert event.type == "user.roles_changed"
    assert event.payload == {"user_id": user.id, "token_version": 2, "roles": [MEMBER, AUDITOR]}
    with pytest.raises(ValidationFailed):
        await world.users.set_roles(root(), user.id, ["nope"])
    with pytest.raises(PermissionDenied):
        await world.users.set_roles(world.principal_of(user), user.id, [ADMIN])


async def test_last_active_admin_cannot_lose_the_role_or_be_disabled(world: World) -> None:
    admin = await world.make_user(roles=[ADMIN])
    with pytest.raises(Conflict, match="last active admin"):
        await world.users.set_roles(root(), admin.id, [MEMBER])
    with pytest.raises(Conflict, match="last active admin"):
        await world.users.set_disabled(root(), admin.id, True)
    second = await world.make_user(roles=[ADMIN])
    await world.users.set_roles(root(), admin.id, [MEMBER])  # allowed now: another admin remains
    with pytest.raises(Conflict):
        await world.users.set_disabled(root(), second.id, True)
    assert await world.repo.count_active_with_role(ADMIN) == 1


async def test_a_disabled_admin_does_not_count_as_the_remaining_admin(world: World) -> None:
    first = await world.make_user(roles=[ADMIN])
    second = await world.make_user(roles=[ADMIN])
    await world.users.set_disabled(root(), second.id, True)
    with pytest.raises(Conflict):
        await world.users.set_roles(root(), first.id, [MEMBER])


async def test_nobody_can_disable_themselves(world: World) -> None:
    await world.make_user(roles=[ADMIN])
    admin = await world.make_user(roles=[ADMIN])
    with pytest.raises(Conflict, match="your own"):
        await world.users.set_disabled(world.principal_of(admin), admin.id, True)


async def test_disable_revokes_sessions_and_enable_restores_login(world: World) -> None:
    admin = world.principal_of(await world.make_user(roles=[ADMIN]))
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    disabled = await world.users.set_disabled(admin, user.id, True)
    assert disabled.disabled
    assert disabled.token_version == 2
    assert world.bus.events[-1].type == "user.disabled"
    assert all(t.revoked_at is not None for t in world.repo._tokens.values() if t.user_id == user.id)
    assert session.refresh_token
    enabled = await world.users.set_disabled(admin, user.id, False)
    assert not enabled.disabled
    assert world.bus.events[-1].payload["disabled"] is False
    assert (await world.auth.login(user.email, GOOD_PASSWORD)).user.id == user.id


async def test_set_disabled_needs_users_manage(world: World) -> None:
    member, other = await world.make_user(), await world.make_user()
    with pytest.raises(PermissionDenied):
        await world.users.set_disabled(world.principal_of(member), other.id, True)


async def _authenticated(world: World, email: str) -> Principal:
    session = await world.auth.login(email, GOOD_PASSWORD)
    return await world.auth.authenticate(session.access_token)


async def test_setting_the_same_disabled_state_changes_nothing(world: World) -> None:
    user = await world.make_user()
    published = len(world.bus.events)
    unchanged = await world.users.set_disabled(root(), user.id, False)
    assert unchanged.token_version == 1
    assert len(world.bus.events) == published


async def test_reset_password_generates_one_ends_sessions_and_publishes(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    reset, one_time = await world.users.reset_password(root(), user.id)
    assert reset.token_version == user.token_version + 1
    assert world.bus.events[-1].type == "user.tokens_revoked"
    assert all(t.revoked_at is not None for t in world.repo._tokens.values() if t.user_id == user.id)
    with pytest.raises(TokenRejected):
        await world.auth.authenticate(session.access_token)
    with pytest.raises(InvalidCredentials):
        await world.auth.login(user.email, GOOD_PASSWORD)
    assert (await world.auth.login(user.email, one_time)).user.id == user.id
    _, another = await world.users.reset_password(root(), user.id)
    assert another != one_time


async def test_reset_password_with_a_chosen_password_applies_the_policy(world: World) -> None:
    user = await world.make_user()
    with pytest.raises(WeakPassword):
        await world.users.reset_password(root(), user.id, "password1234")
    assert (await world.repo.get_user(user.id)).token_version == user.token_version
    _, chosen = await world.users.reset_password(root(), user.id, "another good passphrase 9")
    assert chosen == "another good passphrase 9"
    assert (await world.auth.login(user.email, chosen)).user.id == user.id


async def test_reset_password_keeps_a_disabled_user_disabled(world: World) -> None:
    user = await world.make_user()
    await world.users.set_disabled(root(), user.id, True)
    _, one_time = await world.users.reset_password(root(), user.id)
    assert (await world.repo.get_user(user.id)).disabled
    with pytest.raises(InvalidCredentials):
        await world.auth.login(user.email, one_time)


async def test_reset_password_needs_users_manage_and_never_reaches_beyond_the_caller(world: World) -> None:
    member, other = await world.make_user(), await world.make_user()
    admin = await world.make_user(roles=[ADMIN])
    with pytest.raises(PermissionDenied):
        await world.users.reset_password(world.principal_of(member), other.id)
    with pytest.raises(PermissionDenied, match="/auth/password"):
        await world.users.reset_password(world.principal_of(admin), admin.id)
    with pytest.raises(NotFound):
        await world.users.reset_password(root(), "01900000-0000-7000-8000-000000000000")
