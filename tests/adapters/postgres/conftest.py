"""PostgreSQL adapter fixtures: a fresh database per test (tests/servers.py) and the adapters over it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from receiptcore.adapters.postgres.config import PostgresConfig
from receiptcore.adapters.postgres.database import PostgresDatabase
from receiptcore.adapters.postgres.user_repo import PostgresUserRepo
from tests.servers import postgres_url

__all__ = ["postgres_url"]


@pytest.fixture
async def pg_db(postgres_url: str) -> AsyncIterator[PostgresDatabase]:
    """The database of this test, migrated on first use; closed afterwards."""
    db = PostgresDatabase(PostgresConfig(dsn=postgres_url, max_pool_size=5))
    yield db
    await db.aclose()


@pytest.fixture
def pg_repo(pg_db: PostgresDatabase) -> PostgresUserRepo:
    """A PostgresUserRepo over this test's database."""
    return PostgresUserRepo(pg_db)
