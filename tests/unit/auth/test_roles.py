"""RoleService: built-in and custom roles, permission checks, escalation guard, events."""

from __future__ import annotations

import pytest

from receiptcore.domain.users import ADMIN, AUDITOR, BUILTIN_ROLES, MEMBER, USERS_READ
from receiptcore.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.unit.auth.support import GOOD_PASSWORD, World, root


async def test_create_update_delete_custom_role(world: World) -> None:
    role = await world.roles.create_role(root(), "bookkeeper", ["receipts:read", "receipts:read:any"], "Books")
    assert role.permissions == frozenset({"receipts:read", "receipts:read:any"})
    assert (await world.roles.all_roles())["bookkeeper"] == role
    updated = await world.roles.update_role(root(), "bookkeeper", description="Keeps books")
    assert updated.permissions == role.permissions
    assert updated.description == "Keeps books"
    updated = await world.roles.update_role(root(), "bookkeeper", permissions=[USERS_READ])
    assert updated.permissions == frozenset({USERS_READ})
    await world.roles.delete_role(root(), "bookkeeper")
    assert "bookkeeper" not in await world.roles.all_roles()
    assert world.bus.types() == ["role.changed"] * 4
    assert [e.payload["action"] for e in world.bus.events] == ["created", "updated", "updated", "deleted"]


async def test_all_roles_includes_builtins(world: World) -> None:
    roles = await world.roles.all_roles()
    assert {ADMIN, AUDITOR, MEMBER} <= roles.keys()
    assert roles[ADMIN] == BUILTIN_ROLES[ADMIN]


async def test_list_roles_needs_users_read_or_roles_manage(world: World) -> None:
    await world.roles.create_role(root(), "zeta", [])
    member = world.principal_of(await world.make_user())
    with pytest.raises(PermissionDenied):
        await world.roles.list_roles(member)
    auditor = world.principal_of(await world.make_user(roles=[AUDITOR]))
    names = [r.name for r in await world.roles.list_roles(auditor)]
    assert names == [ADMIN, AUDITOR, MEMBER, "zeta"]


async def test_built_in_roles_cannot_be_created_changed_or_deleted(world: World) -> None:
    with pytest.raises(Conflict):
        await world.roles.create_role(root(), ADMIN, [])
    with pytest.raises(Conflict):
        await world.roles.update_role(root(), MEMBER, permissions=["receipts:read:any"])
    with pytest.raises(Conflict):
        await world.roles.delete_role(root(), AUDITOR)


async def test_unknown_permissions_and_bad_names_are_validation_errors(world: World) -> None:
    with pytest.raises(ValidationFailed, match="unknown permissions"):
        await world.roles.create_role(root(), "weird", ["receipts:delete:everything"])
    for name in ["Upper", "x", "with space", "1starts-with-digit", "a" * 60]:
        with pytest.raises(ValidationFailed):
            await world.roles.create_role(root(), name, [])
    assert await world.repo.list_roles() == []


async def test_duplicate_and_missing_roles(world: World) -> None:
    await world.roles.create_role(root(), "bookkeeper", [])
    with pytest.raises(Conflict):
        await world.roles.create_role(root(), "bookkeeper", [])
    with pytest.raises(NotFound):
        await world.roles.update_role(root(), "ghost", description="x")
    with pytest.raises(NotFound):
        await world.roles.delete_role(root(), "ghost")


async def test_a_role_still_held_cannot_be_deleted_even_by_a_disabled_user(world: World) -> None:
    await world.roles.create_role(root(), "bookkeeper", ["receipts:read"])
    user = await world.make_user(roles=["bookkeeper"])
    with pytest.raises(Conflict, match="still held"):
        await world.roles.delete_role(root(), "bookkeeper")
    await world.make_user(roles=[ADMIN])
    await world.users.set_disabled(root(), user.id, True)
    with pytest.raises(Conflict):
        await world.roles.delete_role(root(), "bookkeeper")
    await world.users.set_roles(root(), user.id, [MEMBER])
    await world.roles.delete_role(root(), "bookkeeper")


async def test_role_changes_need_roles_manage(world: World) -> None:
    await world.roles.create_role(root(), "bookkeeper", [])
    auditor = world.principal_of(await world.make_user(roles=[AUDITOR]))
    with pytest.raises(PermissionDenied):
        await world.roles.create_role(auditor, "other", [])
    with pytest.raises(PermissionDenied):
        await world.roles.update_role(auditor, "bookkeeper", description="x")
    with pytest.raises(PermissionDenied):
        await world.roles.delete_role(auditor, "bookkeeper")


async def test_a_role_manager_cannot_define_permissions_they_lack(world: World) -> None:
    await world.roles.create_role(root(), "role-admin", ["roles:manage", "users:read"])
    manager = await world.make_user(roles=["role-admin"])
    principal = await world.auth.authenticate((await world.auth.login(manager.email, GOOD_PASSWORD)).access_token)
    assert principal.permissions == frozenset({"roles:manage", "users:read"})
    with pytest.raises(PermissionDenied):
        await world.roles.create_role(principal, "sneaky", ["users:manage"])
    with pytest.raises(PermissionDenied):
        await world.roles.update_role(principal, "role-admin", permissions=["roles:manage", "receipts:read:any"])
    assert (await world.roles.create_role(principal, "reader", [USERS_READ])).name == "reader"
