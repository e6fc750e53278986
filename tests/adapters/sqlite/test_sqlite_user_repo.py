"""SqliteUserRepo beyond the shared contract (tests/contract): the file survives reopening, two connections to one
file (as two processes) use a token once and cannot both remove an admin or both win a save from one read, and an
unreachable or garbage file is a clean StorageUnavailable."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.user_repo import SqliteUserRepo
from receiptcore.domain.users import ADMIN, AUDITOR, Role, User
from receiptcore.errors import StorageUnavailable
from tests.factories import USER_T0 as T0
from tests.factories import demoted, disabled, make_token, make_user


async def admins(repo: SqliteUserRepo, count: int) -> list[User]:
    users = [make_user(roles=[ADMIN, AUDITOR]) for _ in range(count)]
    for user in users:
        await repo.add_user(user)
    return users


async def test_sqlite_data_survives_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "persist" / "db.sqlite3"
    db = SqliteDatabase(path)
    repo = SqliteUserRepo(db)
    user = make_user()
    await repo.add_user(user)
    await repo.add_role(Role(name="kept", permissions=frozenset({"users:read"})))
    token = make_token(user)
    await repo.add_refresh_token(token)
    await db.aclose()

    reopened_db = SqliteDatabase(path)
    reopened = SqliteUserRepo(reopened_db)
    assert await reopened.get_user(user.id) == user
    assert [r.name for r in await reopened.list_roles()] == ["kept"]
    assert await reopened.find_refresh_token(token.token_hash) == token
    assert await reopened_db.applied_migrations() == [
        "users_v1",
        "auth_changes_v1",
        "user_preferences_v1",
        "auth_changes_v2",
    ]
    await reopened_db.aclose()


async def test_sqlite_two_connections_to_one_file_use_a_token_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    db_a, db_b = SqliteDatabase(path), SqliteDatabase(path)
    repo_a, repo_b = SqliteUserRepo(db_a), SqliteUserRepo(db_b)
    # Both migrate at once, like two processes starting together.
    await asyncio.gather(db_a.migrate(), db_b.migrate())
    user = make_user()
    await repo_a.add_user(user)
    token = make_token(user)
    await repo_a.add_refresh_token(token)
    results = await asyncio.gather(repo_a.use_refresh_token(token.id, T0), repo_b.use_refresh_token(token.id, T0))
    assert sorted(results) == [False, True]
    await db_a.aclose()
    await db_b.aclose()


async def test_sqlite_unreachable_path_is_storage_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    db = SqliteDatabase(blocker / "sub" / "db.sqlite3")
    with pytest.raises(StorageUnavailable):
        await SqliteUserRepo(db).count_users()
    await db.aclose()


async def test_sqlite_garbage_file_is_storage_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    db = SqliteDatabase(path)
    with pytest.raises(StorageUnavailable):
        await SqliteUserRepo(db).count_users()
    await db.aclose()


async def test_sqlite_two_processes_cannot_both_remove_an_admin(tmp_path: Path) -> None:
    # Two SqliteDatabase objects on one file behave like two processes: only SQLite's locking is shared.
    path = tmp_path / "shared.sqlite3"
    db_a, db_b = SqliteDatabase(path), SqliteDatabase(path)
    repo_a, repo_b = SqliteUserRepo(db_a), SqliteUserRepo(db_b)
    await asyncio.gather(db_a.migrate(), db_b.migrate())
    try:
        for _ in range(5):
            first, second = await admins(repo_a, 2)
            outcomes = await asyncio.gather(
                repo_a.save_user_keeping_admin(disabled(first)),
                repo_b.save_user_keeping_admin(demoted(second)),
                return_exceptions=True,
            )
            assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "NoneType"], outcomes
            assert await repo_b.count_active_with_role(ADMIN) == 1
            survivor = await repo_a.get_user(second.id if outcomes[0] is None else first.id)
            await repo_a.save_user(demoted(survivor))
    finally:
        await db_a.aclose()
        await db_b.aclose()


async def test_sqlite_two_processes_saving_from_one_read_cannot_both_win(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    db_a, db_b = SqliteDatabase(path), SqliteDatabase(path)
    repo_a, repo_b = SqliteUserRepo(db_a), SqliteUserRepo(db_b)
    try:
        user = make_user()
        await repo_a.add_user(user)
        read = await repo_b.get_user(user.id)
        outcomes = await asyncio.gather(
            repo_a.save_user_keeping_admin(disabled(read), expected=read),
            repo_b.save_user_keeping_admin(read.model_copy(update={"token_version": 7}), expected=read),
            return_exceptions=True,
        )
        assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "NoneType"], outcomes
    finally:
        await db_a.aclose()
        await db_b.aclose()
