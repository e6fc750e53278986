"""PostgresUserRepo beyond the shared contract: the last-admin and stale-read checks hold between separate pools
(as between instances), concurrent saves never deadlock, and an unreachable server is StorageUnavailable."""

from __future__ import annotations

import asyncio

import pytest

from receiptcore.adapters.postgres.config import PostgresConfig
from receiptcore.adapters.postgres.database import PostgresDatabase
from receiptcore.adapters.postgres.user_repo import PostgresUserRepo
from receiptcore.domain.users import ADMIN, MEMBER, User
from receiptcore.errors import Conflict, StorageUnavailable
from tests.factories import make_token, make_user

pytestmark = pytest.mark.xdist_group("postgres")


def demoted(user: User) -> User:
    return user.model_copy(update={"roles": [MEMBER]})


def disabled(user: User) -> User:
    return user.model_copy(update={"disabled": True})


@pytest.fixture
async def instances(postgres_url: str) -> list[PostgresUserRepo]:
    """Three repos on three pools of one database: three instances of the auth service."""
    dbs = [PostgresDatabase(PostgresConfig(dsn=postgres_url, max_pool_size=4)) for _ in range(3)]
    await dbs[0].migrate()
    yield [PostgresUserRepo(db) for db in dbs]
    for db in dbs:
        await db.aclose()


async def test_instances_cannot_together_remove_the_last_admins(instances: list[PostgresUserRepo]) -> None:
    first_repo = instances[0]
    for _ in range(5):
        admins = [make_user(roles=[ADMIN]) for _ in range(3)]
        for admin in admins:
            await first_repo.add_user(admin)
        # each instance removes a different admin at the same moment: exactly one must stay
        outcomes = await asyncio.gather(
            instances[0].save_user_keeping_admin(demoted(admins[0])),
            instances[1].save_user_keeping_admin(disabled(admins[1])),
            instances[2].save_user_keeping_admin(disabled(demoted(admins[2]))),
            return_exceptions=True,
        )
        assert sum(o is None for o in outcomes) == 2, outcomes
        assert [type(o) for o in outcomes if o is not None] == [Conflict], outcomes
        assert await first_repo.count_active_with_role(ADMIN) == 1
        survivor = next(a for a, o in zip(admins, outcomes, strict=True) if o is not None)
        await first_repo.save_user(demoted(survivor))  # no admin left over for the next round


async def test_instances_saving_from_one_read_let_exactly_one_win(instances: list[PostgresUserRepo]) -> None:
    user = make_user()
    await instances[0].add_user(user)
    read = await instances[1].get_user(user.id)
    changes = [
        disabled(read),
        read.model_copy(update={"token_version": 9}),
        read.model_copy(update={"display_name": "x"}),
    ]
    outcomes = await asyncio.gather(
        *(repo.save_user_keeping_admin(change, expected=read) for repo, change in zip(instances, changes, strict=True)),
        return_exceptions=True,
    )
    assert sum(o is None for o in outcomes) == 1, outcomes
    assert all(isinstance(o, Conflict) and "changed" in str(o) for o in outcomes if o is not None)
    assert await instances[2].get_user(user.id) in changes


async def test_many_concurrent_guarded_saves_of_admins_never_deadlock(instances: list[PostgresUserRepo]) -> None:
    # Admins saved concurrently in every order: every save locks the admin set in id order, so no save waits for
    # another in a cycle (PostgreSQL would abort one with a deadlock error, which would surface as
    # StorageUnavailable here).
    admins = [make_user(roles=[ADMIN]) for _ in range(6)]
    for admin in admins:
        await instances[0].add_user(admin)
    saves = [
        instances[i % 3].save_user_keeping_admin(admin.model_copy(update={"display_name": f"n{i}"}))
        for i, admin in enumerate(admins * 3)
    ]
    outcomes = await asyncio.gather(*saves, return_exceptions=True)
    assert outcomes == [None] * len(saves)


async def test_a_token_is_used_once_across_instances(instances: list[PostgresUserRepo]) -> None:
    user = make_user()
    await instances[0].add_user(user)
    token = make_token(user)
    await instances[0].add_refresh_token(token)
    used = await asyncio.gather(*(repo.use_refresh_token(token.id, token.created_at) for repo in instances * 2))
    assert sorted(used) == [False] * 5 + [True]


async def test_an_unreachable_server_is_storage_unavailable_and_the_next_call_tries_again() -> None:
    db = PostgresDatabase(PostgresConfig(dsn="postgresql://postgres:pw@127.0.0.1:1/none", connect_timeout=1))
    repo = PostgresUserRepo(db)
    for call in (repo.count_users(), repo.get_user("x"), repo.add_user(make_user())):
        with pytest.raises(StorageUnavailable, match=r"PostgreSQL at 127\.0\.0\.1:1/none is unavailable") as caught:
            await call
        assert "pw" not in str(caught.value)
    await db.aclose()


async def test_a_dropped_connection_is_storage_unavailable_then_recovers(postgres_url: str) -> None:
    db = PostgresDatabase(PostgresConfig(dsn=postgres_url, max_pool_size=1))
    repo = PostgresUserRepo(db)
    try:
        assert await repo.count_users() == 0
        async with db.connection() as conn:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
        admin = await PostgresDatabase(PostgresConfig(dsn=postgres_url, migrate_on_start=False)).pool()
        await admin.execute("SELECT pg_terminate_backend($1)", pid)  # the server drops our pooled connection
        await admin.close()
        outcome: list[object] = []
        for _ in range(3):
            try:
                outcome.append(await repo.count_users())
            except StorageUnavailable as exc:
                outcome.append(exc)
        assert outcome[-1] == 0  # the pool replaced the dead connection without a restart
        assert all(o == 0 or isinstance(o, StorageUnavailable) for o in outcome)
    finally:
        await db.aclose()
