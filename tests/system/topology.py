"""The reference topology on loopback: nginx (docker/nginx.conf) in front of two auth instances on PostgreSQL, two
receipt API instances (MongoDB when RECEIPTCORE_TEST_MONGO_URL is set, else one shared SQLite data dir) and two
extraction workers, with Redis pub/sub between them. Every process is ours and stopped by ``Topology.stop``."""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.system.gateway import WEB_STATIC
from tests.system.processes import (
    Nginx,
    PrivatePostgres,
    Proc,
    Service,
    free_port,
    http_ok,
    receiptcore_env,
    wait_until,
)

_PASSWORD = re.compile(r"^\s*password:\s+(\S+)", re.M)
ADMIN_EMAIL = "admin@localhost"
LEASE_SECONDS = 30


@dataclass
class Topology:
    """Handles on every process of one running topology."""

    root: Path
    postgres: PrivatePostgres
    redis_url: str
    redis_prefix: str
    store: str
    nginx: Nginx | None = None
    auth: list[Service] = field(default_factory=list)
    receipts: list[Service] = field(default_factory=list)
    workers: list[Service] = field(default_factory=list)
    admin_password: str = ""
    _turn: int = 0

    @property
    def url(self) -> str:
        assert self.nginx is not None
        return self.nginx.url

    def processes(self) -> list[Proc]:
        return [*self.workers, *self.receipts, *self.auth, *([self.nginx] if self.nginx else [])]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0)

    def login(self, email: str, password: str, base: str | None = None) -> httpx.Response:
        return httpx.post(f"{base or self.url}/auth/login", json={"email": email, "password": password}, timeout=30)

    def direct_login(self, email: str, password: str) -> httpx.Response:
        """Sign in on one auth instance directly (round robin): the gateway allows 10 sign-ins a minute per client
        address, and every sign-in of this test comes from 127.0.0.1."""
        self._turn += 1
        return self.login(email, password, base=self.auth[self._turn % len(self.auth)].url)

    def admin_headers(self) -> dict[str, str]:
        response = self.direct_login(ADMIN_EMAIL, self.admin_password)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def stop(self) -> None:
        """Stop every process, then remove the data dirs (the private PostgreSQL database goes with the cluster)."""
        for proc in self.processes():
            with contextlib.suppress(Exception):
                proc.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def logs(self) -> str:
        return "\n".join(f"---- {p.name} ----\n{p.output()[-3000:]}" for p in self.processes())


def start_topology(
    *, postgres: PrivatePostgres, redis_url: str, mongo_url: str | None, extractor_env: dict[str, str]
) -> Topology:
    """Start every process (auth first: it migrates and creates the first admin) and wait until all are ready."""
    root = Path(tempfile.mkdtemp(prefix="receiptcore-system-"))
    root.chmod(0o755)  # nginx's workers (nobody) read the web root below it
    database = f"rc_{secrets.token_hex(4)}"
    postgres.create_database(database)
    prefix = f"rc-system-{secrets.token_hex(4)}"
    topo = Topology(root, postgres, redis_url, prefix, store="mongodb" if mongo_url else "sqlite (shared data dir)")
    # a copy below the 0755 root: the clone itself may sit in a 0700 folder nginx's workers cannot enter
    web_root = _copied_web_root(root) if WEB_STATIC.is_dir() else _placeholder_web_root(root)
    common = {
        "RECEIPTCORE_POSTGRES_URL": postgres.url(database),
        "RECEIPTCORE_REDIS_URL": redis_url,
        "RECEIPTCORE_REDIS_PREFIX": prefix,
        "RECEIPTCORE_TRUSTED_PROXIES": "127.0.0.1",
        "RECEIPTCORE_SIGNING_KEYS_DIR": str(root / "keys"),
        "RECEIPTCORE_WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
        "RECEIPTCORE_WORKER_POLL_SECONDS": "0.5",
        **extractor_env,
    }
    receipts_env = dict(common, RECEIPTCORE_DATA_DIR=str(root / "receipts"))
    if mongo_url:
        receipts_env["RECEIPTCORE_MONGO_URL"] = mongo_url
    try:
        auth = [
            Service(
                f"auth-{i}",
                "auth",
                log_dir=root,
                cwd=root,
                env=receiptcore_env(dict(common, RECEIPTCORE_DATA_DIR=str(root / f"auth-{i}"))),
            )
            for i in (1, 2)
        ]
        topo.auth = auth
        auth[0].start().wait_started()
        match = _PASSWORD.search(auth[0].output())
        assert match, f"the first auth instance printed no admin password:\n{auth[0].output()}"
        topo.admin_password = match.group(1)
        # the receipt API fetches the auth service's keys through the gateway (either auth instance answers)
        gateway_port = free_port()
        receipts_env["RECEIPTCORE_AUTH_URL"] = f"http://127.0.0.1:{gateway_port}"
        topo.receipts = [
            Service(f"receipts-{i}", "receipts", log_dir=root, cwd=root, env=receiptcore_env(receipts_env))
            for i in (1, 2)
        ]
        gateway = Nginx(
            root / "nginx",
            port=gateway_port,
            auth=[a.url.removeprefix("http://") for a in auth],
            receipts=[r.url.removeprefix("http://") for r in topo.receipts],
            web_root=web_root,
        )
        topo.nginx = gateway
        topo.workers = [
            Service(f"worker-{i}", "worker", log_dir=root, cwd=root, env=receiptcore_env(receipts_env)) for i in (1, 2)
        ]
        gateway.start()
        rest = [auth[1], *topo.receipts, *topo.workers]
        for service in rest:
            service.start()
        with ThreadPoolExecutor(len(rest)) as pool:
            list(pool.map(lambda s: s.wait_started(), rest))
        wait_until(lambda: http_ok(gateway.url + "/health/ready"), 30, "the gateway")
        for service in [*auth, *topo.receipts]:
            wait_until(lambda s=service: http_ok(s.url + "/health/ready"), 30, f"{service.name} to be ready")
    except BaseException:
        print(topo.logs())
        topo.stop()
        raise
    print(f"system topology: receipts on {topo.store}; users on PostgreSQL {database}; redis prefix {prefix}")
    return topo


def _copied_web_root(root: Path) -> Path:
    target = root / "web"
    shutil.copytree(WEB_STATIC, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def _placeholder_web_root(root: Path) -> Path:
    # until the web client is on this branch: a shell so the gateway's `/` route has a file to serve
    web = root / "web"
    web.mkdir(mode=0o755)
    (web / "index.html").write_text("<!doctype html><title>receiptcore</title>\n")
    (web / "index.html").chmod(0o644)
    return web
