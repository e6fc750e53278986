"""The project's docker/nginx.conf, runnable on loopback: Debian's nginx (installed when missing) and a rendering of
the config with only listen ports, upstream addresses and file system paths changed.

``render_nginx_conf`` refuses to return a config in which anything else differs from docker/nginx.conf, so the
tests always exercise the routing, limits and headers that ship.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NGINX_CONF = REPO / "docker" / "nginx.conf"
COMPOSE = REPO / "docker" / "compose.yaml"
DOCKERFILE = REPO / "docker" / "Dockerfile"
WEB_STATIC = REPO / "src" / "receiptcore" / "entrypoints" / "web" / "static"

# Lines render_nginx_conf may change (before -> after), each matched as a whole stripped line.
_CHANGEABLE = (
    re.compile(r"pid \S+;"),
    re.compile(r"listen \S+;"),
    re.compile(r"root \S+;"),
    re.compile(r"(client_body|proxy|fastcgi|uwsgi|scgi)_temp_path \S+;"),
    re.compile(r"server \S+:\d+( resolve)?;"),
)


def nginx_binary() -> str:
    """The nginx executable; installs Debian's nginx when missing. Skips (fails under CI=true) if that fails."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    try:
        subprocess.run(["apt-get", "update"], check=True, capture_output=True, timeout=600)
        subprocess.run(
            ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends", "nginx"],
            check=True,
            capture_output=True,
            timeout=900,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        message = f"nginx is not installed and `apt-get install nginx` failed: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        pytest.fail("apt-get installed nginx but no nginx binary is on the PATH")
    return found


def render_nginx_conf(
    *,
    listen_port: int,
    auth: Sequence[str],
    receipts: Sequence[str],
    runtime_dir: Path,
    web_root: Path,
) -> str:
    """docker/nginx.conf with the gateway on 127.0.0.1:``listen_port``, the given ``host:port`` upstreams, and
    pid file, temp paths and web root under local directories. Nothing else changes (checked)."""
    original = NGINX_CONF.read_text()
    text = original
    text = re.sub(r"^(\s*)pid \S+;", rf"\1pid {runtime_dir}/nginx.pid;", text, count=1, flags=re.M)
    text = re.sub(r"^(\s*)listen \S+;", rf"\g<1>listen 127.0.0.1:{listen_port};", text, count=1, flags=re.M)
    text = re.sub(r"^(\s*)root \S+;", rf"\1root {web_root};", text, count=1, flags=re.M)
    text = re.sub(
        r"^(\s*)(client_body|proxy|fastcgi|uwsgi|scgi)_temp_path \S+;",
        lambda m: f"{m.group(1)}{m.group(2)}_temp_path {runtime_dir}/{m.group(2)}_temp;",
        text,
        flags=re.M,
    )
    for name, addresses in (("auth_service", auth), ("receipt_service", receipts)):
        block = re.search(rf"upstream {name} \{{.*?\}}", text, flags=re.S)
        assert block is not None, f"docker/nginx.conf has no upstream {name}"
        servers = "".join(f"        server {address};\n" for address in addresses)
        rendered = re.sub(r"^\s*server \S+:\d+( resolve)?;\n", lambda _m, s=servers: s, block.group(0), flags=re.M)
        text = text.replace(block.group(0), rendered)
    _check_only_paths_and_ports_changed(original, text)
    return text


def _check_only_paths_and_ports_changed(original: str, rendered: str) -> None:
    def significant(text: str) -> list[str]:
        return [
            line.strip()
            for line in text.splitlines()
            if line.strip() and not any(p.fullmatch(line.strip()) for p in _CHANGEABLE)
        ]

    assert significant(original) == significant(rendered), "the rendering changed more than ports and paths"


def write_nginx_conf(directory: Path, **kwargs: object) -> Path:
    """Render into ``directory/nginx.conf`` with its runtime dirs created (world-writable: workers run as nobody)."""
    runtime = directory / "run"
    runtime.mkdir(parents=True, exist_ok=True)
    for sub in ("client_body_temp", "proxy_temp", "fastcgi_temp", "uwsgi_temp", "scgi_temp"):
        (runtime / sub).mkdir(exist_ok=True)
    for path in (directory, runtime, *runtime.iterdir()):
        path.chmod(0o777)
    conf = directory / "nginx.conf"
    conf.write_text(render_nginx_conf(runtime_dir=runtime, **kwargs))  # type: ignore[arg-type]
    return conf


def nginx_test(conf: Path) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on ``conf``; the error log goes to the runtime dir."""
    return subprocess.run(
        [nginx_binary(), "-t", "-c", str(conf), "-e", str(conf.parent / "run" / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
