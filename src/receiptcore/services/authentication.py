"""Authenticating a bearer token: the part of authentication every service runs, the receipt API included.

The ``Authenticator`` needs only a ``TokenVerifier`` (public keys), the user store (read-only: token version,
disabled flag, roles) and a clock, so a receipt API instance holds no signing key. Per-instance caches and why they
are safe:

- verified access tokens (LRU keyed by the whole token string, dropped when the token expires): skips the
  signature check, never the revocation check;
- user state (token version, disabled, roles) for ``state_cache_ttl``, dropped on ``user.*`` events;
- role definitions for ``role_cache_ttl``, dropped on ``role.changed``.

Events from any instance arrive through ``handle_event``; the TTLs bound staleness if one is missed (broker
down), so a revoked token stops working within a few seconds even without the bus.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass

from receiptcore.domain.events import Event
from receiptcore.domain.policy import Principal
from receiptcore.domain.users import BUILTIN_ROLES, Role, User
from receiptcore.errors import NotFound, TokenRejected, UnknownSigningKey
from receiptcore.ports import AccessClaims, Clock, TokenVerifier, UserRepo


@dataclass(frozen=True, slots=True)
class AccessCacheConfig:
    """Sizes and lifetimes of the per-instance caches of the Authenticator."""

    verified_token_cache_size: int = 10_000
    state_cache_ttl: dt.timedelta = dt.timedelta(seconds=5)
    state_cache_size: int = 10_000
    role_cache_ttl: dt.timedelta = dt.timedelta(seconds=30)


async def load_roles(users: UserRepo) -> dict[str, Role]:
    """Built-in plus custom roles by name (custom roles can never shadow a built-in one)."""
    roles = {role.name: role for role in await users.list_roles()}
    roles.update(BUILTIN_ROLES)
    return roles


class Authenticator:
    """Turns an access token into the calling Principal, rejecting revoked tokens and disabled users."""

    def __init__(
        self, users: UserRepo, tokens: TokenVerifier, clock: Clock, config: AccessCacheConfig | None = None
    ) -> None:
        self._users = users
        self._tokens = tokens
        self._clock = clock
        self._config = config or AccessCacheConfig()
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()
        self._states: OrderedDict[str, tuple[User, dt.datetime]] = OrderedDict()
        self._roles: tuple[dict[str, Role], dt.datetime] | None = None

    async def authenticate(self, access_token: str) -> Principal:
        """Verify a bearer token and return the caller. Rejects tokens of an older token_version and
        disabled users. Raises TokenRejected, or UpstreamUnavailable when the verifying keys cannot be had."""
        now = self._clock.now()
        claims = await self._verify_cached(access_token, now)
        user = await self._user_state(claims.subject, now)
        if user is None:
            raise TokenRejected("the account no longer exists")
        if user.disabled:
            raise TokenRejected("the account is disabled")
        if claims.token_version != user.token_version:
            raise TokenRejected("token was revoked")
        roles = await self._role_definitions(now)
        return Principal.of_user(user, roles)

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

    def forget_user(self, user_id: str) -> None:
        """Drop one user's cached state (this instance just changed it)."""
        self._states.pop(user_id, None)

    def reset_caches(self) -> None:
        """Forget all cached user state and roles (e.g. after reconnecting to a bus that may have dropped
        events); verified signatures stay cached because they cannot go stale."""
        self._states.clear()
        self._roles = None

    async def _verify_cached(self, token: str, now: dt.datetime) -> AccessClaims:
        claims = self._verified.get(token)
        if claims is not None and now < claims.expires_at:
            self._verified.move_to_end(token)
            return claims
        self._verified.pop(token, None)
        try:
            claims = self._tokens.verify(token, now)
        except UnknownSigningKey:
            # perhaps a key rotated in since the keys were loaded; the verifier rate-limits the reload
            await self._tokens.refresh_keys()
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
