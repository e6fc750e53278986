"""``receiptcore db ...``: operator commands on the PostgreSQL schema."""

from __future__ import annotations

import click

from receiptcore.entrypoints.cli_common import CliError, run, settings_of


@click.group("db")
def db_group() -> None:
    """Manage the PostgreSQL database of the auth service (RECEIPTCORE_POSTGRES_URL)."""


@db_group.command("migrate")
@click.pass_context
def migrate_command(ctx: click.Context) -> None:
    """Apply pending schema migrations to the database at RECEIPTCORE_POSTGRES_URL.

    Idempotent: an up-to-date database is left unchanged. Safe beside running or starting instances (they
    migrate at start too, unless RECEIPTCORE_POSTGRES_MIGRATE_ON_START=false): every migrator takes the same
    PostgreSQL advisory lock, so migrations are applied exactly once. Run it before starting a new version when
    instances are started with migrations at start turned off.
    """
    # imported here: the container pulls in every adapter, which `--help` does not need
    from receiptcore.entrypoints.container import migrate_postgres

    settings = settings_of(ctx)
    if settings.postgres_url is None:
        raise CliError("RECEIPTCORE_POSTGRES_URL is not set: there is no PostgreSQL database to migrate")
    applied, versions = run(migrate_postgres(settings))
    current = f"schema version {max(versions):04d}" if versions else "no schema"
    if applied:
        click.echo(f"applied {len(applied)} migration(s): {', '.join(applied)}; {current}")
    else:
        click.echo(f"already up to date: {current}")
