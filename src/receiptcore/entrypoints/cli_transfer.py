"""``import DIR`` (bulk upload with a progress bar) and ``export`` (streams the export), over HTTP."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from receiptcore.entrypoints.cli_common import CliError, http_options, make_client
from receiptcore.entrypoints.cli_files import SNIFF_BYTES, Tally, is_candidate, refusal, walk_files
from receiptcore.entrypoints.client import ApiClient
from receiptcore.errors import InvalidUpload


def import_files(client: ApiClient, files: list[Path], report: Tally, console: Console) -> None:
    """Upload ``files`` one by one (so each is counted on its own), with a progress bar on ``console``."""
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("importing", total=len(files))
        for path in files:
            progress.update(task, description=f"importing {path.name[:40]}")
            try:
                result = client.upload(path)
            except InvalidUpload as exc:
                report.refused[str(path)] = exc.detail
            else:
                if result.created:
                    report.imported += 1
                else:
                    report.duplicate += 1
            progress.advance(task)
        progress.update(task, description="imported")


@click.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--recursive", "-r", is_flag=True, help="Also import from sub-folders.")
@http_options
def import_command(*, directory: Path, recursive: bool, server: str, email: str | None, password_stdin: bool) -> None:
    """Upload every receipt file in DIRECTORY (JPEG, PNG, WebP, PDF) to the server.

    Files not named like receipts (and hidden ones) are skipped; a file named like a receipt whose bytes are not
    one, or that the server refuses, is refused. Prints how many were imported, were already there (duplicates),
    were refused or skipped; exits with 1 when any file was refused (the rule `watch` follows too).
    """
    report = Tally()
    files = []
    for path in walk_files(directory, recursive):
        if not is_candidate(path):
            report.skipped.add(path)
            continue
        with path.open("rb") as fh:
            reason = refusal(fh.read(SNIFF_BYTES))
        if reason is not None:
            report.refused[str(path)] = reason
        else:
            files.append(path)
    with make_client(server, email, password_stdin) as client:
        import_files(client, files, report, Console(stderr=True))
    for name, reason in report.refused.items():
        click.echo(f"refused {name}: {reason}", err=True)
    click.echo(report.summary())
    sys.exit(report.exit_code())


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True, help="Format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout).")
@click.option("--q", "q", help="Text search over merchant, items and raw text.")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="Purchased on or after (YYYY-MM-DD).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Purchased on or before (YYYY-MM-DD).")
@click.option("--min-total", help="Total at least this amount.")
@click.option("--max-total", help="Total at most this amount.")
@click.option(
    "--status",
    type=click.Choice(["pending", "processing", "extracted", "needs_review", "failed", "confirmed"]),
    help="Only receipts in this status.",
)
@click.option("--category", help="Only this category.")
@click.option("--tag", help="Only receipts with this tag.")
@click.option("--merchant", help="Only receipts whose merchant is this name (exactly, ignoring case).")
@http_options
def export_command(  # click passes every option by keyword
    *,
    fmt: str,
    output: Path | None,
    q: str | None,
    date_from: object,
    date_to: object,
    min_total: str | None,
    max_total: str | None,
    status: str | None,
    category: str | None,
    tag: str | None,
    merchant: str | None,
    server: str,
    email: str | None,
    password_stdin: bool,
) -> None:
    """Export receipts as CSV or JSON (streamed from the server; every page)."""
    params = {
        "q": q,
        "date_from": _iso_date(date_from),
        "date_to": _iso_date(date_to),
        "min_total": min_total,
        "max_total": max_total,
        "status": status,
        "category": category,
        "tag": tag,
        "merchant": merchant,
    }
    query = {key: value for key, value in params.items() if value}
    with make_client(server, email, password_stdin) as client, client.export(fmt, query) as chunks:
        if output is None:
            _copy(chunks, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        partial = output.with_name(output.name + ".part")
        try:
            with partial.open("wb") as fh:
                _copy(chunks, fh)
            partial.replace(output)
        except BaseException:
            # never leave a half-written export where the finished one is expected
            partial.unlink(missing_ok=True)
            raise
    click.echo(f"exported to {output}", err=True)


def _copy(chunks: Iterator[bytes], sink: BinaryIO) -> None:
    for chunk in chunks:
        sink.write(chunk)


def _iso_date(value: object) -> str | None:
    if value is None:
        return None
    iso = getattr(value, "date", None)
    if iso is None:
        raise CliError(f"not a date: {value}")
    return str(iso().isoformat())
