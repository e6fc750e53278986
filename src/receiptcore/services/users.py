"""User and role administration use cases, plus the first-admin bootstrap.

Besides the permission each use case names, two rules stop privilege escalation by delegated managers:
a caller may only grant roles, define role permissions, or manage users whose permissions are all among
the caller's own (so a ``users:manage`` holder who is not an admin cannot make anyone an admin, nor reset an
admin's password). And the last active admin can never be disabled or lose the admin role: the user repo
enforces that atomically (``UserRepo.save_user_keeping_admin``), so concurrent requests cannot race past it.
Every change of an existing user is saved only if the stored user is still the one read (else Conflict), so a
slow request cannot undo a concurrent one, e.g. re-enable a user who was disabled meanwhile.
"""

from __future__ import annotations

import secrets

from pydantic import ValidationError

from receiptcore.domain.ids import new_id
from receiptcore.domain.policy import Principal, permissions_of, require
from receiptcore.domain.users import (
    ADMIN,
    MEMBER,
    USERS_MANAGE,
    USERS_READ,
    User,
    normalise_email,
)
from receiptcore.errors import Conflict, PermissionDenied, ValidationFailed
from receiptcore.ports import Clock, EventBus, PasswordHasher, UserRepo
from receiptcore.services.audit import AuthAudit
from receiptcore.services.auth import AuthConfig, user_event
from receiptcore.services.authentication import load_roles
from receiptcore.services.credentials import check_password
from receiptcore.services.roles import RoleService

__all__ = ["RoleService", "UserService", "one_time_password"]


def _email(email: str) -> str:
    try:
        return normalise_email(email)
    except ValueError as exc:
        # the reason itself is the detail: "expected an email address" or which invisible character was found
        raise ValidationFailed(str(exc), errors=[{"field": "email", "msg": str(exc)}]) from exc


class UserService:
    """Create, list, read, update, disable users; set their roles; create the first admin."""

    def __init__(
        self,
        users: UserRepo,
        hasher: PasswordHasher,
        bus: EventBus,
        clock: Clock,
        config: AuthConfig | None = None,
        *,
        audit: AuthAudit | None = None,
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._bus = bus
        self._clock = clock
        self._config = config or AuthConfig()
        self._audit = audit or AuthAudit()

    async def create_admin(self, email: str, password: str) -> User:
        """Create a user holding the admin role (CLI / first serve; no principal). Raises Conflict, WeakPassword,
        ValidationFailed (bad email)."""
        return await self._create(_email(email), password, display_name="", roles=[ADMIN])

    async def ensure_first_admin(self, email: str = "admin@localhost") -> tuple[User, str] | None:
        """If there are no users at all, create an admin with a random password and return (user, password) so the
        caller can print it once; otherwise None."""
        if await self._users.count_users() != 0:
            return None
        password = one_time_password()
        address = _email(email)  # the same rule as every other account name (admin@localhost is one)
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
        read = user.model_copy(deep=True)
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
            await self._replace_password(user, password)
        user.updated_at = now
        await self._users.save_user_keeping_admin(user, expected=read)
        if password is not None:
            await self._end_sessions(user)
            self._audit.record("password_reset", "ok", user_id=user.id, actor_id=principal.user_id)
        return user

    async def reset_password(self, principal: Principal, user_id: str, password: str | None = None) -> tuple[User, str]:
        """Give a user a new password and end every session they have; returns (user, the new password).

        Needs users:manage, and the user's permissions must all be the caller's own (so a delegated manager
        cannot take over an admin). Without ``password`` a random one-time password is generated for the caller
        to hand over once. The reset bumps token_version (every access token stops working), revokes every
        refresh token and publishes user.tokens_revoked. A disabled user stays disabled. One's own password is
        changed with ``AuthService.change_password`` (which asks for the current one), so resetting oneself is
        PermissionDenied: a stolen access token alone must not be enough to take an account over.

        Raises:
            NotFound: no such user. PermissionDenied: see above. WeakPassword: ``password`` breaks the policy.
            Conflict: the user changed meanwhile.
        """
        require(principal, USERS_MANAGE)
        user = await self._users.get_user(user_id)
        if user.id == principal.user_id:
            raise PermissionDenied("change your own password with POST /auth/password (it asks for the current one)")
        read = user.model_copy(deep=True)
        await self._check_manageable(principal, user)
        new_password = password if password is not None else one_time_password()
        await self._replace_password(user, new_password)
        user.updated_at = self._clock.now()
        await self._users.save_user_keeping_admin(user, expected=read)
        await self._end_sessions(user)
        self._audit.record("password_reset", "ok", user_id=user.id, actor_id=principal.user_id)
        return user, new_password

    async def _replace_password(self, user: User, password: str) -> None:
        user.password_hash = await self._hash(password, user.email)
        user.password_changed_at = self._clock.now()
        user.token_version += 1

    async def _end_sessions(self, user: User) -> None:
        await self._users.revoke_user_refresh_tokens(user.id, self._clock.now())
        await self._bus.publish(user_event("user.tokens_revoked", user))

    async def set_roles(self, principal: Principal, user_id: str, roles: list[str]) -> User:
        """Needs users:manage. Unknown roles → ValidationFailed; removing the last active admin → Conflict.
        Bumps token_version, publishes user.roles_changed."""
        require(principal, USERS_MANAGE)
        wanted = _dedupe(roles)
        user = await self._users.get_user(user_id)
        read = user.model_copy(deep=True)
        await self._check_manageable(principal, user)
        await self._check_grantable(principal, [r for r in wanted if r not in user.roles])
        user.roles = wanted
        user.token_version += 1
        user.updated_at = self._clock.now()
        # The repo checks and writes in one atomic step: a count here, then a save, would let two concurrent
        # demotions of the last two admins both pass. ``expected`` stops this save from undoing a concurrent one.
        await self._users.save_user_keeping_admin(user, expected=read)
        await self._bus.publish(user_event("user.roles_changed", user, roles=wanted))
        self._audit.record("role_change", "ok", user_id=user.id, actor_id=principal.user_id, roles=",".join(wanted))
        return user

    async def set_disabled(self, principal: Principal, user_id: str, disabled: bool) -> User:
        """Needs users:manage. Disabling the last active admin or oneself → Conflict. Bumps token_version, revokes
        refresh tokens, publishes user.disabled."""
        require(principal, USERS_MANAGE)
        user = await self._users.get_user(user_id)
        read = user.model_copy(deep=True)
        await self._check_manageable(principal, user)
        if user.disabled == disabled:
            return user  # nothing changes, so nothing is revoked
        now = self._clock.now()
        if disabled and user.id == principal.user_id:
            raise Conflict("you cannot disable your own account")
        user.disabled = disabled
        user.token_version += 1
        user.updated_at = now
        await self._users.save_user_keeping_admin(user, expected=read)  # atomic checks, as in set_roles
        if disabled:
            await self._users.revoke_user_refresh_tokens(user.id, now)
        await self._bus.publish(user_event("user.disabled", user, disabled=disabled))
        self._audit.record("disable" if disabled else "enable", "ok", user_id=user.id, actor_id=principal.user_id)
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
        # the policy first: a weak password is refused before the store is even opened (a fresh install's
        # `users create-admin` with a bad password must not leave an empty database behind)
        normalised = self._checked(password, email)
        if await self._users.find_user_by_email(email) is not None:
            raise Conflict("a user with this email already exists")
        user.password_hash = await self._hasher.hash(normalised)
        await self._users.add_user(user)
        await self._bus.publish(user_event("user.created", user))
        self._audit.record("user_created", "ok", user_id=user.id, roles=",".join(user.roles))
        return user

    def _checked(self, password: str, email: str) -> str:
        return check_password(
            password,
            email=email,
            min_length=self._config.password_min_length,
            max_length=self._config.password_max_length,
        )

    async def _hash(self, password: str, email: str) -> str:
        return await self._hasher.hash(self._checked(password, email))

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


def one_time_password() -> str:
    """A random password to show once (first admin, password reset): 24 URL-safe characters, 144 bits."""
    return secrets.token_urlsafe(18)


def _dedupe(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))
