"""On a terminal, `users create-admin` asks for the password twice (hidden) instead of refusing."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.server_process import clean_env

PASSWORD = "correct horse battery staple 42"


def _read_until(fd: int, needle: bytes, seen: bytearray, start: int, timeout: float = 30) -> int:
    """Read until ``needle`` appears after ``start``; returns the index just past it."""
    deadline = time.monotonic() + timeout
    while seen.find(needle, start) < 0:
        assert time.monotonic() < deadline, f"waited for {needle!r}, got {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                raise AssertionError(f"terminal closed before {needle!r}; output {bytes(seen)!r}")
            seen += chunk
    return seen.find(needle, start) + len(needle)


# Runs in the child after exec (no fork-unsafe Python between fork and exec, whatever threads this process has):
# take the pty on stdin as the controlling terminal, as a login shell would, then become the CLI.
_LAUNCHER = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, '-m', 'receiptcore', *sys.argv[1:]])"
)


def _run_on_a_terminal(args: list[str], answers: list[tuple[bytes, bytes]], env: dict[str, str]) -> tuple[int, str]:
    fd, child_end = os.openpty()
    child = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, *args],
        stdin=child_end,
        stdout=child_end,
        stderr=child_end,
        env=env,
        start_new_session=True,
    )
    os.close(child_end)
    seen = bytearray()
    position = 0
    try:
        for prompt, answer in answers:
            position = _read_until(fd, prompt, seen, position)
            os.write(fd, answer)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 1024)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
        code = child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(fd)
    return code, seen.decode(errors="replace")


@pytest.mark.slow
def test_create_admin_prompts_twice_on_a_terminal(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = clean_env(data_dir)
    code, output = _run_on_a_terminal(
        ["users", "create-admin", "root@example.org"],
        [(b"Password:", PASSWORD.encode() + b"\n"), (b"Repeat for confirmation:", PASSWORD.encode() + b"\n")],
        env,
    )
    assert code == 0, output
    assert PASSWORD not in output  # hidden input
    assert "created admin root@example.org" in output
    listed = subprocess.run(
        [sys.executable, "-m", "receiptcore", "users", "list", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert [u["email"] for u in json.loads(listed.stdout)] == ["root@example.org"]


@pytest.mark.slow
def test_mismatched_repetition_asks_again(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data")
    code, output = _run_on_a_terminal(
        ["users", "create-admin", "root@example.org"],
        [
            (b"Password:", PASSWORD.encode() + b"\n"),
            (b"Repeat for confirmation:", b"something else entirely\n"),
            (b"do not match", b""),
            (b"Password:", PASSWORD.encode() + b"\n"),
            (b"Repeat for confirmation:", PASSWORD.encode() + b"\n"),
        ],
        env,
    )
    assert code == 0, output
    assert "created admin root@example.org" in output
