"""User and role administration use cases, plus the first-admin bootstrap.

Besides the permission each use case names, two rules stop privilege escalation by delegated managers:
a caller may only grant roles, define role permissions, or manage users whose permissions are all among
the caller's own (so a ``users:manage`` holder who is not an admin cannot make anyone an admin, nor reset an
admin's password). And the last active admin can never be disabled or lose the admin role: the user repo
enforces that atomically (``UserRepo.save_user_keeping_admin``), so concurrent requests cannot race past it.
"""

from __future__ import annotations

import secrets

from pydantic import ValidationError

from receiptcore.domain.events import Event
from receiptcore.domain.ids import new_id
from receiptcore.domain.policy import Principal, permissions_of, require
from receiptcore.domain.users import (
    ADMIN,
    BUILTIN_ROLES,
    MEMBER,
    PERMISSIONS,
    ROLES_MANAGE,
    USERS_MANAGE,
    USERS_READ,
    Role,
    User,
    normalise_email,
)
from receiptcore.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from receiptcore.ports import Clock, EventBus, PasswordHasher, UserRepo
from receiptcore.services.auth import AuthConfig, load_roles, user_event
from receiptcore.services.credentials import check_password


def _email(email: str) -> str:
    try:
        return normalise_email(email)
    except ValueError as exc:
        raise ValidationFailed("not an email address", errors=[{"field": "email", "msg": str(exc)}]) from exc


class UserService:
    """Create, list, read, update, disable users; set their roles; create the first admin."""

    def __init__(
        self, users: UserRepo, hasher: PasswordHasher, bus: EventBus, clock: Clock, config: AuthConfig | None = None
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._bus = bus
        self._clock = clock
        self._config = config or AuthConfig()

    async def create_admin(self, email: str, password: str) -> User:
        """Create a user holding the admin role (CLI / first serve; no principal). Raises Conflict, WeakPassword,
        ValidationFailed (bad email)."""
        return await self._create(_email(email), password, display_name="", roles=[ADMIN])

    async def ensure_first_admin(self, email: str = "admin@localhost") -> tuple[User, str] | None:
        """If there are no users at all, create an admin with a random password and return (user, password) so the
        caller can print it once; otherwise None."""
        if await self._users.count_users() != 0:
            return None
        password = secrets.token_urlsafe(18)
        # admin@localhost has no dotted domain, so the default address skips the public-address check.
        address = email.strip().lower() if email.strip().lower() == "admin@localhost" else _email(email)
        try:
            user = await self._create(address, password, display_name="Administrator", roles=[ADMIN])
        except Conflict:
            return None  # another instance bootstrapped at the same moment
        return user, password

    async def create_user(
        self, principal: Principal, email: str, password: str, display_name: str = "", roles: list[str] | None = None
    ) -> User:
        """Needs users:manage. Roles must exist. Publishes user.created."""
        require(principal, USERS_MANAGE)
        wanted = _dedupe(roles if roles is not None else [MEMBER])
        await self._check_grantable(principal, wanted)
        return await self._create(_email(email), password, display_name=display_name, roles=wanted)

    async def list_users(self, principal: Principal, *, limit: int = 100, after: str | None = None) -> list[User]:
        """Needs users:read."""
        require(principal, USERS_READ)
        return await self._users.list_users(limit=min(max(limit, 1), 1000), after=after)

    async def get_user(self, principal: Principal, user_id: str) -> User:
        """Needs users:read, or the caller's own id."""
        if principal.user_id != user_id:
            require(principal, USERS_READ)
        return await self._users.get_user(user_id)

    async def update_user(
        self,
        principal: Principal,
        user_id: str,
        *,
        display_name: str | None = None,
        email: str | None = None,
        password: str | None = None,
    ) -> User:
        """Needs users:manage. A new password bumps token_version and revokes refresh tokens."""
        require(principal, USERS_MANAGE)
        user = await self._users.get_user(user_id)
        await self._check_manageable(principal, user)
        now = self._clock.now()
        try:
            if display_name is not None:
                user.display_name = display_name
            if email is not None:
                user.email = _email(email)
        except ValidationError as exc:
            raise ValidationFailed(
                "invalid user fields", errors=exc.errors(include_url=False, include_context=False)
            ) from exc
        if password is not None:
            user.password_hash = await self._hash(password, user.email)
            user.password_changed_at = now
            user.token_version += 1
        user.updated_at = now
        await self._users.save_user(user)
        if password is not None:
            await self._users.revoke_user_refresh_tokens(user.id, now)
            await self._bus.publish(user_event("user.tokens_revoked", user))
        return user

    async def set_roles(self, principal: Principal, user_id: str, roles: list[str]) -> User:
        """Needs users:manage. Unknown roles → ValidationFailed; removing the last active admin → Conflict.
        Bumps token_version, publishes user.roles_changed."""
        require(principal, USERS_MANAGE)
        wanted = _dedupe(roles)
        user = await self._users.get_user(user_id)
        await self._check_manageable(principal, user)
        await self._check_grantable(principal, [r for r in wanted if r not in user.roles])
        user.roles = wanted
        user.token_version += 1
        user.updated_at = self._clock.now()
        # The repo checks and writes in one atomic step: a count here, then a save, would let two concurrent
        # demotions of the last two admins both pass.
        await self._users.save_user_keeping_admin(user)
        await self._bus.publish(user_event("user.roles_changed", user, roles=wanted))
        return user

    async def set_disabled(self, principal: Principal, user_id: str, disabled: bool) -> User:
        """Needs users:manage. Disabling the last active admin or oneself → Conflict. Bumps token_version, revokes
        refresh tokens, publishes user.disabled."""
        require(principal, USERS_MANAGE)
        user = await self._users.get_user(user_id)
        await self._check_manageable(principal, user)
        if user.disabled == disabled:
            return user  # nothing changes, so nothing is revoked
        now = self._clock.now()
        if disabled and user.id == principal.user_id:
            raise Conflict("you cannot disable your own account")
        user.disabled = disabled
        user.token_version += 1
        user.updated_at = now
        await self._users.save_user_keeping_admin(user)  # atomic last-admin check, as in set_roles
        if disabled:
            await self._users.revoke_user_refresh_tokens(user.id, now)
        await self._bus.publish(user_event("user.disabled", user, disabled=disabled))
        return user

    async def _create(self, email: str, password: str, *, display_name: str, roles: list[str]) -> User:
        now = self._clock.now()
        try:
            user = User(
                id=new_id(),
                email=email,
                display_name=display_name,
                password_hash="pending",  # noqa: S106 - placeholder: validate the cheap fields before hashing
                roles=roles,
                created_at=now,
                updated_at=now,
                password_changed_at=now,
            )
        except ValidationError as exc:
            raise ValidationFailed(
                "invalid user fields", errors=exc.errors(include_url=False, include_context=False)
            ) from exc
        if await self._users.find_user_by_email(email) is not None:
            raise Conflict("a user with this email already exists")
        user.password_hash = await self._hash(password, email)
        await self._users.add_user(user)
        await self._bus.publish(user_event("user.created", user))
        return user

    async def _hash(self, password: str, email: str) -> str:
        normalised = check_password(
            password,
            email=email,
            min_length=self._config.password_min_length,
            max_length=self._config.password_max_length,
        )
        return await self._hasher.hash(normalised)

    async def _check_grantable(self, principal: Principal, roles: list[str]) -> None:
        known = await load_roles(self._users)
        unknown = [r for r in roles if r not in known]
        if unknown:
            raise ValidationFailed(f"unknown roles: {', '.join(sorted(unknown))}", errors=[{"field": "roles"}])
        beyond = permissions_of(roles, known) - principal.permissions
        if beyond:
            raise PermissionDenied(f"you cannot grant permissions you do not hold: {', '.join(sorted(beyond))}")

    async def _check_manageable(self, principal: Principal, user: User) -> None:
        if user.id == principal.user_id:
            return
        beyond = permissions_of(user.roles, await load_roles(self._users)) - principal.permissions
        if beyond:
            raise PermissionDenied("you cannot manage a user who holds permissions you do not hold")


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


def _dedupe(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


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
