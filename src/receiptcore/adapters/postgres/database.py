"""PostgresDatabase: the asyncpg pool shared by the PostgreSQL adapters, opened lazily, migrated on open.

Usage by an adapter::

    async with db.connection() as conn:        # a pooled connection; driver errors become StorageUnavailable
        row = await conn.fetchrow("SELECT ...", arg)
    async with db.transaction() as conn:       # BEGIN ... COMMIT, ROLLBACK on any exception
        await conn.execute("UPDATE ...", arg)

The pool is opened on first use rather than at construction, so a process can start while PostgreSQL is down:
each request then fails fast with ``StorageUnavailable`` (503 + Retry-After) and the next one tries again, and
once the server is back everything recovers without a restart (asyncpg replaces broken pooled connections).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import asyncpg

from receiptcore.adapters.postgres.config import PostgresConfig
from receiptcore.adapters.postgres.errors import DRIVER_ERRORS, translated, unavailable
from receiptcore.adapters.postgres.migrations import Migration, applied_versions, apply_migrations

log = logging.getLogger(__name__)

_CLOSE_ERRORS: tuple[type[BaseException], ...] = (*DRIVER_ERRORS, asyncio.CancelledError)
# ValueError: a DSN libpq would refuse; its text may hold the password, so it is not repeated
_OPEN_ERRORS: tuple[type[BaseException], ...] = (*DRIVER_ERRORS, ValueError)


class PostgresDatabase:
    """A lazily opened asyncpg pool with migrations and error translation.

    Args:
        config: where the server is and how large the pool may grow.
    """

    def __init__(self, config: PostgresConfig) -> None:
        self.config = config
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    async def pool(self) -> asyncpg.Pool:
        """The open pool (opened, and migrated if configured, on first call). Raises StorageUnavailable."""
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is None:
                self._pool = await self._open()
            return self._pool

    async def migrate(self) -> list[Migration]:
        """Apply pending migrations under the advisory lock; returns those applied by this call."""
        pool = await self.pool()
        with translated():
            async with pool.acquire() as conn:
                return await apply_migrations(conn)

    async def applied_versions(self) -> list[int]:
        """Schema versions recorded in the database."""
        async with self.connection() as conn:
            return await applied_versions(conn)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection for the block. Raises StorageUnavailable for any driver error in it, except
        integrity violations (``asyncpg.IntegrityConstraintViolationError``), which the adapter translates."""
        pool = await self.pool()
        with translated():
            async with pool.acquire(timeout=self.config.connect_timeout) as conn:
                yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection inside ``BEGIN`` … ``COMMIT`` (``ROLLBACK`` when the block raises)."""
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def aclose(self) -> None:
        """Close the pool (waiting briefly for connections in use). Safe to call twice; a later use reopens."""
        async with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), timeout=self.config.command_timeout)
            except _CLOSE_ERRORS:
                pool.terminate()

    async def _open(self) -> asyncpg.Pool:
        try:
            pool = await asyncpg.create_pool(
                self.config.dsn,
                min_size=self.config.min_pool_size,
                max_size=self.config.max_pool_size,
                timeout=self.config.connect_timeout,
                command_timeout=self.config.command_timeout,
            )
        except _OPEN_ERRORS as exc:
            raise unavailable(exc, where=_where(self.config.dsn)) from exc
        if self.config.migrate_on_start:
            try:
                with translated():
                    async with pool.acquire() as conn:
                        done = await apply_migrations(conn)
            except BaseException:
                pool.terminate()
                raise
            if done:
                log.info("applied PostgreSQL migrations %s", ", ".join(f"{m.version:04d}_{m.name}" for m in done))
        return pool


def _where(dsn: str) -> str:
    """``host:port/database`` of a DSN, for error messages: never the user or the password."""
    try:
        parts = urlsplit(dsn)
        port = parts.port or 5432
    except ValueError:  # e.g. a port that is not a number
        return "the configured server"
    return f"{parts.hostname or 'localhost'}:{port}{parts.path}"
