"""``receiptcore backup DEST`` and ``receiptcore restore SRC``: the embedded profile's data dir, safely."""

from __future__ import annotations

from pathlib import Path

import click

from receiptcore.entrypoints.backup import backup, restore, verify
from receiptcore.entrypoints.cli_common import CliError, settings_of
from receiptcore.settings import Settings


def _embedded_data_dir(settings: Settings) -> Path:
    if settings.postgres_url is not None or settings.mongo_url is not None:
        raise CliError(
            "backup and restore cover the embedded profile (the data dir); back up PostgreSQL and MongoDB with "
            "their own tools (pg_dump, mongodump; see docs/operations.md)"
        )
    if settings.in_memory:
        raise CliError("RECEIPTCORE_PROFILE=memory keeps nothing to back up or restore")
    return Path(settings.data_dir)


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def backup_command(ctx: click.Context, dest: Path) -> None:
    """Write a consistent snapshot of the data dir to DEST (a new or empty directory).

    Safe while `serve` runs: the database is copied with SQLite's online backup API, then every receipt file it
    references and the signing keys; DEST/manifest.json records every file's SHA-256 and every table's rows.
    """
    data_dir = _embedded_data_dir(settings_of(ctx))
    report = backup(data_dir, dest)
    click.echo(f"backed up data dir {data_dir.resolve()} to {dest}: {report.summary()}")


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a non-empty data dir (it is moved aside, not deleted).")
@click.option("--verify-only", is_flag=True, help="Only check the backup (hashes, integrity, row counts).")
@click.pass_context
def restore_command(ctx: click.Context, src: Path, force: bool, verify_only: bool) -> None:
    """Verify the backup SRC, then make it the data dir (stop the server first).

    Every file's SHA-256 and size, the database's integrity and each table's row count are checked before
    anything is written; a data dir that is not empty is refused unless --force.
    """
    if verify_only:
        click.echo(f"backup {src} is complete and intact: {verify(src).summary()}")
        return
    data_dir = _embedded_data_dir(settings_of(ctx))
    report, moved = restore(src, data_dir, force=force)
    if moved is not None:
        click.echo(f"moved the previous data dir aside to {moved}", err=True)
    click.echo(f"restored {src} into data dir {data_dir.resolve()}: {report.summary()}")
