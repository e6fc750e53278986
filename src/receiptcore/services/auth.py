"""Authentication use cases: log in, refresh (rotation with reuse detection), log out, authenticate a
bearer token (with a bounded verified-token cache), me, change own password.

SKELETON: signatures are the contract the HTTP layer and CLI code against; bodies are filled in by the
auth work package.
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime as dt

from receiptcore.domain.events import Event
from receiptcore.domain.policy import Principal
from receiptcore.domain.users import User
from receiptcore.ports import Clock, EventBus, PasswordHasher, TokenIssuer, UserRepo


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Session and password policy."""

    refresh_idle_ttl: dt.timedelta = dt.timedelta(days=14)
    refresh_absolute_ttl: dt.timedelta = dt.timedelta(days=90)
    password_min_length: int = 12
    password_max_length: int = 1024
    verified_token_cache_size: int = 10_000


@dataclass(frozen=True, slots=True)
class Session:
    """What a login or refresh hands out."""

    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_at: dt.datetime
    user: User


class AuthService:
    """Sessions and credentials."""

    def __init__(
        self, users: UserRepo, hasher: PasswordHasher, tokens: TokenIssuer, bus: EventBus, clock: Clock,
        config: AuthConfig | None = None,
    ) -> None:
        ...

    async def login(self, email: str, password: str) -> Session:
        """Check credentials (constant work whether or not the user exists), rehash if parameters got
        stronger, start a new refresh family. Raises InvalidCredentials (also for a disabled user)."""
        ...

    async def refresh(self, refresh_token: str) -> Session:
        """Rotate: the presented token is used up and a new one of the same family is returned. A token
        presented twice revokes its whole family. Raises TokenRejected (unknown, expired, reused, revoked,
        disabled user)."""
        ...

    async def logout(self, refresh_token: str | None) -> None:
        """Revoke the token's family. Unknown or missing tokens are ignored (logout is idempotent)."""
        ...

    async def authenticate(self, access_token: str) -> Principal:
        """Verify a bearer token and return the caller. Rejects tokens of an older token_version and
        disabled users. Raises TokenRejected."""
        ...

    async def me(self, principal: Principal) -> User:
        """The caller's own user record."""
        ...

    async def change_password(self, principal: Principal, current: str, new: str) -> None:
        """Check ``current``, apply the password policy to ``new``, store it, bump token_version, revoke refresh
        tokens, publish user.tokens_revoked. Raises InvalidCredentials, WeakPassword."""
        ...

    async def handle_event(self, event: Event) -> None:
        """Invalidate per-instance caches on user.* and role.changed events (from any instance)."""
        ...
