"""Start and stop the benchmark's server processes (see ``_serve.py``) and wait until they answer."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

BENCH_DIR = Path(__file__).resolve().parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_environ() -> dict[str, str]:
    """This process's environment without any ``RECEIPTCORE_*`` variable: the bench measures the embedded
    defaults, whatever the shell running it has configured."""
    return {name: value for name, value in os.environ.items() if not name.startswith("RECEIPTCORE_")}


def rss_mib(pid: int, field: str = "VmRSS") -> float | None:
    """Resident memory of ``pid`` in MiB (Linux /proc; ``VmHWM``: its peak so far), or None when unknown."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class ServerProcess:
    """One server in a child process, its output going to ``log_path``.

    ``product`` runs the product's own command, ``python -m receiptcore serve --no-worker`` (the extraction
    worker stays off so OCR never competes with the requests for the CPU); ``product-worker`` the same with the
    worker on (the rows that measure the worker's effect); ``baseline`` runs ``_serve.py``,
    which serves the bare app through the same server functions. Both get the same environment ``env``.

    Args:
        target: ``product``, ``product-worker``, ``uvicorn`` (the baseline on ``_serve.py``), ``granian-N``.
        log_path: where the server's stdout and stderr go (a file, so a chatty server never blocks on a pipe).
        env: the ``RECEIPTCORE_*`` settings shared by both servers (data dir, log level).
    """

    def __init__(self, target: str, log_path: Path, env: dict[str, str]) -> None:
        self.target = target
        self.port = free_port()
        self.log_path = log_path
        if target in ("product", "product-worker"):
            # product-worker: `receiptcore serve` exactly as `make run` serves it, extraction worker on
            command = [sys.executable, "-m", "receiptcore", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
            if target == "product":
                command.append("--no-worker")
        elif target.startswith("granian-"):
            # the fastest bare baseline available here: granian (Rust HTTP, its own event loop), N processes
            command = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1"]
            command += ["--port", str(self.port), "--workers", target.split("-", 1)[1], "--no-ws"]
            command += ["--log-level", "warning", "--factory", "_baseline_app:create_baseline_app"]
        else:
            command = [sys.executable, str(BENCH_DIR / "_serve.py"), "--port", str(self.port)]
        self._log: IO[bytes] = log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # the caller's PYTHONPATH stays behind the bench's (PYTHONPATH=$PWD/src measures a worktree's code)
            env=clean_environ()
            | env
            | {"PYTHONPATH": os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")]))},
            cwd=log_path.parent,
        )

    @property
    def base_url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id (its CPU time is sampled while it is measured)."""
        return self.process.pid

    def wait_ready(self, path: str = "/health/live", timeout_s: float = 60.0) -> None:
        """Poll ``path`` until it answers 200; raise RuntimeError (with the server's log) otherwise."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + path, timeout=2.0).status_code == 200:
                    return
            time.sleep(0.1)
        self.stop()
        log = self.log_path.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"the {self.target} server did not become ready; its output:\n{log}")

    @classmethod
    def start(cls, target: str, log_path: Path, env: dict[str, str], attempts: int = 3) -> ServerProcess:
        """Start a server and wait until it answers, on a fresh port each attempt: the port was free when
        picked, but another process may take it before the server binds it."""
        for attempt in range(1, attempts + 1):
            server = cls(target, log_path, env)
            try:
                server.wait_ready()
            except RuntimeError:
                if attempt == attempts or "in use" not in log_path.read_text(errors="replace"):
                    raise
                continue
            return server
        raise AssertionError("unreachable")

    def rss_mib(self) -> float | None:
        """The server's resident memory in MiB (Linux /proc), or None when unknown."""
        return rss_mib(self.pid)

    def peak_rss_mib(self) -> float | None:
        """The server's peak resident memory so far in MiB (Linux /proc), or None when unknown."""
        return rss_mib(self.pid, "VmHWM")

    def stop(self) -> None:
        """Ask the server to shut down (SIGINT, like Ctrl-C), then kill it if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
