"""``receiptcore login`` / ``token`` / ``logout`` against a real server (stumble 6 of issue 11: the tour broke
when the 5-minute access token expired; a stored session now refreshes silently)."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import Invoke, assert_one_line_error, receipt_image
from tests.cli.plugin import install_plugin
from tests.cli.server_process import REPO, ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("login-server")
    site = install_plugin(root / "site")
    env = {"RECEIPTCORE_EXTRACTOR": "scripted", "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    with ServerProcess(root / "data", cwd=root, env=env) as proc:
        yield proc


def _credentials(tmp_path: Path) -> Path:
    return tmp_path / "config" / "receiptcore" / "credentials.json"


def _login(invoke: Invoke, server: ServerProcess) -> tuple[str, str]:
    assert server.admin is not None
    email, password = server.admin
    result = invoke("login", "--server", server.url, "--email", email, "--password-stdin", input=password + "\n")
    assert result.exit_code == 0, result.output
    return email, password


def test_login_keeps_a_refresh_token_in_the_config_dir_with_mode_0600(
    invoke: Invoke, server: ServerProcess, tmp_path: Path
) -> None:
    _, password = _login(invoke, server)
    path = _credentials(tmp_path)  # XDG_CONFIG_HOME is tmp_path/config (tests/cli/conftest.py)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    entry = json.loads(path.read_text())["servers"][server.url]
    assert entry["refresh_token"]
    assert password not in path.read_text()


def test_commands_use_the_session_and_refresh_it_silently_when_the_access_token_expired(
    invoke: Invoke, server: ServerProcess, tmp_path: Path
) -> None:
    _login(invoke, server)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.jpg").write_bytes(receipt_image("login tour"))
    first = invoke("import", str(inbox), "--server", server.url)
    assert first.exit_code == 0, first.output
    assert "1 imported" in first.stdout

    path = _credentials(tmp_path)
    data = json.loads(path.read_text())
    old_refresh = data["servers"][server.url]["refresh_token"]
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)).isoformat()
    data["servers"][server.url]["access_expires_at"] = past  # as if the tour paused for ten minutes
    path.write_text(json.dumps(data))

    token = invoke("token", "--server", server.url)
    assert token.exit_code == 0, token.output
    access = token.stdout.strip()
    me = httpx.get(f"{server.url}/auth/me", headers={"Authorization": f"Bearer {access}"})
    assert me.status_code == 200
    rotated = json.loads(path.read_text())["servers"][server.url]["refresh_token"]
    assert rotated != old_refresh  # refreshed, and the rotated token was kept
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = invoke("import", str(inbox), "--server", server.url)
    assert again.exit_code == 0, again.output
    assert "1 duplicate" in again.stdout


def test_logout_revokes_the_session_on_the_server_and_forgets_it(
    invoke: Invoke, server: ServerProcess, tmp_path: Path
) -> None:
    _login(invoke, server)
    path = _credentials(tmp_path)
    refresh = json.loads(path.read_text())["servers"][server.url]["refresh_token"]
    result = invoke("logout", "--server", server.url)
    assert result.exit_code == 0, result.output
    assert server.url not in json.loads(path.read_text())["servers"]
    assert httpx.post(f"{server.url}/auth/refresh", json={"refresh_token": refresh}).status_code == 401
    assert_one_line_error(invoke("token", "--server", server.url), contains="receiptcore login")
    assert_one_line_error(invoke("export", "--server", server.url), contains="receiptcore login")


def test_wrong_password_stores_nothing(invoke: Invoke, server: ServerProcess, tmp_path: Path) -> None:
    assert server.admin is not None
    result = invoke(
        "login", "--server", server.url, "--email", server.admin[0], "--password-stdin", input="not it at all\n"
    )
    assert_one_line_error(result, contains="wrong email or password")
    assert not _credentials(tmp_path).exists()


def test_a_revoked_session_says_to_log_in_again(invoke: Invoke, server: ServerProcess, tmp_path: Path) -> None:
    _login(invoke, server)
    path = _credentials(tmp_path)
    data = json.loads(path.read_text())
    refresh = data["servers"][server.url]["refresh_token"]
    assert httpx.post(f"{server.url}/auth/logout", json={"refresh_token": refresh}).status_code == 204
    data["servers"][server.url]["access_expires_at"] = dt.datetime.now(dt.UTC).isoformat()
    path.write_text(json.dumps(data))
    assert_one_line_error(invoke("token", "--server", server.url), contains="log")
