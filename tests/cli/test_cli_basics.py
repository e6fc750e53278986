"""The command line as a whole: --version, --help everywhere, settings errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from receiptcore import __version__
from receiptcore.entrypoints.cli import main
from tests.cli.conftest import Invoke, assert_one_line_error
from tests.cli.server_process import REPO, clean_env


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _all_commands(command, (*prefix, name))
    return found


def test_version(invoke: Invoke) -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"receiptcore {__version__}"


def test_every_issue_command_exists() -> None:
    commands = set(_all_commands(main))
    for expected in [
        ("serve",),
        ("worker",),
        ("users", "create-admin"),
        ("users", "create"),
        ("users", "list"),
        ("users", "set-roles"),
        ("users", "disable"),
        ("users", "enable"),
        ("extract",),
        ("import",),
        ("watch",),
        ("export",),
        ("extractors", "list"),
        ("eval",),
    ]:
        assert expected in commands


@pytest.mark.parametrize("path", _all_commands(main))
def test_every_command_has_help_text(invoke: Invoke, path: tuple[str, ...]) -> None:
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    command: click.Command = main
    for part in path:
        assert isinstance(command, click.Group)
        command = command.commands[part]
    assert command.help
    assert len(command.help.strip()) > 10


def test_bad_setting_in_the_environment_is_one_line(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECEIPTCORE_PORT", "not-a-port")
    assert_one_line_error(invoke("users", "list"), contains="RECEIPTCORE_PORT")


def test_unknown_command_and_bad_option_are_usage_errors(invoke: Invoke) -> None:
    assert_one_line_error(invoke("frobnicate"), code=2)
    assert_one_line_error(invoke("worker", "--concurrency", "0"), code=2)
    assert_one_line_error(invoke("serve", "--service", "nope"), code=2)


def test_extractors_list_names_the_builtin_ocr_extractor(invoke: Invoke) -> None:
    result = invoke("extractors", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "DISTRIBUTION"]
    ocr = next(line.split() for line in lines[1:] if line.split()[0] == "ocr")
    assert ocr[-1] == "receiptcore"


def test_extractors_list_includes_a_third_party_plugin(invoke: Invoke, scripted_plugin: str) -> None:
    result = invoke("extractors", "list")
    assert result.exit_code == 0, result.output
    row = next(line.split() for line in result.stdout.splitlines() if line.startswith("scripted"))
    assert row[-1] == "scripted-plugin"


def test_python_dash_m_runs_the_cli(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "receiptcore", "--version"],
        cwd=tmp_path,
        env=clean_env(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"receiptcore {__version__}"
    assert REPO.exists()
