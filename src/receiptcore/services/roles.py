"""Built-in and custom roles: listing them, and defining custom ones without escalating privileges.

A caller may only put permissions it holds itself into a custom role (docs/adr/0005), so ``roles:manage`` alone
cannot mint a role with ``users:manage`` or the admin's powers.
"""

from __future__ import annotations

from pydantic import ValidationError

from receiptcore.domain.events import Event
from receiptcore.domain.policy import Principal, require
from receiptcore.domain.users import BUILTIN_ROLES, PERMISSIONS, ROLES_MANAGE, USERS_READ, Role
from receiptcore.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from receiptcore.ports import EventBus, UserRepo
from receiptcore.services.authentication import load_roles


class RoleService:
    """Built-in and custom roles."""

    def __init__(self, users: UserRepo, bus: EventBus) -> None:
        self._users = users
        self._bus = bus

    async def all_roles(self) -> dict[str, Role]:
        """Built-in plus custom roles by name (no permission check: used to resolve principals)."""
        return await load_roles(self._users)

    async def list_roles(self, principal: Principal) -> list[Role]:
        """Needs users:read or roles:manage. Built-in roles first, then custom roles by name."""
        if not principal.can(USERS_READ):
            require(principal, ROLES_MANAGE)
        return [*BUILTIN_ROLES.values(), *await self._users.list_roles()]

    async def create_role(self, principal: Principal, name: str, permissions: list[str], description: str = "") -> Role:
        """Needs roles:manage. Unknown permission strings → ValidationFailed; existing name → Conflict."""
        require(principal, ROLES_MANAGE)
        if name in BUILTIN_ROLES:
            raise Conflict(f"{name!r} is a built-in role")
        role = _role(name, _permissions(principal, permissions), description)
        await self._users.add_role(role)
        await self._changed(name, "created")
        return role

    async def update_role(
        self, principal: Principal, name: str, *, permissions: list[str] | None = None, description: str | None = None
    ) -> Role:
        """Needs roles:manage. Built-in roles → Conflict. Publishes role.changed."""
        require(principal, ROLES_MANAGE)
        if name in BUILTIN_ROLES:
            raise Conflict(f"built-in role {name!r} cannot be changed")
        current = await self._custom(name)
        role = _role(
            name,
            _permissions(principal, permissions) if permissions is not None else current.permissions,
            description if description is not None else current.description,
        )
        await self._users.save_role(role)
        await self._changed(name, "updated")
        return role

    async def delete_role(self, principal: Principal, name: str) -> None:
        """Needs roles:manage. Built-in roles → Conflict; a role still held by users → Conflict. Publishes
        role.changed."""
        require(principal, ROLES_MANAGE)
        if name in BUILTIN_ROLES:
            raise Conflict(f"built-in role {name!r} cannot be deleted")
        await self._custom(name)
        if await self._held(name):
            raise Conflict(f"role {name!r} is still held by users; take it from them first")
        await self._users.delete_role(name)
        await self._changed(name, "deleted")

    async def _custom(self, name: str) -> Role:
        for role in await self._users.list_roles():
            if role.name == name:
                return role
        raise NotFound(f"no role named {name!r}")

    async def _held(self, name: str) -> bool:
        # Disabled users count too: re-enabling them must not resurrect a deleted (or re-created) role.
        after: str | None = None
        while page := await self._users.list_users(limit=500, after=after):
            if any(name in user.roles for user in page):
                return True
            after = page[-1].id
        return False

    async def _changed(self, name: str, action: str) -> None:
        await self._bus.publish(Event(type="role.changed", payload={"name": name, "action": action}))


def _field_errors(exc: ValidationError) -> list[dict[str, object]]:
    """Pydantic's field errors as plain JSON-safe dicts (no URLs, no exception objects)."""
    return [{"field": ".".join(map(str, e["loc"])), "msg": e["msg"]} for e in exc.errors()]


def _permissions(principal: Principal, permissions: list[str]) -> frozenset[str]:
    wanted = frozenset(permissions)
    unknown = wanted - PERMISSIONS
    if unknown:
        raise ValidationFailed(f"unknown permissions: {', '.join(sorted(unknown))}", errors=[{"field": "permissions"}])
    beyond = wanted - principal.permissions
    if beyond:
        raise PermissionDenied(f"you cannot grant permissions you do not hold: {', '.join(sorted(beyond))}")
    return wanted


def _role(name: str, permissions: frozenset[str], description: str) -> Role:
    try:
        return Role(name=name, permissions=permissions, description=description)
    except ValidationError as exc:
        raise ValidationFailed("invalid role", errors=_field_errors(exc)) from exc
