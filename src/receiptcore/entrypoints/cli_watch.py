"""``watch DIR``: the consume folder. Files dropped into DIR are uploaded once they stop growing.

Polling, not inotify: it works the same on local disks, network shares and bind mounts (where change events are
often missing), and a scan of a consume folder is cheap. A file is imported once its size and modification time are
the same in two consecutive scans and it has not been modified for ``--settle`` seconds (a scanner or a copy that
pauses while writing is left alone until it is done). Imported files move to
``DIR/.done/`` (or are deleted with ``--delete``); refused ones move to ``DIR/.failed/`` with a ``.reason.txt``.
A server that cannot be reached leaves files where they are, to be tried again on the next scan.
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import click

from receiptcore.entrypoints.cli_common import http_options, make_client
from receiptcore.entrypoints.cli_files import EXIT_REFUSED, Tally, is_candidate, refusal, walk_files
from receiptcore.entrypoints.client import ApiClient
from receiptcore.errors import InvalidUpload, RateLimited, StorageUnavailable

DONE_DIR = ".done"
FAILED_DIR = ".failed"


@dataclass(slots=True)
class WatchState:
    """What the watcher knows between scans: the last (size, mtime) of each waiting file, and the tally."""

    seen: dict[Path, tuple[int, int]] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)
    retry_later: int = 0


def unique_path(path: Path) -> Path:
    """``path``, or ``name-1.ext``, ``name-2.ext``... when it exists (never overwrite an earlier result)."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def _move(path: Path, root: Path, folder: str) -> Path:
    target = unique_path(root / folder / path.relative_to(root))
    target.parent.mkdir(parents=True, exist_ok=True)
    path.replace(target)
    return target


def _refuse(path: Path, root: Path, reason: str, state: WatchState) -> None:
    target = _move(path, root, FAILED_DIR)
    target.with_name(target.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
    state.tally.refused[str(path)] = reason
    click.echo(f"refused   {path.relative_to(root)}: {reason}")


def process_file(client: ApiClient, path: Path, root: Path, state: WatchState, *, delete: bool) -> None:
    """Upload one stable file and file it under .done or .failed. Leaves it in place when the server is away."""
    content = path.read_bytes()
    reason = refusal(content)
    if reason is not None:
        _refuse(path, root, reason, state)
        return
    try:
        result = client.upload(path, content)
    except InvalidUpload as exc:
        _refuse(path, root, exc.detail, state)
        return
    except (StorageUnavailable, RateLimited) as exc:
        state.retry_later += 1
        click.echo(f"waiting   {path.relative_to(root)}: {exc.detail} (will retry)", err=True)
        return
    if result.created:
        state.tally.imported += 1
    else:
        state.tally.duplicate += 1
    if delete:
        path.unlink()
    else:
        _move(path, root, DONE_DIR)
    verb = "imported " if result.created else "duplicate"
    click.echo(f"{verb} {path.relative_to(root)} → {result.receipt_id}")


def scan(
    client: ApiClient, root: Path, state: WatchState, *, recursive: bool, delete: bool, settle: float = 2.0
) -> int:
    """One pass: import every file that stopped changing. Returns how many files are still waiting."""
    current: dict[Path, tuple[int, int]] = {}
    waiting = 0
    settled_before = time.time_ns() - int(settle * 1e9)
    for path in walk_files(root, recursive):
        if not is_candidate(path):
            state.tally.skipped.add(path)
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        signature = (stat.st_size, stat.st_mtime_ns)
        if state.seen.get(path) != signature or stat.st_size == 0 or stat.st_mtime_ns > settled_before:
            current[path] = signature
            waiting += 1
            continue
        before = state.retry_later
        process_file(client, path, root, state, delete=delete)
        if state.retry_later != before:
            current[path] = signature
            waiting += 1
    state.seen = current
    return waiting


def _stop_on_sigterm() -> None:
    def handler(_sig: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@click.command("watch")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--delete", is_flag=True, help="Delete imported files instead of moving them to DIR/.done/.")
@click.option("--recursive", "-r", is_flag=True, help="Also watch sub-folders.")
@click.option(
    "--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True, help="Seconds between scans."
)
@click.option(
    "--settle",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Seconds a file must stay unmodified before it is imported.",
)
@click.option("--once", is_flag=True, help="Import what is there (once stable), then exit.")
@http_options
def watch_command(  # click passes every option by keyword
    *,
    directory: Path,
    delete: bool,
    recursive: bool,
    interval: float,
    settle: float,
    once: bool,
    server: str,
    email: str | None,
    password_stdin: bool,
) -> None:
    """Watch DIRECTORY and import receipt files as they appear (the consume folder).

    A file is imported once its size stops changing. Imported files move to DIR/.done/ (or are deleted with
    --delete); refused ones move to DIR/.failed/ beside a .reason.txt saying why; files not named like receipts
    are skipped and left alone (the rule `import` follows too). With --once, exits with 1 when any file was
    refused or left for later. Stop with Ctrl-C.
    """
    state = WatchState()
    _stop_on_sigterm()
    with make_client(server, email, password_stdin) as client:
        if not once:
            click.echo(f"watching {directory} (every {interval:g} s; Ctrl-C to stop)", err=True)
        try:
            while True:
                waiting = scan(client, directory, state, recursive=recursive, delete=delete, settle=settle)
                if once and (waiting == 0 or state.retry_later):
                    break
                time.sleep(interval)
        except KeyboardInterrupt:
            click.echo("stopped", err=True)
    click.echo(state.tally.summary())
    if not once:
        return  # a consume folder stopped on purpose: refused files wait in .failed/, the run itself went fine
    if state.retry_later:
        click.echo(f"{state.retry_later} file(s) left in place: the server was unavailable", err=True)
        sys.exit(EXIT_REFUSED)
    sys.exit(state.tally.exit_code())
