"""Versioned migrations on the real PostgreSQL: applied once, in order, idempotently, under an advisory lock,
by the pool at start and by ``receiptcore db migrate``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import asyncpg
import pytest

from receiptcore.adapters.postgres.config import PostgresConfig
from receiptcore.adapters.postgres.database import PostgresDatabase
from receiptcore.adapters.postgres.migrations import MIGRATION_LOCK_KEY, Migration, apply_migrations, bundled_migrations
from receiptcore.errors import ConfigurationError

pytestmark = pytest.mark.xdist_group("postgres")


def test_bundled_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [m.version for m in bundled_migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert all(m.sql.strip() for m in bundled_migrations())


async def test_opening_the_pool_applies_every_migration_once(postgres_url: str) -> None:
    db = PostgresDatabase(PostgresConfig(dsn=postgres_url))
    try:
        assert await db.applied_versions() == [m.version for m in bundled_migrations()]
        assert await db.migrate() == []  # idempotent: nothing left to apply
        async with db.connection() as conn:
            tables = {
                r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            }
        assert {"users", "roles", "refresh_tokens", "outbox", "schema_migrations"} <= tables
    finally:
        await db.aclose()


async def test_two_instances_migrating_together_apply_each_migration_once(postgres_url: str) -> None:
    dbs = [PostgresDatabase(PostgresConfig(dsn=postgres_url, migrate_on_start=False)) for _ in range(4)]
    try:
        results = await asyncio.gather(*(db.migrate() for db in dbs))
        applied = [m.version for result in results for m in result]
        assert sorted(applied) == [m.version for m in bundled_migrations()]  # all applied, none twice
        async with dbs[0].connection() as conn:
            count = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        assert count == len(bundled_migrations())
    finally:
        for db in dbs:
            await db.aclose()


async def test_a_migrator_waits_for_the_advisory_lock(postgres_url: str) -> None:
    holder = await asyncpg.connect(postgres_url)
    db = PostgresDatabase(PostgresConfig(dsn=postgres_url, migrate_on_start=False))
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        migrating = asyncio.create_task(db.migrate())
        done, _ = await asyncio.wait({migrating}, timeout=0.5)
        assert not done, "the migrator did not wait for the lock another migrator holds"
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        assert len(await asyncio.wait_for(migrating, 10)) == len(bundled_migrations())
    finally:
        await holder.close()
        await db.aclose()


async def test_a_failing_migration_applies_nothing(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        broken = [Migration(1, "good", "CREATE TABLE first (id int)"), Migration(2, "bad", "CREATE TABLE (")]
        with pytest.raises(asyncpg.PostgresSyntaxError):
            await apply_migrations(conn, broken)
        assert await conn.fetchval("SELECT to_regclass('first')") is None
        assert await conn.fetchval("SELECT to_regclass('schema_migrations')") is None
    finally:
        await conn.close()


async def test_an_edited_applied_migration_is_refused(postgres_url: str) -> None:
    conn = await asyncpg.connect(postgres_url)
    try:
        await apply_migrations(conn, [Migration(1, "one", "CREATE TABLE t (id int)")])
        with pytest.raises(ConfigurationError, match="changed after it was applied"):
            await apply_migrations(conn, [Migration(1, "one", "CREATE TABLE t (id bigint)")])
        later = await apply_migrations(
            conn, [Migration(1, "one", "CREATE TABLE t (id int)"), Migration(2, "two", "ALTER TABLE t ADD x int")]
        )
        assert [m.version for m in later] == [2]
    finally:
        await conn.close()


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "receiptcore", *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


async def test_db_migrate_command_applies_then_reports_up_to_date(postgres_url: str) -> None:
    env = {**os.environ, "RECEIPTCORE_POSTGRES_URL": postgres_url}
    first = await asyncio.to_thread(_cli, "db", "migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"applied {len(bundled_migrations())} migration(s): 0001_users")
    second = await asyncio.to_thread(_cli, "db", "migrate", env=env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == f"already up to date: schema version {len(bundled_migrations()):04d}"


def test_db_migrate_without_a_url_or_server_is_one_line_and_exit_1() -> None:
    env = {k: v for k, v in os.environ.items() if k != "RECEIPTCORE_POSTGRES_URL"}
    missing = _cli("db", "migrate", env=env)
    assert missing.returncode == 1
    assert (
        missing.stderr.strip()
        == "Error: RECEIPTCORE_POSTGRES_URL is not set: there is no PostgreSQL database to migrate"
    )
    down = _cli("db", "migrate", env={**env, "RECEIPTCORE_POSTGRES_URL": "postgresql://u:hunter2@127.0.0.1:1/x"})
    assert down.returncode == 1
    assert down.stderr.strip() == "Error: PostgreSQL at 127.0.0.1:1/x is unavailable: ConnectionRefusedError"
    assert "hunter2" not in down.stderr
