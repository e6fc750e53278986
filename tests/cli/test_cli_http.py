"""`import`, `watch` and `export` against a real `receiptcore serve` process (scripted extractor plugin).

One server per module (starting it takes a second or two); every test signs in as its own fresh user, so tests
stay independent: uploads, duplicates and exports are per owner.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from receiptcore.domain.ids import new_id
from tests.cli.conftest import Invoke, assert_one_line_error, receipt_image
from tests.cli.plugin import install_plugin
from tests.cli.server_process import REPO, ServerProcess, clean_env

pytestmark = pytest.mark.slow

PASSWORD = "a long enough test password 7"
WATCH = (sys.executable, "-m", "receiptcore", "watch")


@dataclass(frozen=True)
class Account:
    """A member of the test server: where, who, and an authenticated HTTP client."""

    url: str
    email: str
    http: httpx.Client

    def receipts(self, **params: str) -> list[dict[str, object]]:
        return list(self.http.get("/api/receipts", params={"limit": "100", **params}).json()["items"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("cli-server")
    site = install_plugin(root / "site")
    env = {"RECEIPTCORE_EXTRACTOR": "scripted", "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    with ServerProcess(root / "data", cwd=root, env={**env, "RECEIPTCORE_WORKER_POLL_SECONDS": "0.2"}) as proc:
        yield proc


@pytest.fixture
def account(server: ServerProcess) -> Iterator[Account]:
    assert server.admin is not None
    admin_email, admin_password = server.admin
    token = httpx.post(f"{server.url}/auth/login", json={"email": admin_email, "password": admin_password}).json()
    email = f"u-{new_id()[-12:]}@example.org"
    created = httpx.post(
        f"{server.url}/users",
        json={"email": email, "password": PASSWORD},
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert created.status_code == 201, created.text
    session = httpx.post(f"{server.url}/auth/login", json={"email": email, "password": PASSWORD}).json()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {session['access_token']}"}) as http:
        yield Account(server.url, email, http)


def _auth(account: Account) -> list[str]:
    return ["--server", account.url, "--email", account.email, "--password-stdin"]


def _inbox(tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.jpg").write_bytes(receipt_image(f"A {new_id()}"))
    (inbox / "b.JPEG").write_bytes(receipt_image(f"B {new_id()}"))
    (inbox / "cut.jpg").write_bytes(receipt_image(f"C {new_id()}")[:300])  # looks like a JPEG, is not one
    (inbox / "fake.jpg").write_text("plain text with a .jpg name")
    (inbox / "notes.txt").write_text("not a receipt")
    (inbox / ".hidden.jpg").write_bytes(receipt_image("hidden"))
    return inbox


def test_import_counts_imported_duplicate_refused_and_skipped(invoke: Invoke, account: Account, tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    first = invoke("import", str(inbox), *_auth(account), input=PASSWORD + "\n")
    assert first.exit_code == 1, first.output
    # the one rule of import and watch: fake.jpg is named like a receipt but is not one, so it is refused (as
    # watch refuses it); notes.txt is not named like one, so it is skipped; hidden files are not looked at
    assert "2 imported, 0 duplicate, 2 refused, 1 skipped (not receipt files)" in first.stdout
    assert "cut.jpg" in first.stderr
    assert "fake.jpg: not a receipt file" in first.stderr
    assert "Traceback" not in first.output
    assert sorted(r["source"]["filename"] for r in account.receipts()) == ["a.jpg", "b.JPEG"]  # type: ignore[index]

    (inbox / "cut.jpg").unlink()
    (inbox / "fake.jpg").unlink()
    again = invoke("import", str(inbox), *_auth(account), input=PASSWORD + "\n")
    assert again.exit_code == 0, again.output
    assert "0 imported, 2 duplicate, 0 refused, 1 skipped" in again.stdout
    assert len(account.receipts()) == 2


def test_import_recursive_reaches_sub_folders(invoke: Invoke, account: Account, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "2024" / "may").mkdir(parents=True)
    (inbox / "top.png").write_bytes(_png())
    (inbox / "2024" / "may" / "deep.jpg").write_bytes(receipt_image(f"deep {new_id()}"))
    flat = invoke("import", str(inbox), *_auth(account), input=PASSWORD)
    assert flat.exit_code == 0, flat.output
    assert "1 imported" in flat.stdout
    deep = invoke("import", str(inbox), "--recursive", *_auth(account), input=PASSWORD)
    assert deep.exit_code == 0, deep.output
    assert "1 imported, 1 duplicate" in deep.stdout


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), (255, 255, 255)).save(out, "PNG")
    return out.getvalue()


def test_credentials_from_the_environment_and_a_token(
    invoke: Invoke, account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "one.jpg").write_bytes(receipt_image(f"one {new_id()}"))
    monkeypatch.setenv("RECEIPTCORE_SERVER", account.url)
    monkeypatch.setenv("RECEIPTCORE_EMAIL", account.email)
    monkeypatch.setenv("RECEIPTCORE_PASSWORD", PASSWORD)
    assert "1 imported" in invoke("import", str(inbox)).stdout

    monkeypatch.delenv("RECEIPTCORE_EMAIL")
    monkeypatch.delenv("RECEIPTCORE_PASSWORD")
    token = str(account.http.headers["Authorization"]).removeprefix("Bearer ")
    monkeypatch.setenv("RECEIPTCORE_TOKEN", token)
    assert "1 duplicate" in invoke("import", str(inbox)).stdout


def test_wrong_password_missing_credentials_and_no_server_are_one_line_errors(
    invoke: Invoke, account: Account, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    wrong = invoke("import", str(inbox), *_auth(account), input="not the password at all\n")
    assert_one_line_error(wrong, contains="wrong email or password")
    assert_one_line_error(invoke("import", str(inbox), "--server", account.url), contains="credentials")
    with_email = invoke("import", str(inbox), "--server", account.url, "--email", account.email)
    assert_one_line_error(with_email, contains="RECEIPTCORE_PASSWORD")  # stdin is not a terminal: no prompt
    nowhere = invoke("export", "--server", "http://127.0.0.1:9", *_auth(account)[2:], input=PASSWORD)
    assert_one_line_error(nowhere, contains="cannot reach")
    assert_one_line_error(invoke("import", str(tmp_path / "missing"), *_auth(account)), code=2)


def test_watch_once_files_results_into_done_and_failed(invoke: Invoke, account: Account, tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    result = invoke(
        "watch", str(inbox), "--once", "--interval", "0.2", "--settle", "0.3", *_auth(account), input=PASSWORD
    )
    assert result.exit_code == 1, result.output  # something was refused
    assert "2 imported, 0 duplicate, 2 refused, 1 skipped (not receipt files)" in result.stdout
    assert sorted(p.name for p in (inbox / ".done").iterdir()) == ["a.jpg", "b.JPEG"]
    failed = sorted(p.name for p in (inbox / ".failed").iterdir())
    assert failed == ["cut.jpg", "cut.jpg.reason.txt", "fake.jpg", "fake.jpg.reason.txt"]
    assert "not a receipt" in (inbox / ".failed" / "fake.jpg.reason.txt").read_text()
    assert (inbox / ".failed" / "cut.jpg.reason.txt").read_text().strip()
    # files that are not receipts by name, and hidden files, are left alone
    assert sorted(p.name for p in inbox.iterdir()) == [".done", ".failed", ".hidden.jpg", "notes.txt"]
    assert len(account.receipts()) == 2


def test_watch_waits_for_a_file_to_be_complete_then_imports_it(account: Account, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    env = clean_env(tmp_path / "data", {"RECEIPTCORE_PASSWORD": PASSWORD})
    watcher = subprocess.Popen(
        [*WATCH, str(inbox), "--interval", "0.3", "--delete", "--server", account.url, "--email", account.email],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        content = receipt_image(f"slow {new_id()}")
        target = inbox / "slow.jpg"
        with target.open("wb") as fh:  # a scanner writing slowly: half now, the rest a second later
            fh.write(content[: len(content) // 2])
            fh.flush()
            time.sleep(1.2)
            fh.write(content[len(content) // 2 :])
        deadline = time.monotonic() + 20
        while target.exists():
            assert time.monotonic() < deadline, "the watcher did not import the file"
            assert watcher.poll() is None, watcher.communicate()
            time.sleep(0.1)
        [receipt] = account.receipts()
        assert receipt["source"]["size"] == len(content)  # type: ignore[index]
        assert not (inbox / ".failed").exists()
    finally:
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=20)
    assert watcher.returncode == 0, out + err
    assert "1 imported" in out
    assert "Traceback" not in err


def test_export_streams_csv_and_json_with_filters(invoke: Invoke, account: Account, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("x.jpg", "y.jpg"):
        (inbox / name).write_bytes(receipt_image(f"{name} {new_id()}"))
    assert invoke("import", str(inbox), *_auth(account), input=PASSWORD).exit_code == 0
    deadline = time.monotonic() + 20
    while {r["status"] for r in account.receipts()} - {"extracted", "needs_review"}:
        assert time.monotonic() < deadline, "the worker did not extract the receipts"
        time.sleep(0.2)

    as_json = invoke("export", "--format", "json", *_auth(account), input=PASSWORD)
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.stdout)
    assert sorted(r["source"]["filename"] for r in rows) == ["x.jpg", "y.jpg"]
    assert {r["total"] for r in rows} == {"4.70"}

    out = tmp_path / "export.csv"
    as_csv = invoke("export", "--output", str(out), "--q", "corner", *_auth(account), input=PASSWORD)
    assert as_csv.exit_code == 0, as_csv.output
    lines = out.read_text(encoding="utf-8-sig").strip().splitlines()
    assert len(lines) == 3  # header + two receipts
    assert not out.with_name("export.csv.part").exists()

    none = invoke("export", "--format", "json", "--q", "no such merchant", *_auth(account), input=PASSWORD)
    assert json.loads(none.stdout) == []
    name = rows[0]["merchant"]["name"]
    by_merchant = invoke("export", "--format", "json", "--merchant", name.upper(), *_auth(account), input=PASSWORD)
    assert len(json.loads(by_merchant.stdout)) == len([r for r in rows if r["merchant"]["name"] == name])
    other = invoke("export", "--format", "json", "--merchant", "no such merchant", *_auth(account), input=PASSWORD)
    assert json.loads(other.stdout) == []
    later = invoke("export", "--format", "json", "--from", "2030-01-01", *_auth(account), input=PASSWORD)
    assert json.loads(later.stdout) == []
    assert_one_line_error(invoke("export", "--from", "yesterday", *_auth(account), input=PASSWORD), code=2)
