"""The ``receiptcore`` command line: serve, worker, users, keys, db, extract, import, watch, export, extractors,
eval, login, logout, token, backup, restore, move.

The heavy modules (the container with every adapter, uvicorn) are imported inside the commands that use them, so
``--help``, ``--version`` and the HTTP client commands start fast.

Global options override the settings read from the environment (``RECEIPTCORE_*``, or a ``.env`` file). Every
command prints one line on stderr and exits non-zero on an expected failure; tracebacks are for bugs only.
"""

from __future__ import annotations

import os

import click

from receiptcore import __version__
from receiptcore.entrypoints import logs
from receiptcore.entrypoints.cli_backup import backup_command, restore_command
from receiptcore.entrypoints.cli_common import ErrorBoundaryGroup, run, settings_of
from receiptcore.entrypoints.cli_db import db_group
from receiptcore.entrypoints.cli_eval import eval_command
from receiptcore.entrypoints.cli_keys import keys_group
from receiptcore.entrypoints.cli_local import extract, extractors_group
from receiptcore.entrypoints.cli_login import login_command, logout_command, token_command
from receiptcore.entrypoints.cli_move import move_command
from receiptcore.entrypoints.cli_transfer import export_command, import_command
from receiptcore.entrypoints.cli_users import users_group
from receiptcore.entrypoints.cli_watch import watch_command
from receiptcore.settings import Settings

LOG_LEVELS = ("debug", "info", "warning", "error")


def configure_logging(settings: Settings) -> None:
    """Every logger (ours, uvicorn's) in the one format of ``RECEIPTCORE_LOG_FORMAT``, at the configured level."""
    logs.configure_logging(settings.log_level, settings.log_format)


def _early_logging(log_level: str | None) -> None:
    # before any settings are read (they may be invalid): the format and level from the environment, with
    # warnings only by default, so a `users list` prints its table and nothing else
    level = log_level or os.environ.get("RECEIPTCORE_LOG_LEVEL", "warning").lower()
    fmt = os.environ.get("RECEIPTCORE_LOG_FORMAT", "auto").lower()
    logs.configure_logging(
        level if level in LOG_LEVELS else "warning",
        fmt if fmt in ("auto", "text", "json") else "auto",  # type: ignore[arg-type]
    )


@click.group(cls=ErrorBoundaryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="receiptcore", message="%(prog)s %(version)s")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="Where the embedded profile keeps its SQLite file, receipt files and keys (env RECEIPTCORE_DATA_DIR).",
)
@click.option(
    "--profile",
    type=click.Choice(["embedded", "memory"]),
    help="Where what has no server URL lives: embedded (default; SQLite, files and keys in the data dir) or memory "
    "(in this process only, gone at exit: demos and tests) (env RECEIPTCORE_PROFILE).",
)
@click.option("--log-level", type=click.Choice(LOG_LEVELS), help="Log level (env RECEIPTCORE_LOG_LEVEL).")
@click.pass_context
def main(ctx: click.Context, data_dir: str | None, profile: str | None, log_level: str | None) -> None:
    """receiptcore: a self-hosted receipt vault.

    Settings come from RECEIPTCORE_* environment variables (or a .env file); the options here override them.
    Start with `receiptcore serve`, then sign in at the URL it prints (see README).
    """
    ctx.obj = {"data_dir": data_dir, "profile": profile, "log_level": log_level}
    _early_logging(log_level)


@main.command("serve")
@click.option("--host", help="Interface to bind (env RECEIPTCORE_HOST, default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="TCP port; 0 picks a free one (env RECEIPTCORE_PORT).")
@click.option(
    "--service",
    type=click.Choice(["all", "auth", "receipts", "worker"]),
    help="Which service to run (env RECEIPTCORE_SERVICE, default all: everything in one process).",
)
@click.option("--no-worker", is_flag=True, help="Do not run the extraction worker inside this process.")
@click.pass_context
def serve_command(ctx: click.Context, host: str | None, port: int | None, service: str | None, no_worker: bool) -> None:
    """Serve the web client and the APIs (and, by default, extract receipts in the same process).

    With --service all (the default) the browser client is at / (sign in at http://HOST:PORT/login), the APIs
    under /auth, /users, /roles and /api, their documentation at /schema. On the first start with no users, an
    admin account is created and its password printed once.
    """
    from receiptcore.entrypoints.serve import ServeOptions, run_serving, serve
    from receiptcore.entrypoints.worker import exit_process

    settings = settings_of(ctx, host=host, port=port, service=service)
    configure_logging(settings)
    options = ServeOptions(service=settings.service, worker=settings.worker_enabled and not no_worker)
    exit_process(run_serving(serve(settings, options, click.echo)))


@main.command("worker")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    help="Receipts extracted at once (env RECEIPTCORE_WORKER_CONCURRENCY, default 1).",
)
@click.option("--once", is_flag=True, help="Process receipts until the queue is empty, then exit.")
@click.pass_context
def worker_command(ctx: click.Context, concurrency: int | None, once: bool) -> None:
    """Run the extraction worker alone: claim pending receipts, extract, store; until stopped.

    On start it loads the extractor's models in the background and claims its first receipt once they are
    loaded (a warm start), so the first receipt is as fast as the rest.
    """
    from receiptcore.entrypoints.serve import run_worker
    from receiptcore.entrypoints.worker import exit_process

    settings = settings_of(ctx, worker_concurrency=concurrency)
    configure_logging(settings)
    exit_process(run(run_worker(settings, click.echo, concurrency=settings.worker_concurrency, once=once)))


main.add_command(users_group)
main.add_command(keys_group)
main.add_command(db_group)
main.add_command(extract)
main.add_command(extractors_group)
main.add_command(import_command)
main.add_command(watch_command)
main.add_command(export_command)
main.add_command(eval_command)
main.add_command(login_command)
main.add_command(logout_command)
main.add_command(token_command)
main.add_command(backup_command)
main.add_command(restore_command)
main.add_command(move_command)
