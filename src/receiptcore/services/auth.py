"""Authentication use cases: log in, refresh (rotation with reuse detection), log out, authenticate a
bearer token (with a bounded verified-token cache), me, change own password.

Per-instance caches and why they are safe:

- verified access tokens (LRU keyed by the whole token string, dropped when the token expires): skips the
  signature check, never the revocation check;
- user state (token version, disabled, roles) for ``state_cache_ttl``, dropped on ``user.*`` events;
- role definitions for ``role_cache_ttl``, dropped on ``role.changed``.

Events from any instance arrive through ``handle_event``; the TTLs bound staleness if one is missed (broker
down), so a revoked token stops working within a few seconds even without the bus.

User events carry ``payload = {"user_id": ..., "token_version": ...}``; ``role.changed`` carries
``{"name": ..., "action": "created" | "updated" | "deleted"}``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from receiptcore.domain.events import Event
from receiptcore.domain.ids import new_id
from receiptcore.domain.policy import Principal
from receiptcore.domain.users import BUILTIN_ROLES, RefreshToken, Role, User
from receiptcore.errors import Conflict, InvalidCredentials, NotFound, TokenRejected
from receiptcore.ports import AccessClaims, Clock, EventBus, PasswordHasher, TokenIssuer, UserRepo
from receiptcore.services.credentials import check_password, hash_secret, normalise_password
from receiptcore.services.throttle import LoginThrottle

# Refresh tokens we issue are 43 characters; anything far longer is not ours and is not worth hashing.
_MAX_REFRESH_TOKEN_LENGTH = 256


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Session and password policy."""

    refresh_idle_ttl: dt.timedelta = dt.timedelta(days=14)
    refresh_absolute_ttl: dt.timedelta = dt.timedelta(days=90)
    password_min_length: int = 12
    password_max_length: int = 1024
    verified_token_cache_size: int = 10_000
    state_cache_ttl: dt.timedelta = dt.timedelta(seconds=5)
    state_cache_size: int = 10_000
    role_cache_ttl: dt.timedelta = dt.timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Session:
    """What a login or refresh hands out."""

    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_at: dt.datetime
    user: User


async def load_roles(users: UserRepo) -> dict[str, Role]:
    """Built-in plus custom roles by name (custom roles can never shadow a built-in one)."""
    roles = {role.name: role for role in await users.list_roles()}
    roles.update(BUILTIN_ROLES)
    return roles


def user_event(kind: str, user: User, **extra: object) -> Event:
    """A ``user.*`` event about ``user`` with the payload every instance's cache invalidation expects."""
    payload: dict[str, object] = {"user_id": user.id, "token_version": user.token_version, **extra}
    return Event.model_validate({"type": kind, "payload": payload})


class AuthService:
    """Sessions and credentials."""

    def __init__(  # noqa: PLR0917 - positional order is the published contract (services/auth.py skeleton)
        self,
        users: UserRepo,
        hasher: PasswordHasher,
        tokens: TokenIssuer,
        bus: EventBus,
        clock: Clock,
        config: AuthConfig | None = None,
        *,
        throttle: LoginThrottle,
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._tokens = tokens
        self._bus = bus
        self._clock = clock
        self._config = config or AuthConfig()
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()
        self._states: OrderedDict[str, tuple[User, dt.datetime]] = OrderedDict()
        self._roles: tuple[dict[str, Role], dt.datetime] | None = None
        self._throttle = throttle
        self._dummy_hash: str | None = None

    async def login(self, email: str, password: str, client: str | None = None) -> Session:
        """Check credentials (constant work whether or not the user exists), rehash if parameters got
        stronger, start a new refresh family. ``client`` is the caller's address for the per-client limit.
        Raises InvalidCredentials (also for a disabled user), or RateLimited while the account or the client
        backs off after failures (the credentials are then not checked at all)."""
        key = email.strip().lower()
        user = await self._throttle.guard(key, client, lambda: self._check_credentials(key, password))
        now = self._clock.now()
        return await self._start_session(user, new_id(), now + self._config.refresh_absolute_ttl, now)

    async def _check_credentials(self, key: str, password: str) -> User:
        now = self._clock.now()
        user = await self._users.find_user_by_email(key) if key else None
        candidate = normalise_password(password)
        if len(candidate) > self._config.password_max_length:
            # Refused before hashing, identically for every account, so it reveals nothing.
            raise InvalidCredentials("wrong email or password")
        encoded = user.password_hash if user is not None else await self._dummy()
        matches = await self._hasher.verify(encoded, candidate)
        if user is None or not matches or user.disabled:
            raise InvalidCredentials("wrong email or password")
        if self._hasher.needs_rehash(user.password_hash):
            read = user.model_copy(deep=True)
            user.password_hash = await self._hasher.hash(candidate)
            user.updated_at = now
            try:
                await self._users.save_user_keeping_admin(user, expected=read)
            except Conflict:
                # Changed meanwhile (perhaps disabled): that change wins; the next login rehashes.
                user = await self._users.get_user(user.id)
                if user.disabled:
                    raise InvalidCredentials("wrong email or password") from None
        return user

    async def refresh(self, refresh_token: str) -> Session:
        """Rotate: the presented token is used up and a new one of the same family is returned. A token
        presented twice revokes its whole family. Raises TokenRejected (unknown, expired, reused, revoked,
        disabled user)."""
        if not refresh_token or len(refresh_token) > _MAX_REFRESH_TOKEN_LENGTH:
            raise TokenRejected("unknown refresh token")
        now = self._clock.now()
        stored = await self._users.find_refresh_token(hash_secret(refresh_token))
        if stored is None:
            raise TokenRejected("unknown refresh token")
        if stored.revoked_at is not None:
            raise TokenRejected("refresh token was revoked")
        if stored.used_at is not None:
            await self._users.revoke_refresh_family(stored.family_id, now)
            raise TokenRejected("refresh token was already used; the session has been revoked")
        if now >= stored.expires_at or now >= stored.family_expires_at:
            raise TokenRejected("refresh token has expired")
        if not await self._users.use_refresh_token(stored.id, now):
            # Lost a race with another presentation of the same token: that is reuse too.
            await self._users.revoke_refresh_family(stored.family_id, now)
            raise TokenRejected("refresh token was already used; the session has been revoked")
        try:
            user = await self._users.get_user(stored.user_id)
        except NotFound as exc:
            raise TokenRejected("the account no longer exists") from exc
        if user.disabled:
            await self._users.revoke_refresh_family(stored.family_id, now)
            raise TokenRejected("the account is disabled")
        return await self._start_session(user, stored.family_id, stored.family_expires_at, now)

    async def logout(self, refresh_token: str | None) -> None:
        """Revoke the token's family. Unknown or missing tokens are ignored (logout is idempotent)."""
        if not refresh_token or len(refresh_token) > _MAX_REFRESH_TOKEN_LENGTH:
            return
        stored = await self._users.find_refresh_token(hash_secret(refresh_token))
        if stored is not None:
            await self._users.revoke_refresh_family(stored.family_id, self._clock.now())

    async def authenticate(self, access_token: str) -> Principal:
        """Verify a bearer token and return the caller. Rejects tokens of an older token_version and
        disabled users. Raises TokenRejected."""
        now = self._clock.now()
        claims = self._verify_cached(access_token, now)
        user = await self._user_state(claims.subject, now)
        if user is None:
            raise TokenRejected("the account no longer exists")
        if user.disabled:
            raise TokenRejected("the account is disabled")
        if claims.token_version != user.token_version:
            raise TokenRejected("token was revoked")
        roles = await self._role_definitions(now)
        return Principal.of_user(user, roles)

    async def me(self, principal: Principal) -> User:
        """The caller's own user record."""
        return await self._users.get_user(principal.user_id)

    async def change_password(self, principal: Principal, current: str, new: str) -> None:
        """Check ``current``, apply the password policy to ``new``, store it, bump token_version, revoke refresh
        tokens, publish user.tokens_revoked. Raises InvalidCredentials, WeakPassword, or RateLimited after too
        many wrong current passwords (a stolen access token must not become an unlimited password oracle)."""
        user = await self._users.get_user(principal.user_id)
        read = user.model_copy(deep=True)

        async def check_current() -> None:
            if not await self._hasher.verify(user.password_hash, normalise_password(current)):
                raise InvalidCredentials("the current password is wrong")

        await self._throttle.guard_secret("password-change", user.id, check_current)
        normalised = check_password(
            new,
            email=user.email,
            min_length=self._config.password_min_length,
            max_length=self._config.password_max_length,
        )
        now = self._clock.now()
        user.password_hash = await self._hasher.hash(normalised)
        user.password_changed_at = now
        user.updated_at = now
        user.token_version += 1
        # Saved only if unchanged since read: hashing is slow, and a disable meanwhile must not be undone.
        await self._users.save_user_keeping_admin(user, expected=read)
        await self._users.revoke_user_refresh_tokens(user.id, now)
        self._states.pop(user.id, None)
        await self._bus.publish(user_event("user.tokens_revoked", user))

    async def handle_event(self, event: Event) -> None:
        """Invalidate per-instance caches on user.* and role.changed events (from any instance)."""
        if event.type.startswith("user."):
            user_id = event.payload.get("user_id")
            if isinstance(user_id, str):
                self._states.pop(user_id, None)
            else:
                self._states.clear()
        elif event.type == "role.changed":
            self._roles = None

    def reset_caches(self) -> None:
        """Forget all cached user state and roles (e.g. after reconnecting to a bus that may have dropped
        events); verified signatures stay cached because they cannot go stale."""
        self._states.clear()
        self._roles = None

    async def _start_session(
        self, user: User, family_id: str, family_expires_at: dt.datetime, now: dt.datetime
    ) -> Session:
        secret = secrets.token_urlsafe(32)
        token = RefreshToken(
            id=new_id(),
            user_id=user.id,
            family_id=family_id,
            token_hash=hash_secret(secret),
            created_at=now,
            expires_at=min(now + self._config.refresh_idle_ttl, family_expires_at),
            family_expires_at=family_expires_at,
        )
        await self._users.add_refresh_token(token)
        access, expires_in = self._tokens.issue(user, now)
        return Session(
            access_token=access,
            expires_in=expires_in,
            refresh_token=secret,
            refresh_expires_at=token.expires_at,
            user=user,
        )

    def _verify_cached(self, token: str, now: dt.datetime) -> AccessClaims:
        claims = self._verified.get(token)
        if claims is not None and now < claims.expires_at:
            self._verified.move_to_end(token)
            return claims
        self._verified.pop(token, None)
        claims = self._tokens.verify(token, now)
        self._verified[token] = claims
        while len(self._verified) > self._config.verified_token_cache_size:
            self._verified.popitem(last=False)
        return claims

    async def _user_state(self, user_id: str, now: dt.datetime) -> User | None:
        cached = self._states.get(user_id)
        if cached is not None and now - cached[1] < self._config.state_cache_ttl:
            self._states.move_to_end(user_id)
            return cached[0]
        try:
            user = await self._users.get_user(user_id)
        except NotFound:
            self._states.pop(user_id, None)
            return None
        self._states[user_id] = (user, now)
        self._states.move_to_end(user_id)
        while len(self._states) > self._config.state_cache_size:
            self._states.popitem(last=False)
        return user

    async def _role_definitions(self, now: dt.datetime) -> dict[str, Role]:
        if self._roles is not None and now - self._roles[1] < self._config.role_cache_ttl:
            return self._roles[0]
        roles = await load_roles(self._users)
        self._roles = (roles, now)
        return roles

    async def _dummy(self) -> str:
        # A real hash made with the current parameters, so an unknown email costs what a wrong password costs.
        if self._dummy_hash is None:
            self._dummy_hash = await self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash
