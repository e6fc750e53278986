"""Builders for tests of the auth, user and role use cases: memory adapters, a manual clock, cheap Argon2."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from receiptcore.adapters.caching_cachetools import CachetoolsCacheFactory
from receiptcore.adapters.clock import ManualClock
from receiptcore.adapters.memory.throttle_store import MemoryThrottleStore
from receiptcore.adapters.memory.user_repo import MemoryUserRepo
from receiptcore.adapters.security import Argon2PasswordHasher, JwtTokenIssuer
from receiptcore.domain.events import Event
from receiptcore.domain.policy import Principal
from receiptcore.domain.users import BUILTIN_ROLES, User
from receiptcore.ports import AccessClaims
from receiptcore.services.auth import AuthConfig, AuthService, access_cache_config
from receiptcore.services.authentication import Authenticator
from receiptcore.services.throttle import LoginThrottle, ThrottlePolicy
from receiptcore.services.users import RoleService, UserService

GOOD_PASSWORD = "violet-kestrel-harbour-42"
START = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


class RecordingBus:
    """An EventBus test double that remembers what was published."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[AsyncIterator[Event]]:  # pragma: no cover - unused by these tests
        async def nothing() -> AsyncIterator[Event]:
            for event in []:
                yield event

        yield nothing()

    def types(self) -> list[str]:
        return [e.type for e in self.events]


class CountingHasher(Argon2PasswordHasher):
    """Cheap Argon2id that counts verifications (to check the dummy-hash path does the same work)."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(memory_cost=kwargs.get("memory_cost", 64), time_cost=kwargs.get("time_cost", 1))
        self.verify_calls = 0

    async def verify(self, encoded: str, password: str) -> bool:
        self.verify_calls += 1
        return await super().verify(encoded, password)


class CountingIssuer(JwtTokenIssuer):
    """A real issuer that counts signature verifications (to observe the verified-token cache)."""

    verify_calls = 0

    def verify(self, token: str, now: dt.datetime) -> AccessClaims:
        self.verify_calls += 1
        return super().verify(token, now)


@dataclass
class World:
    """Everything a test of the use cases needs, wired like the container wires it."""

    clock: ManualClock
    repo: MemoryUserRepo
    hasher: CountingHasher
    issuer: CountingIssuer
    bus: RecordingBus
    config: AuthConfig
    auth: AuthService
    users: UserService
    roles: RoleService
    throttle: LoginThrottle
    throttle_store: MemoryThrottleStore
    counter: list[int] = field(default_factory=lambda: [0])

    async def make_user(self, roles: list[str] | None = None, password: str = GOOD_PASSWORD) -> User:
        """Create a user through the service (as the CLI would), with a unique email; member by default."""
        self.counter[0] += 1
        email = f"person{self.counter[0]}@example.com"
        return await self.users.create_user(root(), email, password, roles=roles)

    def principal_of(self, user: User) -> Principal:
        """The principal of ``user`` with built-in role permissions (no token round trip)."""
        return Principal.of_user(user, BUILTIN_ROLES)


def root() -> Principal:
    """A principal holding every permission (like the CLI's system principal)."""
    return Principal(user_id="system", roles=frozenset({"admin"}), permissions=BUILTIN_ROLES["admin"].permissions)


def make_world(config: AuthConfig | None = None, policy: ThrottlePolicy | None = None) -> World:
    clock = ManualClock(START)
    repo = MemoryUserRepo()
    hasher = CountingHasher()
    issuer = CountingIssuer.generate(issuer="t", audience="t", ttl_seconds=300)
    assert isinstance(issuer, CountingIssuer)
    bus = RecordingBus()
    config = config or AuthConfig()
    throttle_store = MemoryThrottleStore()
    throttle = LoginThrottle(throttle_store, clock, policy)
    return World(
        clock=clock,
        repo=repo,
        hasher=hasher,
        issuer=issuer,
        bus=bus,
        config=config,
        auth=AuthService(
            repo,
            hasher,
            issuer,
            bus,
            clock,
            config,
            throttle=throttle,
            authenticator=Authenticator(
                repo, issuer, clock, access_cache_config(config), caches=CachetoolsCacheFactory(clock)
            ),
        ),
        users=UserService(repo, hasher, bus, clock, config),
        roles=RoleService(repo, bus),
        throttle=throttle,
        throttle_store=throttle_store,
    )
