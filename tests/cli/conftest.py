"""Fixtures of the CLI tests: an isolated environment (own data dir and cwd), a runner, the scripted plugin."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image, ImageDraw

from receiptcore.entrypoints.cli import main
from tests.cli.plugin import install_plugin

Invoke = Callable[..., Result]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data dir in RECEIPTCORE_DATA_DIR; no other RECEIPTCORE_* variable and no .env of the developer."""
    for key in list(os.environ):
        if key.startswith("RECEIPTCORE_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    # `receiptcore login` keeps sessions in the config dir: never the developer's own
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    data = tmp_path / "data"
    monkeypatch.setenv("RECEIPTCORE_DATA_DIR", str(data))
    return data


@pytest.fixture
def invoke(data_dir: Path) -> Invoke:
    """Run the CLI in-process: ``invoke("users", "list", input="...")``."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), input=input, catch_exceptions=True)

    return run


@pytest.fixture
def scripted_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Install the ``scripted`` extractor plugin for this test; returns the directory to put on a path."""
    site = install_plugin(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    return str(site)


def receipt_image(text: str = "CORNER GROCER") -> bytes:
    """A small JPEG with some text on it (a stand-in receipt for scripted extractors)."""
    image = Image.new("L", (240, 320), 255)
    ImageDraw.Draw(image).text((10, 10), text, fill=0)
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


def assert_one_line_error(result: Result, *, contains: str = "", code: int = 1) -> None:
    """A clean failure: the exit code, no traceback, the message on one line."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert contains.lower() in errors[0].lower(), result.output
