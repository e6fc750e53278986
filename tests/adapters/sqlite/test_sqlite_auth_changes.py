"""SqliteUserRepo's change counter (ports.AuthChangeCounter): moved by every write that changes who may do what,
by any connection to the file (the CLI's process beside a running server), and by nothing else."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.user_repo import SqliteUserRepo
from receiptcore.domain.users import AUDITOR, MEMBER, Role
from tests.factories import USER_T0 as T0
from tests.factories import make_token, make_user


async def test_the_counter_moves_for_writes_by_another_connection_that_change_access(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    server_db, cli_db = SqliteDatabase(path), SqliteDatabase(path)
    server, cli = SqliteUserRepo(server_db), SqliteUserRepo(cli_db)
    user = make_user()
    await cli.add_user(user)
    token = make_token(user)
    await cli.add_refresh_token(token)
    seen = [await server.auth_change_count()]

    async def moved() -> bool:
        seen.append(await server.auth_change_count())
        return seen[-1] != seen[-2]

    assert not await moved()
    await cli.save_user(user.model_copy(update={"display_name": "Ada L."}))  # a profile edit changes no access
    assert not await moved()
    assert await cli.use_refresh_token(token.id, T0)  # nor does a refresh-token rotation
    assert not await moved()
    changes = {
        "roles": lambda: cli.save_user(user.model_copy(update={"roles": [MEMBER, AUDITOR]})),
        "disable": lambda: cli.save_user(user.model_copy(update={"roles": [MEMBER, AUDITOR], "disabled": True})),
        "token version": lambda: cli.save_user(
            user.model_copy(update={"roles": [MEMBER, AUDITOR], "disabled": True, "token_version": 2})
        ),
        "role created": lambda: cli.add_role(Role(name="bookkeeper", permissions=frozenset({"receipts:read"}))),
        "role changed": lambda: cli.save_role(Role(name="bookkeeper", permissions=frozenset())),
        "role deleted": lambda: cli.delete_role("bookkeeper"),
        "session revoked": lambda: cli.revoke_refresh_family(token.family_id, T0 + dt.timedelta(seconds=1)),
    }
    for name, change in changes.items():
        await change()
        assert await moved(), name
    await server_db.aclose()
    await cli_db.aclose()


async def test_an_in_memory_database_has_a_constant_counter() -> None:
    db = SqliteDatabase(":memory:")
    repo = SqliteUserRepo(db)
    user = make_user()
    await repo.add_user(user)
    before = await repo.auth_change_count()
    await repo.save_user(user.model_copy(update={"disabled": True}))
    assert await repo.auth_change_count() == before
    await db.aclose()
