"""Authentication use cases: log in, refresh (rotation with reuse detection), log out, authenticate a
bearer token, me, change own password.

Authenticating a bearer token (and the per-instance caches that make it cheap) is the ``Authenticator`` of
``services/authentication.py``, which the receipt API runs alone; ``AuthService.authenticate`` delegates to it.

User events carry ``payload = {"user_id": ..., "token_version": ...}``; ``role.changed`` carries
``{"name": ..., "action": "created" | "updated" | "deleted"}``; ``session.revoked`` (logout, refresh-token reuse)
carries ``{"user_id": ..., "session_id": ...}``: every access token of that session is refused from the next
request on, on every instance.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from receiptcore.domain.events import Event
from receiptcore.domain.ids import new_id
from receiptcore.domain.policy import Principal
from receiptcore.domain.users import RefreshToken, User, fold_account_name
from receiptcore.errors import Conflict, InvalidCredentials, NotFound, RateLimited, TokenRejected
from receiptcore.ports import Clock, EventBus, PasswordHasher, TokenIssuer, UserRepo
from receiptcore.services.audit import AuthAudit, account_tag
from receiptcore.services.authentication import AccessCacheConfig, Authenticator, find_account
from receiptcore.services.credentials import check_password, hash_secret, normalise_password
from receiptcore.services.throttle import LoginThrottle

# Refresh tokens we issue are 43 characters; anything far longer is not ours and is not worth hashing.
_MAX_REFRESH_TOKEN_LENGTH = 256
_REUSED = "refresh token was already used; the session has been revoked"


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


def access_cache_config(config: AuthConfig) -> AccessCacheConfig:
    """The Authenticator's cache settings out of the session policy."""
    return AccessCacheConfig(
        verified_token_cache_size=config.verified_token_cache_size,
        state_cache_ttl=config.state_cache_ttl,
        state_cache_size=config.state_cache_size,
        role_cache_ttl=config.role_cache_ttl,
    )


@dataclass(frozen=True, slots=True)
class Session:
    """What a login or refresh hands out."""

    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_at: dt.datetime
    user: User
    session_id: str = ""  # the refresh-token family (the access token's ``sid``)


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
        authenticator: Authenticator,
        audit: AuthAudit | None = None,
    ) -> None:
        self._users = users
        self._hasher = hasher
        self._tokens = tokens
        self._bus = bus
        self._clock = clock
        self._config = config or AuthConfig()
        self._authenticator = authenticator
        self._throttle = throttle
        self._audit = audit or AuthAudit()
        self._dummy_hash: str | None = None

    async def login(self, email: str, password: str, client: str | None = None) -> Session:
        """Check credentials (constant work whether or not the user exists), rehash if parameters got
        stronger, start a new refresh family. ``client`` is the caller's address for the per-client limit.
        Raises InvalidCredentials (also for a disabled user), or RateLimited while the account or the client
        backs off after failures (the credentials are then not checked at all)."""
        # every look-alike spelling of a name shares one account and one throttle counter
        key = fold_account_name(email)
        try:
            user = await self._throttle.guard(key, client, lambda: self._check_credentials(email, password))
        except RateLimited as refused:
            limited = str(refused.extra.get("key", ""))
            self._audit.record(
                "login", "throttled", account=account_tag(email), reason=limited, retry_after=refused.retry_after
            )
            raise
        except InvalidCredentials:
            self._audit.record("login", "failed", account=account_tag(email))
            raise
        now = self._clock.now()
        session = await self._start_session(user, new_id(), now + self._config.refresh_absolute_ttl, now)
        self._audit.record("login", "ok", user_id=user.id, session_id=session.session_id)
        return session

    async def _check_credentials(self, email: str, password: str) -> User:
        now = self._clock.now()
        user = await find_account(self._users, email)
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
        try:
            session = await self._refresh(refresh_token)
        except TokenRejected as rejected:
            if rejected.detail != _REUSED:  # reuse was recorded where it was found
                self._audit.record("refresh", "rejected", reason=rejected.detail)
            raise
        self._audit.record("refresh", "ok", user_id=session.user.id, session_id=session.session_id)
        return session

    async def _refresh(self, refresh_token: str) -> Session:
        if not refresh_token or len(refresh_token) > _MAX_REFRESH_TOKEN_LENGTH:
            raise TokenRejected("unknown refresh token")
        now = self._clock.now()
        stored = await self._users.find_refresh_token(hash_secret(refresh_token))
        if stored is None:
            raise TokenRejected("unknown refresh token")
        if stored.revoked_at is not None:
            raise TokenRejected("refresh token was revoked")
        if stored.used_at is not None:
            await self._end_session(stored, now)
            self._audit.record("refresh", "reuse_detected", user_id=stored.user_id, session_id=stored.family_id)
            raise TokenRejected(_REUSED)
        if now >= stored.expires_at or now >= stored.family_expires_at:
            raise TokenRejected("refresh token has expired")
        if not await self._users.use_refresh_token(stored.id, now):
            # Lost a race with another presentation of the same token: that is reuse too.
            await self._end_session(stored, now)
            self._audit.record("refresh", "reuse_detected", user_id=stored.user_id, session_id=stored.family_id)
            raise TokenRejected(_REUSED)
        try:
            user = await self._users.get_user(stored.user_id)
        except NotFound as exc:
            raise TokenRejected("the account no longer exists") from exc
        if user.disabled:
            await self._end_session(stored, now)
            raise TokenRejected("the account is disabled")
        return await self._start_session(user, stored.family_id, stored.family_expires_at, now)

    async def logout(self, refresh_token: str | None) -> None:
        """Revoke the token's family. Unknown or missing tokens are ignored (logout is idempotent)."""
        if not refresh_token or len(refresh_token) > _MAX_REFRESH_TOKEN_LENGTH:
            return
        stored = await self._users.find_refresh_token(hash_secret(refresh_token))
        if stored is not None:
            await self._end_session(stored, self._clock.now())
            self._audit.record("logout", "ok", user_id=stored.user_id, session_id=stored.family_id)

    async def _end_session(self, stored: RefreshToken, now: dt.datetime) -> None:
        """Revoke the token's family and end its access tokens here at once and, through the bus, everywhere."""
        await self._users.revoke_refresh_family(stored.family_id, now)
        self._authenticator.forget_session(stored.family_id)
        payload = {"user_id": stored.user_id, "session_id": stored.family_id}
        await self._bus.publish(Event.model_validate({"type": "session.revoked", "payload": payload}))

    async def authenticate(self, access_token: str) -> Principal:
        """Verify a bearer token and return the caller (see ``Authenticator.authenticate``). Raises TokenRejected."""
        return await self._authenticator.authenticate(access_token)

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

        try:
            await self._throttle.guard_secret("password-change", user.id, check_current)
        except RateLimited as refused:
            self._audit.record("password_change", "throttled", user_id=user.id, retry_after=refused.retry_after)
            raise
        except InvalidCredentials:
            self._audit.record("password_change", "failed", user_id=user.id, reason="the current password is wrong")
            raise
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
        self._authenticator.forget_user(user.id)
        await self._bus.publish(user_event("user.tokens_revoked", user))
        self._audit.record("password_change", "ok", user_id=user.id)

    async def handle_event(self, event: Event) -> None:
        """Invalidate per-instance caches on user.* and role.changed events (from any instance)."""
        await self._authenticator.handle_event(event)

    def reset_caches(self) -> None:
        """Forget all cached user state and roles (see ``Authenticator.reset_caches``)."""
        self._authenticator.reset_caches()

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
        access, expires_in = self._tokens.issue(user, now, session_id=family_id)
        return Session(
            access_token=access,
            expires_in=expires_in,
            refresh_token=secret,
            refresh_expires_at=token.expires_at,
            user=user,
            session_id=family_id,
        )

    async def _dummy(self) -> str:
        # A real hash made with the current parameters, so an unknown email costs what a wrong password costs.
        if self._dummy_hash is None:
            self._dummy_hash = await self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash
