"""Versioned schema migrations: numbered SQL files shipped in ``migrations/``, applied in order, once.

A file is named ``NNNN_what.sql``; its number is its version. ``apply_migrations`` runs every file not yet
recorded in ``schema_migrations``, all in one transaction, under a transaction-scoped advisory lock: two
instances starting together (or ``receiptcore db migrate`` beside a starting server) serialise on the lock, and
the second finds everything applied and does nothing. An applied file whose text changed since is refused
(ConfigurationError): migrations are append-only, a changed one would leave databases that differ.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from receiptcore.errors import ConfigurationError

# pg_advisory_xact_lock key of the migrator: "receiptc" in ASCII, a constant every instance agrees on.
MIGRATION_LOCK_KEY = 0x7265636569707463
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text: what ``schema_migrations`` remembers to detect an edited migration."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def bundled_migrations() -> list[Migration]:
    """The migrations shipped in this package, by version. Raises ValueError on a misnamed or duplicate file."""
    found: dict[int, Migration] = {}
    folder = resources.files("receiptcore.adapters.postgres").joinpath("migrations")
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _NAME.match(entry.name)
        if match is None:
            raise ValueError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"two migration files have version {version}")
        found[version] = Migration(version, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


async def apply_migrations(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply the pending ``migrations`` (default: the bundled ones) on ``conn``; return those this call applied.

    Raises:
        ConfigurationError: an applied migration's text differs from the shipped file.
        asyncpg errors: the caller translates them.
    """
    wanted = bundled_migrations() if migrations is None else migrations
    applied: list[Migration] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        await conn.execute(_CREATE_TABLE)
        recorded = {
            row["version"]: row["checksum"]
            for row in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        for migration in wanted:
            checksum = recorded.get(migration.version)
            if checksum is not None:
                if checksum != migration.checksum:
                    raise ConfigurationError(
                        f"migration {migration.version:04d}_{migration.name} was changed after it was applied to "
                        "this database; restore the shipped file"
                    )
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
            applied.append(migration)
    return applied


async def applied_versions(conn: asyncpg.Connection) -> list[int]:
    """Versions recorded in ``schema_migrations`` (empty when the table does not exist yet)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return []
    return [row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")]
