"""User and role administration use cases, plus the first-admin bootstrap.

SKELETON: signatures are the contract; bodies are filled in by the auth work package.
"""

from __future__ import annotations

from receiptcore.domain.policy import Principal
from receiptcore.domain.users import Role, User
from receiptcore.ports import Clock, EventBus, PasswordHasher, UserRepo
from receiptcore.services.auth import AuthConfig


class UserService:
    """Create, list, read, update, disable users; set their roles; create the first admin."""

    def __init__(
        self, users: UserRepo, hasher: PasswordHasher, bus: EventBus, clock: Clock, config: AuthConfig | None = None
    ) -> None:
        ...

    async def create_admin(self, email: str, password: str) -> User:
        """Create a user holding the admin role (CLI / first serve; no principal). Raises Conflict, WeakPassword,
        ValidationFailed (bad email)."""
        ...

    async def ensure_first_admin(self, email: str = "admin@localhost") -> tuple[User, str] | None:
        """If there are no users at all, create an admin with a random password and return (user, password) so the
        caller can print it once; otherwise None."""
        ...

    async def create_user(
        self, principal: Principal, email: str, password: str, display_name: str = "", roles: list[str] | None = None
    ) -> User:
        """Needs users:manage. Roles must exist. Publishes user.created."""
        ...

    async def list_users(self, principal: Principal, *, limit: int = 100, after: str | None = None) -> list[User]:
        """Needs users:read."""
        ...

    async def get_user(self, principal: Principal, user_id: str) -> User:
        """Needs users:read, or the caller's own id."""
        ...

    async def update_user(
        self, principal: Principal, user_id: str, *, display_name: str | None = None, email: str | None = None,
        password: str | None = None,
    ) -> User:
        """Needs users:manage. A new password bumps token_version and revokes refresh tokens."""
        ...

    async def set_roles(self, principal: Principal, user_id: str, roles: list[str]) -> User:
        """Needs users:manage. Unknown roles → ValidationFailed; removing the last active admin → Conflict.
        Bumps token_version, publishes user.roles_changed."""
        ...

    async def set_disabled(self, principal: Principal, user_id: str, disabled: bool) -> User:
        """Needs users:manage. Disabling the last active admin or oneself → Conflict. Bumps token_version, revokes
        refresh tokens, publishes user.disabled."""
        ...


class RoleService:
    """Built-in and custom roles."""

    def __init__(self, users: UserRepo, bus: EventBus) -> None:
        ...

    async def all_roles(self) -> dict[str, Role]:
        """Built-in plus custom roles by name (no permission check: used to resolve principals)."""
        ...

    async def list_roles(self, principal: Principal) -> list[Role]:
        """Needs users:read or roles:manage."""
        ...

    async def create_role(self, principal: Principal, name: str, permissions: list[str], description: str = "") -> Role:
        """Needs roles:manage. Unknown permission strings → ValidationFailed; existing name → Conflict."""
        ...

    async def update_role(
        self, principal: Principal, name: str, *, permissions: list[str] | None = None, description: str | None = None
    ) -> Role:
        """Needs roles:manage. Built-in roles → Conflict. Publishes role.changed."""
        ...

    async def delete_role(self, principal: Principal, name: str) -> None:
        """Needs roles:manage. Built-in roles → Conflict; a role still held by users → Conflict. Publishes
        role.changed."""
        ...
