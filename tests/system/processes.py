"""Real processes for the system test, each started by us on a free loopback port and stopped by us: receiptcore
services, nginx, a private redis-server and a private PostgreSQL cluster (never the machine's servers)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from glob import glob
from pathlib import Path

import httpx

from tests.system.gateway import REPO, nginx_binary, write_nginx_conf


def free_port() -> int:
    """A TCP port nobody listens on right now (bound to port 0 and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: object, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``predicate()`` until true; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():  # type: ignore[operator]
                return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


class Proc:
    """A child process in its own session, its output in a log file; stopped by SIGTERM (then SIGKILL)."""

    def __init__(self, name: str, cmd: list[str], *, log_dir: Path, env: Mapping[str, str], cwd: Path) -> None:
        self.name = name
        self.cmd = cmd
        self.log = log_dir / f"{name}.log"
        self._env = dict(env)
        self._cwd = cwd
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        handle = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.cmd, cwd=self._cwd, env=self._env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, wait, then SIGKILL the whole session (nginx workers, a hung child)."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGCONT)
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)  # anything of its session left behind

    def kill(self) -> None:
        """SIGKILL now (a crash)."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(5)


_SERVING = re.compile(r"serving (http://\S+)")


class Service(Proc):
    """A ``receiptcore serve --service NAME`` process on a free port."""

    def __init__(self, name: str, service: str, *, log_dir: Path, env: Mapping[str, str], cwd: Path) -> None:
        cmd = [sys.executable, "-m", "receiptcore", "serve", "--service", service, "--host", "127.0.0.1"]
        self.service = service
        self.port = free_port() if service != "worker" else 0
        if service != "worker":
            cmd += ["--port", str(self.port)]
        super().__init__(name, cmd, log_dir=log_dir, env=env, cwd=cwd)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_started(self, timeout: float = 120.0) -> None:
        """Until the service serves (``/health/live``) or, for a worker, has announced itself."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"{self.name} exited:\n{self.output()[-4000:]}")
            if self.service == "worker":
                if " worker " in self.output():
                    return
            elif _SERVING.search(self.output()) and http_ok(self.url + "/health/live"):
                return
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not start within {timeout:.0f} s:\n{self.output()[-4000:]}")


def receiptcore_env(extra: Mapping[str, str]) -> dict[str, str]:
    """Our environment minus every RECEIPTCORE_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEIPTCORE_")}
    env.update({"PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])})
    env.setdefault("RECEIPTCORE_LOG_LEVEL", "warning")
    env.update(extra)
    return env


class Nginx(Proc):
    """nginx with docker/nginx.conf (ports, upstream addresses and paths changed only)."""

    def __init__(self, directory: Path, *, port: int, auth: list[str], receipts: list[str], web_root: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = port
        conf = write_nginx_conf(directory, listen_port=self.port, auth=auth, receipts=receipts, web_root=web_root)
        cmd = [nginx_binary(), "-c", str(conf), "-e", str(directory / "run" / "error.log"), "-g", "daemon off;"]
        super().__init__("nginx", cmd, log_dir=directory, env=dict(os.environ), cwd=directory)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class PrivateRedis(Proc):
    """A redis-server of our own on a free port (no persistence), which tests may stop and start again."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        cmd = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        cmd += ["--dir", str(directory)]
        super().__init__(f"redis-{self.port}", cmd, log_dir=directory, env=dict(os.environ), cwd=directory)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        super().start()
        wait_until(self.ping, 20, "the private redis-server")
        return self

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")


def postgres_bin() -> Path | None:
    """The directory of PostgreSQL's server binaries (initdb, pg_ctl), newest version first."""
    for candidate in sorted(glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of our own (trust auth, loopback, a free port) in a temp dir; pg_ctl stops and starts
    it. As root, the cluster runs as the ``postgres`` system user (initdb refuses root)."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="receiptcore-system-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *args: str, timeout: float = 120) -> None:
        result = subprocess.run([*self._as_user, *args], capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {result.stdout}{result.stderr}")

    def init(self) -> PrivatePostgres:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        return self.start()

    def start(self) -> PrivatePostgres:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        return self

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.SubprocessError, OSError):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)
