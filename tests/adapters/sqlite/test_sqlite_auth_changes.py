"""SqliteUserRepo's change counter (ports.AuthChangeCounter): moved by every write of a user row, a custom role or
a refresh-token revocation, by any connection to the file (the CLI's process beside a running server), and by
nothing else (a refresh-token rotation, a new token, a receipt)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.user_repo import SqliteUserRepo
from receiptcore.domain.users import AUDITOR, MEMBER, Role
from tests.factories import USER_T0 as T0
from tests.factories import make_token, make_user


async def test_the_counter_moves_for_writes_by_another_connection_to_users_roles_and_revocations(
    tmp_path: Path,
) -> None:
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
    assert await cli.use_refresh_token(token.id, T0)  # a refresh-token rotation changes no state that is cached
    assert not await moved()
    await cli.add_refresh_token(make_token(user))  # nor does a new session
    assert not await moved()
    changes = {
        # what GET /auth/me shows (its answer is kept while the counter stands still: entrypoints/http/fastpath.py)
        "display name": lambda: cli.save_user(user.model_copy(update={"display_name": "Ada L."})),
        "email": lambda: cli.save_user(user.model_copy(update={"email": "ada.l@example.com"})),
        "updated at": lambda: cli.save_user(user.model_copy(update={"updated_at": T0 + dt.timedelta(days=1)})),
        "default currency": lambda: cli.save_user(user.model_copy(update={"default_currency": "EUR"})),
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


async def test_an_in_memory_database_counts_this_processs_writes_too() -> None:
    db = SqliteDatabase(":memory:")
    repo = SqliteUserRepo(db)
    user = make_user()
    await repo.add_user(user)
    before = await repo.auth_change_count()
    assert await repo.auth_change_count() == before
    await repo.save_user(user.model_copy(update={"display_name": "Ada L."}))
    assert await repo.auth_change_count() != before
    await db.aclose()
