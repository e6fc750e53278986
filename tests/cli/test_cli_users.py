"""`receiptcore users ...` against the real embedded stores (SQLite under a temp data dir)."""

from __future__ import annotations

import json

from receiptcore.entrypoints.cli_common import open_container, run
from receiptcore.errors import InvalidCredentials
from receiptcore.settings import Settings
from tests.cli.conftest import Invoke, assert_one_line_error

PASSWORD = "correct horse battery staple 42"


def _users(invoke: Invoke) -> dict[str, dict[str, object]]:
    result = invoke("users", "list", "--json")
    assert result.exit_code == 0, result.output
    return {u["email"]: u for u in json.loads(result.stdout)}


def test_create_admin_from_stdin_is_stored_and_listed_without_secrets(invoke: Invoke) -> None:
    result = invoke("users", "create-admin", "Root@Example.org", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "root@example.org" in result.stdout
    users = _users(invoke)
    assert users["root@example.org"]["roles"] == ["admin"]
    assert users["root@example.org"]["disabled"] is False
    listing = invoke("users", "list").stdout
    assert "root@example.org" in listing
    assert "admin" in listing
    assert "argon2" not in listing + json.dumps(users)
    assert PASSWORD not in listing


def test_create_admin_refuses_a_non_terminal_stdin_without_the_flag(invoke: Invoke, data_dir) -> None:
    result = invoke("users", "create-admin", "root@example.org", input=PASSWORD + "\n")
    assert_one_line_error(result, contains="--password-stdin")
    assert not data_dir.exists()


def test_weak_password_and_duplicate_email_are_one_line_errors(invoke: Invoke, data_dir) -> None:
    weak = invoke("users", "create-admin", "root@example.org", "--password-stdin", input="short\n")
    assert_one_line_error(weak)
    assert not data_dir.exists()  # nothing half-made: no empty store either
    ok = invoke("users", "create-admin", "root@example.org", "--password-stdin", input=PASSWORD + "\n")
    assert ok.exit_code == 0, ok.output
    again = invoke("users", "create-admin", "ROOT@example.org", "--password-stdin", input=PASSWORD + "\n")
    assert_one_line_error(again)


def test_empty_stdin_is_refused(invoke: Invoke) -> None:
    result = invoke("users", "create-admin", "root@example.org", "--password-stdin", input="")
    assert_one_line_error(result, contains="no password")


def test_create_member_set_roles_disable_enable(invoke: Invoke) -> None:
    assert invoke("users", "create-admin", "root@example.org", "--password-stdin", input=PASSWORD).exit_code == 0
    created = invoke("users", "create", "ann@example.org", "--password-stdin", input=PASSWORD + "\n")
    assert created.exit_code == 0, created.output
    assert _users(invoke)["ann@example.org"]["roles"] == ["member"]

    auditor = invoke(
        "users",
        "create",
        "bob@example.org",
        "--role",
        "auditor",
        "--role",
        "member",
        "--password-stdin",
        input=PASSWORD,
    )
    assert auditor.exit_code == 0, auditor.output
    assert sorted(_users(invoke)["bob@example.org"]["roles"]) == ["auditor", "member"]

    changed = invoke("users", "set-roles", "ann@example.org", "auditor")
    assert changed.exit_code == 0, changed.output
    assert _users(invoke)["ann@example.org"]["roles"] == ["auditor"]

    assert invoke("users", "disable", "ann@example.org").exit_code == 0
    assert _users(invoke)["ann@example.org"]["disabled"] is True
    assert "disabled" in invoke("users", "list").stdout
    assert invoke("users", "enable", "ann@example.org").exit_code == 0
    assert _users(invoke)["ann@example.org"]["disabled"] is False


def test_unknown_user_role_and_last_admin_are_refused(invoke: Invoke) -> None:
    assert invoke("users", "create-admin", "root@example.org", "--password-stdin", input=PASSWORD).exit_code == 0
    assert_one_line_error(invoke("users", "disable", "nobody@example.org"), contains="no user")
    assert_one_line_error(invoke("users", "set-roles", "root@example.org", "no-such-role"))
    # the only admin cannot be locked out: the install would have no administrator left
    assert_one_line_error(invoke("users", "disable", "root@example.org"))
    assert_one_line_error(invoke("users", "set-roles", "root@example.org", "member"))
    assert _users(invoke)["root@example.org"]["roles"] == ["admin"]


def test_bad_email_is_a_one_line_error(invoke: Invoke) -> None:
    assert_one_line_error(invoke("users", "disable", "not-an-email"), contains="admin@localhost")
    result = invoke("users", "create-admin", "not-an-email", "--password-stdin", input=PASSWORD)
    assert_one_line_error(result)
    assert_one_line_error(invoke("users", "reset-password", "a@b."), contains="not a valid account name")


def test_the_first_admin_that_serve_creates_can_be_managed_from_the_cli(invoke: Invoke) -> None:
    """Stumble 1: `serve` creates admin@localhost; every users command must accept that name."""

    async def first_start() -> None:
        async with open_container(Settings(), require_store=False) as container:  # as `serve` does
            assert await container.user_service().ensure_first_admin() is not None

    run(first_start())
    second = invoke("users", "create-admin", "root@localhost", "--password-stdin", input=PASSWORD)
    assert second.exit_code == 0, second.output
    for args in (
        ("users", "set-roles", "admin@localhost", "admin", "auditor"),
        ("users", "disable", "Admin@LocalHost"),
        ("users", "enable", "admin@localhost"),
    ):
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output)
    assert sorted(_users(invoke)) == ["admin@localhost", "root@localhost"]


def test_reset_password_prints_a_one_time_password_that_signs_in(invoke: Invoke, data_dir) -> None:
    """Stumble 2: the way back in when the first admin's one-time password is lost."""
    assert invoke("users", "create-admin", "admin@localhost", "--password-stdin", input=PASSWORD).exit_code == 0
    result = invoke("users", "reset-password", "admin@localhost")
    assert result.exit_code == 0, result.output
    new_password = result.stdout.strip().splitlines()[-1]
    assert len(new_password) >= 20
    assert new_password != PASSWORD
    assert "sessions have ended" in result.stderr
    assert _login_works("admin@localhost", new_password)
    assert not _login_works("admin@localhost", PASSWORD)


def test_reset_password_from_stdin_sets_that_password_and_prints_none(invoke: Invoke) -> None:
    assert invoke("users", "create", "ann@example.org", "--password-stdin", input=PASSWORD).exit_code == 0
    chosen = "a new passphrase from stdin 5"
    result = invoke("users", "reset-password", "ann@example.org", "--password-stdin", input=chosen + "\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert chosen not in result.output
    assert _login_works("ann@example.org", chosen)
    assert_one_line_error(
        invoke("users", "reset-password", "ann@example.org", "--password-stdin", input="short\n"), contains="at least"
    )
    assert_one_line_error(invoke("users", "reset-password", "nobody@example.org"), contains="no user")


def _login_works(email: str, password: str) -> bool:

    async def go() -> bool:
        async with open_container(Settings()) as container:
            try:
                await container.auth_service().login(email, password)
            except InvalidCredentials:
                return False
            return True

    return run(go())


def test_users_persist_in_the_data_dir_across_invocations(invoke: Invoke, data_dir) -> None:
    assert invoke("users", "create-admin", "root@example.org", "--password-stdin", input=PASSWORD).exit_code == 0
    assert (data_dir / "receiptcore.sqlite3").exists()
    assert list(_users(invoke)) == ["root@example.org"]
