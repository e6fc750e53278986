"""Commands that need no server: ``extract FILE`` and ``extractors list``."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import click

from receiptcore.domain.ids import new_id
from receiptcore.domain.receipt import ExtractedReceipt, ExtractionAttempt, Receipt, ReceiptStatus, SourceFile
from receiptcore.domain.review import needs_review, review_warnings
from receiptcore.entrypoints.cli_common import open_container, run, settings_of
from receiptcore.entrypoints.http.representation import receipt_to_api
from receiptcore.ports import Document

# Storage-only fields of the API shape that mean nothing for a file read off the disk.
_NOT_STORED = ("id", "owner_id", "version", "corrections", "possible_duplicate_of", "extraction_attempts")


@click.command("extract")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--extractor", "extractor_name", help="Extractor plugin to use (default: RECEIPTCORE_EXTRACTOR or ocr).")
@click.pass_context
def extract(ctx: click.Context, file: Path, extractor_name: str | None) -> None:
    """Read one receipt FILE and print its data as JSON (no server needed).

    The file is checked like an upload (type sniffed from the bytes, pixel and page caps), read by the extractor,
    and cross-checked arithmetically; the warnings decide the status (extracted or needs_review).
    """
    settings = settings_of(ctx, extractor=extractor_name)
    content = file.read_bytes()

    async def go() -> dict[str, Any]:
        # the extractor and the inspector only: no store is opened, none is needed
        async with open_container(settings, require_store=False) as container:
            inspection = container.inspector().inspect(content)
            extractor = container.extractor()
            started = dt.datetime.now(dt.UTC)
            clock = time.perf_counter()
            output = await extractor.extract(Document(content, inspection.media_type, file.name))
            duration_ms = int((time.perf_counter() - clock) * 1000)
            source = SourceFile(
                filename=file.name,
                media_type=inspection.media_type,
                size=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
                pages=max(1, inspection.pages),
            )
            attempt = ExtractionAttempt(
                attempt=1,
                extractor=extractor.name,
                extractor_version=extractor.version,
                started_at=started,
                finished_at=dt.datetime.now(dt.UTC),
                duration_ms=duration_ms,
                output=output,
            )
            return _as_json(output, source, attempt, started)

    click.echo(json.dumps(run(go()), indent=2, ensure_ascii=False))


def _as_json(
    output: ExtractedReceipt, source: SourceFile, attempt: ExtractionAttempt, now: dt.datetime
) -> dict[str, Any]:
    """The API representation of an unsaved receipt built from ``output``."""
    data = output.data()
    warnings = review_warnings(output)
    status = ReceiptStatus.NEEDS_REVIEW if needs_review(warnings, data, output.provenance) else ReceiptStatus.EXTRACTED
    receipt = Receipt(
        **data.model_dump(),
        id=new_id(),
        owner_id="local",
        status=status,
        created_at=now,
        updated_at=now,
        source=source,
        warnings=warnings,
        provenance=output.provenance,
        raw_text=output.raw_text,
        extraction_attempts=[attempt],
        extracted=data,
    )
    shaped = receipt_to_api(receipt)
    for key in _NOT_STORED:
        shaped.pop(key, None)
    return shaped


@click.group("extractors")
def extractors_group() -> None:
    """Inspect the installed extractor plugins."""


@extractors_group.command("list")
def list_extractors() -> None:
    """List installed extractors: name, version and the distribution that provides each."""
    from receiptcore.entrypoints.container import installed_extractors  # the container: not for --help

    found = installed_extractors()
    rows = [(_field(item, "name"), _field(item, "version"), _field(item, "distribution")) for item in found]
    if not rows:
        click.echo("no extractors installed (install one, e.g. pip install 'receiptcore[ocr]')")
        return
    widths = [max(len(header), *(len(row[i]) for row in rows)) for i, header in enumerate(("NAME", "VERSION"))]
    click.echo(f"{'NAME':<{widths[0]}}  {'VERSION':<{widths[1]}}  DISTRIBUTION")
    for name, version, dist in rows:
        click.echo(f"{name:<{widths[0]}}  {version:<{widths[1]}}  {dist}")


def _field(item: Any, key: str) -> str:
    value = item.get(key) if isinstance(item, dict) else getattr(item, key, None)
    return "" if value is None else str(value)
