"""`receiptcore users unlock`: an admin clears an account's (or a client's) failed-login counter."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from receiptcore.entrypoints.cli_common import open_container
from receiptcore.errors import InvalidCredentials, RateLimited
from receiptcore.settings import Settings
from tests.cli.conftest import Invoke, assert_one_line_error

PASSWORD = "correct horse battery staple 42"


async def _fail_until_throttled(data_dir: Path, email: str, client: str) -> None:
    async with open_container(Settings(_env_file=None, data_dir=data_dir)) as container:  # type: ignore[call-arg]
        auth = container.auth_service()
        for _ in range(5):
            with pytest.raises(InvalidCredentials):
                await auth.login(email, "wrong password, again", client=client)
        with pytest.raises(RateLimited):
            await auth.login(email, PASSWORD, client=client)


async def _login(data_dir: Path, email: str, client: str) -> str:
    async with open_container(Settings(_env_file=None, data_dir=data_dir)) as container:  # type: ignore[call-arg]
        session = await container.auth_service().login(email, PASSWORD, client=client)
        return session.user.email


def test_unlock_clears_the_counter_kept_in_the_data_dir(invoke: Invoke, data_dir: Path) -> None:
    assert invoke("users", "create-admin", "root@example.org", "--password-stdin", input=PASSWORD).exit_code == 0
    asyncio.run(_fail_until_throttled(data_dir, "root@example.org", "192.0.2.1"))
    result = invoke("users", "unlock", "ROOT@example.org", "--client", "192.0.2.1")
    assert result.exit_code == 0, result.output
    assert "cleared 5 counted login attempt(s) of root@example.org" in result.stdout
    assert "from 192.0.2.1" in result.stdout
    assert asyncio.run(_login(data_dir, "root@example.org", "192.0.2.1")) == "root@example.org"
    again = invoke("users", "unlock", "root@example.org")
    assert "cleared 0" in again.stdout


def test_unlock_needs_an_email_or_a_client_and_says_so(invoke: Invoke) -> None:
    assert invoke("users", "unlock").exit_code == 2
    assert_one_line_error(invoke("users", "unlock", "not-an-email"))
    helptext = invoke("users", "unlock", "--help").stdout
    assert "wait" in helptext
    assert "--client" in helptext
