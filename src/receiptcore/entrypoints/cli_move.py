"""``receiptcore move``: an embedded install (SQLite + files in the data dir) into PostgreSQL + MongoDB.

The work is ``StoreMove`` (services/store_move.py): users and custom roles into PostgreSQL, receipts with their
extraction attempts and original files into MongoDB, each step skipped when the target already holds it, then a
verification of counts, every record and every file's SHA-256 as the target returns it. This module adds what only
a command line has:

- **The data dir stays untouched.** SQLite is never opened on it (even a read-only open leaves ``-wal``/``-shm``
  files behind): the database file and its WAL are copied byte for byte into a private snapshot, which the source
  adapters open; receipt files are only read, through a link to ``files/``. A data dir that changes while it is
  copied (a server still running) is copied again, then refused.
- **Targets are checked before anything is written**: both URLs parse, both servers answer, and they hold nothing
  this data dir does not (``StoreMove.foreign_in_target``); a partial copy from an interrupted run is resumed.
- A progress bar per phase on stderr, the summary on stdout, one ``Error:`` line and exit 1 otherwise.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click
from dependency_injector import providers
from pydantic import SecretStr
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from receiptcore.entrypoints.cli_common import CliError, open_container, run, settings_of
from receiptcore.errors import StorageUnavailable
from receiptcore.services.store_move import MoveReport, StoreMove, Stores, Verification
from receiptcore.settings import Settings

DATABASE = "receiptcore.sqlite3"
SNAPSHOT_ATTEMPTS = 3
_PHASES = {"roles": "roles", "users": "users", "receipts": "receipts and files", "verify": "verifying"}
_POSTGRES_SCHEMES = ("postgresql", "postgres")
_MONGO_SCHEMES = ("mongodb", "mongodb+srv")


@dataclass(frozen=True, slots=True)
class Targets:
    """Where the data goes: a PostgreSQL and a MongoDB URL (secrets: never printed)."""

    postgres: str
    mongo: str

    def describe(self, mongo_database: str | None) -> str:
        """``PostgreSQL host:port/db and MongoDB host:port/db`` for the operator: no user, no password."""
        mongo = _where(self.mongo, 27017, mongo_database or urlsplit(self.mongo).path.lstrip("/") or "receiptcore")
        return f"PostgreSQL {_where(self.postgres, 5432, urlsplit(self.postgres).path.lstrip('/'))} and MongoDB {mongo}"


def _where(url: str, default_port: int, database: str) -> str:
    parts = urlsplit(url)
    try:
        port = parts.port or default_port
    except ValueError:
        port = default_port
    return f"{parts.hostname or 'localhost'}:{port}/{database}"


def _checked_url(value: str | None, schemes: tuple[str, ...], option: str, variable: str) -> str:
    """The URL when its scheme fits (the drivers check the rest, in one line each); never echoes it back."""
    if not value:
        raise CliError(f"move needs both targets: pass {option} URL or set {variable}")
    try:
        parts = urlsplit(value)
        if parts.scheme in _POSTGRES_SCHEMES:
            _ = parts.port  # asyncpg would report a port that is not a number as an unreachable server
    except ValueError:
        raise CliError(f"{option} is not a valid URL (expected {schemes[0]}://HOST[:PORT]/DATABASE)") from None
    # libpq takes a socket URL without a host (postgresql:///receiptcore?host=/run/postgresql); MongoDB needs one
    if parts.scheme not in schemes or (not parts.netloc and parts.scheme in _MONGO_SCHEMES):
        raise CliError(f"{option} is not a {' or '.join(s + '://' for s in schemes)} URL")
    return value


@contextmanager
def snapshot_of(data_dir: Path) -> Iterator[Path]:
    """A private data dir holding a byte copy of ``data_dir``'s database (and WAL) and a link to its files.

    The copy is taken without opening SQLite on ``data_dir``; when the files change while they are copied (a
    process still writes), it is taken again, and after ``SNAPSHOT_ATTEMPTS`` tries refused.
    """
    database = data_dir / DATABASE
    if not database.is_file():
        raise CliError(f"no receiptcore database in data dir {data_dir.resolve()} (nothing to move)")
    root = Path(tempfile.mkdtemp(prefix="receiptcore-move-"))
    try:
        root.chmod(0o700)
        for _attempt in range(SNAPSHOT_ATTEMPTS):
            if _copy_database(data_dir, root):
                break
        else:
            raise CliError(
                f"data dir {data_dir.resolve()} kept changing while it was read: stop `receiptcore serve` and "
                "every worker on it, then run move again"
            )
        files = data_dir / "files"
        if files.is_dir():
            (root / "files").symlink_to(files.resolve(), target_is_directory=True)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _stamp(paths: list[Path]) -> list[tuple[int, int] | None]:
    return [(s.st_size, s.st_mtime_ns) if (s := _stat(p)) else None for p in paths]


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _copy_database(data_dir: Path, root: Path) -> bool:
    names = [DATABASE, f"{DATABASE}-wal", f"{DATABASE}-journal"]
    sources = [data_dir / name for name in names]
    before = _stamp(sources)
    for source, name in zip(sources, names, strict=True):
        (root / name).unlink(missing_ok=True)
        if source.is_file():
            shutil.copyfile(source, root / name)
    return _stamp(sources) == before


def _source_settings(settings: Settings, snapshot: Path) -> Settings:
    # the embedded profile on the snapshot, whatever the environment says about servers
    update = {"data_dir": snapshot, "postgres_url": None, "mongo_url": None, "redis_url": None, "service": "all"}
    return settings.model_copy(update=update)


def _target_settings(settings: Settings, targets: Targets) -> Settings:
    update = {
        "postgres_url": SecretStr(targets.postgres),
        "mongo_url": SecretStr(targets.mongo),
        "redis_url": None,  # nothing is published: no instance runs on the target yet
        "service": "all",
    }
    return settings.model_copy(update=update)


class _Bar:
    """One rich progress task per phase, on stderr (the style of ``import``)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        task = self._tasks.get(phase)
        if task is None:
            task = self._tasks[phase] = self._progress.add_task(_PHASES.get(phase, phase), total=total)
        self._progress.update(task, completed=done, total=total)


async def _move(
    settings: Settings, snapshot: Path, targets: Targets, verify_only: bool, console: Console
) -> tuple[MoveReport | None, Verification]:
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    async with (
        open_container(_source_settings(settings, snapshot)) as source,
        open_container(_target_settings(settings, targets)) as target,
    ):
        for container in (source, target):
            # the move extracts nothing: no extractor is built (an LLM one would want its API key here)
            container.extractor.override(providers.Object(None))
        await target.postgres().migrate()  # also: the server answers and the URL is usable
        with Progress(*columns, console=console, transient=False) as progress:
            move = StoreMove(
                Stores(source.user_repo(), source.receipt_store(), source.merchant_directory()),
                Stores(target.user_repo(), target.receipt_store(), target.merchant_directory()),
                progress=_Bar(progress),
            )
            report = None if verify_only else await move.run()
            return report, await move.verify()


def _summary(report: MoveReport | None, verification: Verification) -> str:
    counts = ", ".join(f"{name} {a}/{b}" for name, (a, b) in verification.counts.items())
    checked = f"verified: {counts} (source/target), {verification.files_checked} files' SHA-256 match"
    if report is None:
        return checked
    copied = ", ".join(_counted(report.copied[k], k) for k in ("users", "roles", "receipts"))
    there = sum(report.skipped.values())
    return f"copied {copied} ({there} already there); {checked}"


@click.command("move")
@click.option(
    "--to-postgres",
    "postgres",
    metavar="URL",
    help="Where users and roles go (default: the setting RECEIPTCORE_POSTGRES_URL, which keeps a password out of "
    "`ps` and the shell history).",
)
@click.option(
    "--to-mongo",
    "mongo",
    metavar="URL",
    help="Where receipts and their files go (default: the setting RECEIPTCORE_MONGO_URL; the database is "
    "RECEIPTCORE_MONGO_DATABASE, else the URL's path, else receiptcore).",
)
@click.option("--verify-only", is_flag=True, help="Only compare the data dir with the targets; write nothing.")
@click.pass_context
def move_command(ctx: click.Context, postgres: str | None, mongo: str | None, verify_only: bool) -> None:
    """Move the embedded install in the data dir into PostgreSQL (users, roles) and MongoDB (receipts, files).

    Resumable and idempotent: what the targets already hold is skipped, so after an interruption run the same
    command again; a finished move run again copies nothing. Then every count, record and file's SHA-256 is
    verified. The data dir is only read, never changed. Sessions are not moved: everyone signs in again.
    Stop `receiptcore serve` and the workers first; see docs/operations.md#outgrowing-one-machine.
    """
    settings = settings_of(ctx)
    if settings.in_memory:
        raise CliError("RECEIPTCORE_PROFILE=memory keeps nothing to move")
    # the settings, not only the environment: a .env file or /run/secrets/receiptcore_postgres_url count too
    postgres = postgres or (settings.postgres_url.get_secret_value() if settings.postgres_url else None)
    mongo = mongo or (settings.mongo_url.get_secret_value() if settings.mongo_url else None)
    targets = Targets(
        postgres=_checked_url(postgres, _POSTGRES_SCHEMES, "--to-postgres", "RECEIPTCORE_POSTGRES_URL"),
        mongo=_checked_url(mongo, _MONGO_SCHEMES, "--to-mongo", "RECEIPTCORE_MONGO_URL"),
    )
    data_dir = Path(settings.data_dir)
    console = Console(stderr=True)
    with snapshot_of(data_dir) as snapshot:
        try:
            report, verification = run(_move(settings, snapshot, targets, verify_only, console))
        except StorageUnavailable as exc:
            raise CliError(f"{exc.detail}; nothing in data dir {data_dir.resolve()} changed, {_again()}") from exc
        except KeyboardInterrupt:
            raise CliError(f"interrupted; {_again()}") from None
    problems = [*(report.problems if report else []), *verification.problems]
    for problem in problems:
        click.echo(f"problem: {problem}", err=True)
    if problems or not verification.ok:
        counts = ", ".join(f"{name} {a}/{b}" for name, (a, b) in verification.counts.items())
        raise CliError(
            f"the targets do not match data dir {data_dir.resolve()} ({len(problems)} problem(s); counts {counts})"
        )
    where = targets.describe(settings.mongo_database)
    click.echo(f"moved data dir {data_dir.resolve()} into {where}: {_summary(report, verification)}")
    if report is not None:
        click.echo(
            "sessions were not moved: everyone signs in again; start the services with these URLs "
            "(docs/operations.md#outgrowing-one-machine)",
            err=True,
        )


def _counted(count: int, plural: str) -> str:
    return f"{count} {plural.removesuffix('s') if count == 1 else plural}"


def _again() -> str:
    return "run the same command again to go on (what was copied already is kept and skipped)"
