"""Revocation suite (issue 9, hole 4): after logout, refresh-token reuse, disable, role change and password change,
made through the API or with the CLI in another process, the old access token is refused on the next request.

Real processes: one ``receiptcore serve`` on an embedded (SQLite) data dir, and ``receiptcore users ...`` run as
separate processes on the same data dir, as an operator would. Nothing waits: each case makes its change, then
sends the old token exactly once and expects 401. The figures are the time from the change's completion (the
HTTP answer, or the CLI process's exit) to the refusal, i.e. the cost of that one next request.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.server_process import ServerProcess, clean_env
from tests.hostile.conftest import Figures

# real server and CLI processes (about 25 s): in `make test`, not in `make test-fast`
pytestmark = pytest.mark.slow

PASSWORD = "violet-kestrel-harbour-42"
NEW_PASSWORD = "amber-plover-estuary-77"


class Server:
    """The server process and an admin client of it."""

    def __init__(self, process: ServerProcess, tmp_path: Path) -> None:
        self.process = process
        self.url = process.url
        self.tmp_path = tmp_path
        assert process.admin is not None
        email, password = process.admin
        self.admin = self.login(email, password)[0]
        self.made = 0
        self.delays_ms: dict[str, float] = {}

    def login(self, email: str, password: str) -> tuple[str, str]:
        """(access token, refresh token) of a fresh session."""
        answer = httpx.post(f"{self.url}/auth/login", json={"email": email, "password": password})
        assert answer.status_code == 200, answer.text
        return answer.json()["access_token"], answer.cookies["receiptcore_refresh"]

    def me(self, token: str) -> int:
        return httpx.get(f"{self.url}/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code

    def member(self) -> tuple[str, str]:
        """A new member's (id, email), made by the admin through the API."""
        self.made += 1
        email = f"member{self.made}@example.com"
        answer = httpx.post(
            f"{self.url}/users",
            json={"email": email, "password": PASSWORD, "roles": ["member"]},
            headers=self.auth(self.admin),
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["id"], email

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def cli(self, *args: str, stdin: str | None = None) -> None:
        """Run ``receiptcore users ...`` in its own process on the server's data dir."""
        done = subprocess.run(
            [sys.executable, "-m", "receiptcore", "users", *args],
            input=stdin,
            env=clean_env(self.process.data_dir),
            cwd=self.tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def refused_next(self, case: str, token: str) -> bool:
        """Send ``token`` once, right now; True if refused. Records how long that request took."""
        started = time.perf_counter()
        status = self.me(token)
        self.delays_ms[case] = round((time.perf_counter() - started) * 1000, 1)
        return status == 401


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp_path = tmp_path_factory.mktemp("revocation")
    with ServerProcess(tmp_path / "data", cwd=tmp_path) as process:
        yield Server(process, tmp_path)


def _api_cases(server: Server) -> dict[str, bool]:
    refused: dict[str, bool] = {}

    _, email = server.member()
    access, refresh = server.login(email, PASSWORD)
    assert server.me(access) == 200
    httpx.post(f"{server.url}/auth/logout", cookies={"receiptcore_refresh": refresh})
    refused["api logout"] = server.refused_next("api logout", access)

    # The thief replays a refresh token the owner already rotated: the whole session ends, both copies.
    _, email = server.member()
    owners_access, stolen = server.login(email, PASSWORD)
    rotated = httpx.post(f"{server.url}/auth/refresh", json={"refresh_token": stolen})
    assert rotated.status_code == 200
    replayed = httpx.post(f"{server.url}/auth/refresh", json={"refresh_token": stolen})
    assert replayed.status_code == 401
    refused["api reuse: first token"] = server.refused_next("api reuse: first token", owners_access)
    refused["api reuse: rotated token"] = server.refused_next(
        "api reuse: rotated token", rotated.json()["access_token"]
    )

    user_id, email = server.member()
    access, _ = server.login(email, PASSWORD)
    assert server.me(access) == 200
    httpx.post(f"{server.url}/users/{user_id}/disable", headers=server.auth(server.admin))
    refused["api disable"] = server.refused_next("api disable", access)

    user_id, email = server.member()
    access, _ = server.login(email, PASSWORD)
    assert server.me(access) == 200
    answer = httpx.put(
        f"{server.url}/users/{user_id}/roles", json={"roles": ["auditor"]}, headers=server.auth(server.admin)
    )
    assert answer.status_code == 200, answer.text
    refused["api role change"] = server.refused_next("api role change", access)

    _, email = server.member()
    access, _ = server.login(email, PASSWORD)
    other_session, _ = server.login(email, PASSWORD)
    answer = httpx.post(
        f"{server.url}/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=server.auth(access),
    )
    assert answer.status_code == 204, answer.text
    refused["api password change"] = server.refused_next("api password change", other_session)
    return refused


def _cli_cases(server: Server) -> dict[str, bool]:
    refused: dict[str, bool] = {}
    for case, command in {
        "cli disable": ("disable",),
        "cli set-roles": ("set-roles", "{email}", "auditor"),
        "cli reset-password": ("reset-password", "{email}", "--password-stdin"),
    }.items():
        _, email = server.member()
        access, _ = server.login(email, PASSWORD)
        assert server.me(access) == 200  # the server has the user's state cached now
        args = [part.format(email=email) for part in command]
        if len(args) == 1:
            args.append(email)
        server.cli(*args, stdin=NEW_PASSWORD + "\n")
        refused[case] = server.refused_next(case, access)
    return refused


def test_old_access_tokens_are_refused_on_the_next_request(server: Server, figures: Figures) -> None:
    refused = {**_api_cases(server), **_cli_cases(server)}
    failed = [case for case, ok in refused.items() if not ok]
    figures.record(
        "revocation",
        tried=len(refused),
        failed=len(failed),
        failures=failed or "none",
        next_request_ms=server.delays_ms,
    )
    assert failed == []


def test_a_fresh_login_right_after_a_cli_change_is_accepted_at_once(server: Server, figures: Figures) -> None:
    """The 3-4 s refusal of a new token after a CLI change came from state cached before the change."""
    tried, failed = 0, []
    for case, command in {
        "after cli set-roles": ("set-roles", "{email}", "auditor"),
        "after cli reset-password": ("reset-password", "{email}", "--password-stdin"),
        "after cli enable": ("enable", "{email}"),
    }.items():
        user_id, email = server.member()
        access, _ = server.login(email, PASSWORD)
        assert server.me(access) == 200
        if command[0] == "enable":
            server.cli("disable", email)
        server.cli(*[part.format(email=email) for part in command], stdin=NEW_PASSWORD + "\n")
        password = NEW_PASSWORD if command[0] == "reset-password" else PASSWORD
        fresh, _ = server.login(email, password)
        tried += 1
        started = time.perf_counter()
        status = server.me(fresh)
        server.delays_ms[case] = round((time.perf_counter() - started) * 1000, 1)
        if status != 200:
            failed.append(f"{case}: {status} for {user_id}")
    figures.record(
        "revocation",
        tried=tried,
        failed=len(failed),
        failures=failed or "none",
        first_request_ms={case: server.delays_ms[case] for case in server.delays_ms if case.startswith("after")},
    )
    assert failed == []
