"""System test fixtures: a private PostgreSQL cluster, Redis (the machine's, with a unique channel prefix, or a
private redis-server for the test that stops it) and the whole topology, started once per module and always torn
down. Under CI=true a missing server or tool fails instead of skipping."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system.processes import PrivatePostgres, PrivateRedis, postgres_bin
from tests.system.topology import Topology, start_topology

RECEIPTS_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "receipts"
MACHINE_REDIS = ("127.0.0.1", 6379)


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def _servers_supported() -> None:
    wanted = ("asyncpg", "redis", "receiptcore.adapters.postgres.user_repo", "receiptcore.adapters.redis.event_bus")
    for module in wanted:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            unavailable(f"{module} is not installed (the PostgreSQL/Redis adapters and their drivers are needed)")


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    _servers_supported()
    bin_dir = postgres_bin()
    if bin_dir is None:
        unavailable("no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin")
    assert bin_dir is not None
    cluster = PrivatePostgres(bin_dir)
    try:
        cluster.init()
    except (RuntimeError, OSError) as exc:
        cluster.destroy()
        unavailable(f"cannot start a private PostgreSQL cluster: {exc}")
    yield cluster
    cluster.destroy()


def _extractor_env() -> dict[str, str]:
    return {"RECEIPTCORE_EXTRACTOR": "ocr"}


@pytest.fixture(scope="module")
def topology(private_postgres: PrivatePostgres) -> Iterator[Topology]:
    """The topology on the machine's Redis (a unique channel prefix keeps it apart from other tests)."""
    if not _reachable(MACHINE_REDIS):
        unavailable("the machine's Redis at 127.0.0.1:6379 is not reachable")
    topo = start_topology(
        postgres=private_postgres,
        redis_url="redis://127.0.0.1:6379/0",
        mongo_url=os.environ.get("RECEIPTCORE_TEST_MONGO_URL"),
        extractor_env=_extractor_env(),
    )
    yield topo
    topo.stop()


@pytest.fixture(scope="module")
def private_redis() -> Iterator[PrivateRedis]:
    directory = Path(tempfile.mkdtemp(prefix="receiptcore-system-redis-"))
    redis = PrivateRedis(directory).start()
    yield redis
    redis.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def topology_on_private_redis(private_postgres: PrivatePostgres, private_redis: PrivateRedis) -> Iterator[Topology]:
    """A second topology whose Redis is ours to stop."""
    topo = start_topology(
        postgres=private_postgres,
        redis_url=private_redis.url,
        mongo_url=os.environ.get("RECEIPTCORE_TEST_MONGO_URL"),
        extractor_env=_extractor_env(),
    )
    yield topo
    topo.stop()


@pytest.fixture(scope="session")
def receipt_files() -> list[Path]:
    """Three small real receipts from ../shared/data/receipts."""
    if not RECEIPTS_DIR.is_dir():
        unavailable(f"the shared receipts are not at {RECEIPTS_DIR}")
    files = sorted(
        (p for p in RECEIPTS_DIR.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"} and p.is_file()),
        key=lambda p: p.stat().st_size,
    )
    if len(files) < 3:
        unavailable(f"fewer than three receipt images under {RECEIPTS_DIR}")
    return files[:3]
