"""Concurrent changes of users: admin removals over SQLite (where every repo call really yields to the loop), and
slow password hashing racing a disable (a stale save must not undo the disable)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from pathlib import Path

import pytest

from receiptcore.adapters.clock import ManualClock
from receiptcore.adapters.security import Argon2PasswordHasher
from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.user_repo import SqliteUserRepo
from receiptcore.domain.users import ADMIN, MEMBER
from receiptcore.errors import Conflict, InvalidCredentials
from receiptcore.services.users import UserService
from tests.unit.auth.support import GOOD_PASSWORD, START, CountingHasher, RecordingBus, World, make_world, root


async def test_two_requests_removing_the_last_two_admins_cannot_both_succeed(tmp_path: Path) -> None:
    # Two services on two connections to one file: like two server processes handling one request each.
    dbs = [SqliteDatabase(tmp_path / "users.sqlite3") for _ in range(2)]
    bus = RecordingBus()
    services = [UserService(SqliteUserRepo(db), CountingHasher(), bus, ManualClock(START)) for db in dbs]
    first = await services[0].create_user(root(), "first@example.com", GOOD_PASSWORD, roles=[ADMIN])
    second = await services[0].create_user(root(), "second@example.com", GOOD_PASSWORD, roles=[ADMIN])
    try:
        outcomes = await asyncio.gather(
            services[0].set_roles(root(), first.id, [MEMBER]),
            services[1].set_disabled(root(), second.id, True),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, Conflict)]
        assert len(refused) == 1, outcomes
        assert "last active admin" in str(refused[0])
        assert await SqliteUserRepo(dbs[0]).count_active_with_role(ADMIN) == 1
        # Only the change that happened was announced.
        assert [e.type for e in bus.events].count("user.roles_changed") + [e.type for e in bus.events].count(
            "user.disabled"
        ) == 1
    finally:
        for db in dbs:
            await db.aclose()


async def test_concurrent_removals_within_one_process_leave_one_admin(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "users.sqlite3")
    service = UserService(SqliteUserRepo(db), CountingHasher(), RecordingBus(), ManualClock(START))
    admins = [
        await service.create_user(root(), f"admin{i}@example.com", GOOD_PASSWORD, roles=[ADMIN]) for i in range(3)
    ]
    try:
        outcomes = await asyncio.gather(
            *(service.set_roles(root(), a.id, [MEMBER]) for a in admins[:2]),
            service.set_disabled(root(), admins[2].id, True),
            return_exceptions=True,
        )
        assert sum(isinstance(o, Conflict) for o in outcomes) == 1, outcomes
        assert await SqliteUserRepo(db).count_active_with_role(ADMIN) == 1
    finally:
        await db.aclose()


class GatedHasher(CountingHasher):
    """Cheap Argon2id whose ``hash`` waits for ``release`` once ``gate()`` was called: a slow hash, on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.hashing = asyncio.Event()
        self.release = asyncio.Event()
        self.gated = False

    async def hash(self, password: str) -> str:
        if self.gated:
            self.hashing.set()
            await self.release.wait()
        return await super().hash(password)


async def disable_while_hashing(world: World, hasher: GatedHasher, user_id: str, slow: Awaitable[object]) -> object:
    """Run ``slow`` (which hashes), disable the user while it hashes, then let it finish; returns its outcome."""
    hasher.gated = True
    task = asyncio.ensure_future(slow)
    await hasher.hashing.wait()
    await world.users.set_disabled(root(), user_id, True)
    hasher.release.set()
    outcome = (await asyncio.gather(task, return_exceptions=True))[0]
    hasher.gated = False
    return outcome


@pytest.fixture
def gated() -> tuple[World, GatedHasher]:
    hasher = GatedHasher()
    world = make_world()
    # the services hash through the gated hasher; the world keeps its own for making users
    world.users._hasher = hasher
    world.auth._hasher = hasher
    return world, hasher


async def test_a_password_reset_cannot_re_enable_a_user_disabled_meanwhile(gated: tuple[World, GatedHasher]) -> None:
    world, hasher = gated
    user = await world.make_user()
    reset = world.users.update_user(root(), user.id, password="another-long-passphrase-77")
    outcome = await disable_while_hashing(world, hasher, user.id, reset)
    assert isinstance(outcome, Conflict), outcome
    stored = await world.repo.get_user(user.id)
    assert stored.disabled
    assert stored.password_hash == user.password_hash


async def test_changing_ones_password_cannot_re_enable_a_user_disabled_meanwhile(
    gated: tuple[World, GatedHasher],
) -> None:
    world, hasher = gated
    user = await world.make_user()
    change = world.auth.change_password(world.principal_of(user), GOOD_PASSWORD, "another-long-passphrase-77")
    outcome = await disable_while_hashing(world, hasher, user.id, change)
    assert isinstance(outcome, Conflict), outcome
    assert (await world.repo.get_user(user.id)).disabled


async def test_a_rehash_on_login_cannot_re_enable_a_user_disabled_meanwhile(gated: tuple[World, GatedHasher]) -> None:
    world, hasher = gated
    user = await world.make_user()
    weak = await Argon2PasswordHasher(memory_cost=32, time_cost=1).hash(GOOD_PASSWORD)
    await world.repo.save_user(user.model_copy(update={"password_hash": weak}))
    outcome = await disable_while_hashing(world, hasher, user.id, world.auth.login(user.email, GOOD_PASSWORD))
    assert isinstance(outcome, InvalidCredentials), outcome
    stored = await world.repo.get_user(user.id)
    assert stored.disabled
    assert stored.password_hash == weak


async def test_a_rehash_losing_to_a_harmless_change_still_logs_in(gated: tuple[World, GatedHasher]) -> None:
    world, hasher = gated
    user = await world.make_user()
    weak = await Argon2PasswordHasher(memory_cost=32, time_cost=1).hash(GOOD_PASSWORD)
    await world.repo.save_user(user.model_copy(update={"password_hash": weak}))
    hasher.gated = True
    login = asyncio.ensure_future(world.auth.login(user.email, GOOD_PASSWORD))
    await hasher.hashing.wait()
    await world.users.update_user(root(), user.id, display_name="Renamed meanwhile")
    hasher.release.set()
    session = await login
    assert session.user.id == user.id
    stored = await world.repo.get_user(user.id)
    assert stored.display_name == "Renamed meanwhile"  # the concurrent change survives
    assert stored.password_hash == weak  # the rehash waits for the next login
