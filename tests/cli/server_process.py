"""A real ``receiptcore serve`` process for CLI and end-to-end tests: started on a free port, stopped by SIGTERM.

``python -m receiptcore serve --port 0`` binds a free port itself and prints the URL it serves on, so tests never
race for a port. The first-admin banner is parsed from the same output.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.log_secrets import append_process_output

REPO = Path(__file__).resolve().parents[2]
_URL = re.compile(r"serving (http://\S+)")
_EMAIL = re.compile(r"^\s*email:\s+(\S+)", re.MULTILINE)
_PASSWORD = re.compile(r"^\s*password:\s+(\S+)", re.MULTILINE)


def clean_env(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: ours minus any RECEIPTCORE_* setting, plus the data dir and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEIPTCORE_") or k == "RECEIPTCORE_TEST_LOG_DIR"}
    env.update(
        {
            "RECEIPTCORE_DATA_DIR": str(data_dir),
            "PYTHONUNBUFFERED": "1",
            "RECEIPTCORE_LOG_LEVEL": "warning",
            "XDG_CONFIG_HOME": str(data_dir.parent / "config"),
        }
    )
    env.update(extra or {})
    return env


class ServerProcess:
    """A ``receiptcore serve`` child process.

    Args:
        data_dir: the data dir (SQLite, files, keys).
        args: extra arguments after ``serve``.
        env: extra environment variables.
        cwd: working directory (a temp dir, so no ``.env`` of the developer leaks in).
    """

    def __init__(
        self, data_dir: Path, *, cwd: Path, args: tuple[str, ...] = (), env: Mapping[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self._cmd = [sys.executable, "-m", "receiptcore", "serve", "--host", "127.0.0.1", "--port", "0", *args]
        # info and JSON lines: the whole output joins the suite's logs, searched for secrets (tests/conftest.py)
        self._env = clean_env(
            data_dir, {"RECEIPTCORE_LOG_LEVEL": "info", "RECEIPTCORE_LOG_FORMAT": "json", **(env or {})}
        )
        self._cwd = cwd
        self.output = ""
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._logged = False

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start and wait until ``/health/live`` answers. Raises RuntimeError with the output on failure."""
        self._proc = subprocess.Popen(
            self._cmd,
            cwd=self._cwd,
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _URL.search(self.output)
            if match and self._live(match.group(1)):
                self.url = match.group(1)
                return self
            if self._proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start; output:\n{self.output}")

    def _read(self) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.output += line

    @staticmethod
    def _live(url: str) -> bool:
        try:
            return httpx.get(f"{url}/health/live", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def admin(self) -> tuple[str, str] | None:
        """(email, password) of the first admin if this start printed the banner."""
        email, password = _EMAIL.search(self.output), _PASSWORD.search(self.output)
        return (email.group(1), password.group(1)) if email and password else None

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the server process."""
        assert self._proc is not None
        self._proc.send_signal(sig)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait for a graceful exit; returns the exit code (SIGKILL after ``timeout``)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the process to exit (SIGKILL after ``timeout``); returns the exit code."""
        if self._proc is None:
            return 0
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._reader is not None:
            self._reader.join(5)
        if not self._logged:
            self._logged = True
            append_process_output(self.output, f"serve-{self._proc.pid}")
        return self._proc.returncode

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
