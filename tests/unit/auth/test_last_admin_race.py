"""Concurrent admin removals through UserService over SQLite, where every repo call really yields to the loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

from receiptcore.adapters.clock import ManualClock
from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.user_repo import SqliteUserRepo
from receiptcore.domain.users import ADMIN, MEMBER
from receiptcore.errors import Conflict
from receiptcore.services.users import UserService
from tests.unit.auth.support import GOOD_PASSWORD, START, CountingHasher, RecordingBus, root


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
