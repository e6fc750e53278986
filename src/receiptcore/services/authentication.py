"""Authenticating a bearer token: the part of authentication every service runs, the receipt API included.

The ``Authenticator`` needs only a ``TokenVerifier`` (public keys), the user store (read-only: token version,
disabled flag, roles, whether a session was revoked) and a clock, so a receipt API instance holds no signing key.
Per-instance caches (bounded and expired by the ``CacheFactory`` adapter, on cachetools) and why they are safe:

- verified access tokens (LRU keyed by the whole token string, dropped when the token expires): skips the
  signature check, never the revocation checks;
- user state (token version, disabled, roles) for ``state_cache_ttl``, dropped on ``user.*`` events, and re-read
  at once when a token is newer than the cached state (a login right after a change made elsewhere);
- session state (is the token's ``sid``, its refresh-token family, revoked?) for ``state_cache_ttl``, dropped on
  ``session.revoked`` (logout, refresh-token reuse);
- role definitions for ``role_cache_ttl``, dropped on ``role.changed``.

Events from any instance arrive through ``handle_event``. A store that other processes write without the bus (the
embedded SQLite file the CLI writes) also offers an ``AuthChangeCounter``: it is read on every request and, when it
moved, every cached state is dropped, so a CLI change applies on the next request. Otherwise the TTLs bound
staleness if an event is missed (broker down).

A token that passed all of that is remembered with its Principal (``_checked``, keyed by the whole token) until
the earliest moment one of the entries it was decided from would expire (the token's own ``exp`` included) or
until anything is dropped from the state caches (``_generation``: every event, forget, reset and moved counter,
and a user state replaced because a newer token proved it stale). Its next request, after the counter read, is
then one look-up instead of four (and no ``Principal.of_user``): it gets exactly the answer the four would give.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from receiptcore.domain.events import Event
from receiptcore.domain.policy import Principal
from receiptcore.domain.users import BUILTIN_ROLES, Role, User, fold_account_name, legacy_account_name
from receiptcore.errors import NotFound, TokenRejected, UnknownSigningKey
from receiptcore.ports import AccessClaims, AuthChangeCounter, CacheFactory, Clock, TokenVerifier, UserRepo

_ROLES = "roles"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AccessCacheConfig:
    """Sizes and lifetimes of the per-instance caches of the Authenticator."""

    verified_token_cache_size: int = 10_000
    state_cache_ttl: dt.timedelta = dt.timedelta(seconds=5)
    state_cache_size: int = 10_000
    role_cache_ttl: dt.timedelta = dt.timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class _Kept(Generic[T]):
    """A cached state and the moment its cache drops it (at the latest)."""

    value: T
    until: dt.datetime


@dataclass(frozen=True, slots=True)
class _Checked:
    """A token that passed every check: its Principal, valid until ``until`` while ``generation`` is current."""

    principal: Principal
    generation: int
    until: dt.datetime


def _checked_until(checked: _Checked) -> dt.datetime:
    return checked.until


async def load_roles(users: UserRepo) -> dict[str, Role]:
    """Built-in plus custom roles by name (custom roles can never shadow a built-in one)."""
    roles = {role.name: role for role in await users.list_roles()}
    roles.update(BUILTIN_ROLES)
    return roles


async def find_account(users: UserRepo, name: str) -> User | None:
    """The user an account name as typed designates, or None: by its folded form (``fold_account_name``: every
    look-alike spelling reaches one account), else by the form names were stored in before folding, for accounts
    created earlier whose stored name is not folded (``straße@…``). Never raises for a malformed name."""
    folded = fold_account_name(name)
    if not folded:
        return None
    user = await users.find_user_by_email(folded)
    legacy = legacy_account_name(name)
    if user is None and legacy != folded:
        user = await users.find_user_by_email(legacy)
    return user


def _expiry(claims: AccessClaims) -> dt.datetime:
    return claims.expires_at


class Authenticator:
    """Turns an access token into the calling Principal, rejecting revoked tokens, ended sessions and disabled
    users.

    Args:
        users: the user store (read only).
        tokens: verifies signatures.
        clock: the time source.
        config: cache sizes and lifetimes.
        caches: makes the bounded caches.
        changes: the store's change counter, when other processes write it without the bus.
    """

    def __init__(
        self,
        users: UserRepo,
        tokens: TokenVerifier,
        clock: Clock,
        config: AccessCacheConfig | None = None,
        *,
        caches: CacheFactory,
        changes: AuthChangeCounter | None = None,
    ) -> None:
        self._users = users
        self._tokens = tokens
        self._clock = clock
        self._config = config = config or AccessCacheConfig()
        self._changes = changes
        self._change_count: int | None = None
        self._verified: MutableMapping[str, AccessClaims] = caches.lru(
            config.verified_token_cache_size, expires_at=_expiry
        )
        self._states: MutableMapping[str, _Kept[User]] = caches.ttl(config.state_cache_size, config.state_cache_ttl)
        self._sessions: MutableMapping[str, _Kept[bool]] = caches.ttl(config.state_cache_size, config.state_cache_ttl)
        self._roles: MutableMapping[str, _Kept[dict[str, Role]]] = caches.ttl(1, config.role_cache_ttl)
        # tokens that passed every check (see the module docstring); the generation moves whenever a state is dropped
        self._checked: MutableMapping[str, _Checked] = caches.lru(
            config.verified_token_cache_size, expires_at=_checked_until
        )
        self._generation = 0

    @property
    def changes_seen(self) -> int | None:
        """With the store's change counter (``changes``), a number that moves whenever this instance drops any
        cached state (a moved counter, an event, a forget or a reset); None without a counter.

        The counter moves with every committed write of a user row, a custom role or a revocation
        (ports.AuthChangeCounter), and every ``authenticate`` reads it first. So if this number is the same after
        two requests' ``authenticate``, no such write was committed between their counter reads: what the first
        request read from the user store after its ``authenticate`` is what the store held at the second's. Without
        a counter, another instance's or process's write is learnt only from events and TTLs (and a profile edit
        publishes no event), so nothing may be kept on this number.
        """
        return self._generation if self._changes is not None else None

    async def authenticate(self, access_token: str) -> Principal:
        """Verify a bearer token and return the caller. Rejects tokens of an older token_version, tokens of a
        revoked session and disabled users. Raises TokenRejected, or UpstreamUnavailable when the verifying keys
        cannot be had."""
        await self._follow_changes()
        checked = self._checked.get(access_token)
        if checked is not None and checked.generation == self._generation:
            return checked.principal
        return await self._check(access_token)

    async def _check(self, access_token: str) -> Principal:
        """Every check from the caches and the store; remembers a token that passes (``_checked``)."""
        generation = self._generation
        now = self._clock.now()
        claims = await self._verify_cached(access_token, now)
        kept = await self._user_state(claims.subject, claims.token_version)
        if kept is None:
            raise TokenRejected("the account no longer exists")
        user = kept.value
        if user.disabled:
            raise TokenRejected("the account is disabled")
        if claims.token_version != user.token_version:
            raise TokenRejected("token was revoked")
        until = min(claims.expires_at, kept.until)
        if claims.session_id is not None:
            session = await self._session_state(claims.session_id)
            if session.value:
                raise TokenRejected("the session has ended (signed out or revoked)")
            until = min(until, session.until)
        roles = await self._role_definitions()
        principal = Principal.of_user(user, roles.value)
        if self._generation == generation:  # nothing was dropped while this call awaited the store
            self._checked[access_token] = _Checked(principal, generation, min(until, roles.until))
        return principal

    async def handle_event(self, event: Event) -> None:
        """Invalidate per-instance caches on user.*, session.revoked and role.changed events (from any instance)."""
        if event.type.startswith("user."):
            user_id = event.payload.get("user_id")
            if isinstance(user_id, str):
                self.forget_user(user_id)
            else:
                self._generation += 1
                self._states.clear()
        elif event.type == "session.revoked":
            session_id = event.payload.get("session_id")
            if isinstance(session_id, str):
                self.forget_session(session_id)
            else:
                self._generation += 1
                self._sessions.clear()
        elif event.type == "role.changed":
            self._generation += 1
            self._roles.clear()

    def forget_user(self, user_id: str) -> None:
        """Drop one user's cached state (this instance just changed it)."""
        self._generation += 1
        self._states.pop(user_id, None)

    def forget_session(self, session_id: str) -> None:
        """Drop one session's cached state (this instance just revoked it)."""
        self._generation += 1
        self._sessions.pop(session_id, None)

    def reset_caches(self) -> None:
        """Forget all cached user, session and role state (e.g. after reconnecting to a bus that may have dropped
        events); verified signatures stay cached because they cannot go stale."""
        self._generation += 1
        self._states.clear()
        self._sessions.clear()
        self._roles.clear()

    async def _follow_changes(self) -> None:
        # Read before any state, so a change committed after this read is seen by the next request.
        if self._changes is None:
            return
        count = await self._changes.auth_change_count()
        if count != self._change_count:
            self.reset_caches()
            self._change_count = count

    async def _verify_cached(self, token: str, now: dt.datetime) -> AccessClaims:
        claims = self._verified.get(token)
        if claims is not None:
            return claims
        try:
            claims = self._tokens.verify(token, now)
        except UnknownSigningKey:
            # perhaps a key rotated in since the keys were loaded; the verifier rate-limits the reload
            await self._tokens.refresh_keys()
            claims = self._tokens.verify(token, now)
        self._verified[token] = claims
        return claims

    async def _user_state(self, user_id: str, token_version: int) -> _Kept[User] | None:
        cached = self._states.get(user_id)
        # A token newer than the cached state proves the state changed since it was read: read it again.
        if cached is not None and cached.value.token_version >= token_version:
            return cached
        generation = self._generation
        try:
            user = await self._users.get_user(user_id)
        except NotFound:
            self.forget_user(user_id)
            return None
        kept = _Kept(user, self._clock.now() + self._config.state_cache_ttl)
        # A state dropped while the read was on its way (an event) may be newer than what was read: this request
        # gets what it read, the cache does not keep it.
        if self._generation == generation:
            if cached is not None:  # the old state was stale: tokens checked against it are checked again
                self._generation += 1
            self._states[user_id] = kept
        return kept

    async def _session_state(self, session_id: str) -> _Kept[bool]:
        """Whether the session was revoked (``value``)."""
        kept = self._sessions.get(session_id)
        if kept is None:
            generation = self._generation
            revoked = await self._users.session_revoked(session_id)
            kept = _Kept(revoked, self._clock.now() + self._config.state_cache_ttl)
            if self._generation == generation:  # as in _user_state
                self._sessions[session_id] = kept
        return kept

    async def _role_definitions(self) -> _Kept[dict[str, Role]]:
        kept = self._roles.get(_ROLES)
        if kept is None:
            generation = self._generation
            roles = await load_roles(self._users)
            kept = _Kept(roles, self._clock.now() + self._config.role_cache_ttl)
            if self._generation == generation:  # as in _user_state
                self._roles[_ROLES] = kept
        return kept
