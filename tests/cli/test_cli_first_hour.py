"""Newcomer stumbles 3, 4 and 5 of issue 11: a command checks what it needs before it touches any data, read-only
commands never create a store, and a missing extra is one line naming it, never a traceback.

The "wheel without extras" is simulated in a child process by an import hook that refuses the extra's modules
(as an uninstalled package would), so these tests run on a development install that has every extra.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Invoke, assert_one_line_error, receipt_image
from tests.cli.server_process import REPO, clean_env

PASSWORD = "correct horse battery staple 42"

_WITHOUT = """
import sys

BLOCKED = set(sys.argv.pop(1).split(","))


class _Uninstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _Uninstalled())
from receiptcore.entrypoints.cli import main

main(sys.argv[1:], prog_name="receiptcore")
"""


def _run_without(tmp_path: Path, blocked: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "without_extras.py"
    script.write_text(_WITHOUT, encoding="utf-8")
    env = clean_env(tmp_path / "data", {"PYTHONPATH": str(REPO)})
    return subprocess.run(
        [sys.executable, str(script), blocked, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_line_failure(result: subprocess.CompletedProcess[str], contains: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, output
    assert contains in errors[0], output


@pytest.mark.slow
def test_serve_without_the_server_extra_stops_before_creating_data_or_an_admin(tmp_path: Path) -> None:
    result = _run_without(tmp_path, "litestar,uvicorn", "serve", "--port", "0")
    _one_line_failure(result, "pip install 'receiptcore[server]'")
    assert not (tmp_path / "data").exists()
    assert "password" not in (result.stdout + result.stderr).lower()


@pytest.mark.slow
def test_serve_without_the_ocr_extra_stops_before_creating_data_or_an_admin(tmp_path: Path) -> None:
    result = _run_without(tmp_path, "rapidocr,onnxruntime,numpy", "serve", "--port", "0")
    _one_line_failure(result, "pip install 'receiptcore[ocr]'")
    assert not (tmp_path / "data").exists()
    assert "password" not in (result.stdout + result.stderr).lower()


@pytest.mark.slow
def test_extract_without_the_ocr_extra_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    receipt = tmp_path / "receipt.jpg"
    receipt.write_bytes(receipt_image())
    result = _run_without(tmp_path, "numpy,rapidocr,onnxruntime", "extract", str(receipt))
    _one_line_failure(result, "the ocr extractor needs the 'ocr' extra: pip install 'receiptcore[ocr]'")
    assert not (tmp_path / "data").exists()


def test_read_only_commands_in_another_folder_create_nothing_and_name_the_data_dir(
    invoke: Invoke, data_dir: Path
) -> None:
    for args in (
        ("users", "list"),
        ("users", "list", "--json"),
        ("users", "disable", "admin@localhost"),
        ("users", "enable", "admin@localhost"),
        ("users", "set-roles", "admin@localhost", "member"),
        ("users", "reset-password", "admin@localhost"),
    ):
        result = invoke(*args)
        assert_one_line_error(result, contains=f"no receiptcore store in data dir {data_dir.resolve()}")
        assert not data_dir.exists(), args


def test_an_empty_store_says_which_data_dir_it_is(invoke: Invoke, data_dir: Path) -> None:
    created = invoke("users", "create", "ann@example.org", "--password-stdin", input=PASSWORD)
    assert created.exit_code == 0, created.output
    assert invoke("users", "list").stdout.count("ann@example.org") == 1
    other = data_dir.parent / "other"
    other.mkdir()
    (other / "receiptcore.sqlite3").touch()  # an existing but empty store
    empty = invoke("--data-dir", str(other), "users", "list")
    assert empty.exit_code == 0, empty.output
    assert f"no users yet in data dir {other.resolve()}" in empty.stdout
