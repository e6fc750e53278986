"""The real PostgreSQL and Redis of this machine, for the tests that need them.

One decision for every such test (``unreachable``): a server that does not answer skips the test on a
developer's machine, and fails it under ``CI=true``, where a missing service means a broken pipeline, not an
optional one. Each PostgreSQL test gets a database of its own (created from ``template0`` and dropped with
``FORCE`` afterwards); each Redis test a key and channel prefix of its own. So tests run in any order and in
parallel under xdist.

``RECEIPTCORE_TEST_POSTGRES_URL`` (an administrative connection, default ``postgresql://postgres@127.0.0.1:5432/
postgres``) and ``RECEIPTCORE_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) point elsewhere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

POSTGRES_ADMIN_URL = os.environ.get("RECEIPTCORE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("RECEIPTCORE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def in_ci() -> bool:
    """Whether this run is CI's (``CI=true``), where every service must be there."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def unreachable(service: str, exc: BaseException) -> NoReturn:
    """Skip the test because ``service`` does not answer, or fail it under CI."""
    message = f"{service} is unreachable ({exc.__class__.__name__}: {exc})"
    if in_ci():
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


def database_url(name: str) -> str:
    """The URL of database ``name`` on the test server."""
    parts = urlsplit(POSTGRES_ADMIN_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        unreachable("PostgreSQL", exc)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty database on the real server; dropped after the test."""
    name = f"rc_test_{uuid.uuid4().hex[:20]}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await admin.close()
    yield database_url(name)
    admin = await _admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key and channel prefix no other test uses, on a reachable Redis; its keys are deleted afterwards."""
    prefix = f"rc-test-{uuid.uuid4().hex[:16]}"
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    try:
        await client.ping()
    except (OSError, RedisError) as exc:
        await client.aclose()
        unreachable("Redis", exc)
    try:
        yield prefix
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
