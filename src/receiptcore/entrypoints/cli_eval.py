"""``receiptcore eval``: measure an extractor on a labelled receipt set (registered by the CLI module with
``main.add_command(eval_command, "eval")``)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from receiptcore.entrypoints.evaluation.datasets import SUBSETS, discover
from receiptcore.entrypoints.evaluation.report import render, to_json
from receiptcore.entrypoints.evaluation.runner import Report, SampleResult, evaluate
from receiptcore.errors import ReceiptcoreError
from receiptcore.ports import Extractor
from receiptcore.settings import Settings

# Where to find or make a labelled set: said when DATASET_DIR is missing (a fresh clone has no ../shared/).
WHERE_TO_GET_A_SET = (
    "eval needs a labelled receipt set: a folder with sroie/ and/or wildreceipt/ holding NNN.jpg beside NNN.json "
    "labels (docs/extractors.md, 'Dataset layout'). The development set lives at ../shared/data/receipts beside "
    "the clone; otherwise use the public SROIE or WildReceipt receipts, or label a few of your own, and run "
    "`make eval DATASET=/path/to/set`"
)


def build_extractor(settings: Settings) -> Extractor:
    """The extractor ``settings`` select, configured as the worker's (the container, imported only here)."""
    from receiptcore.entrypoints.container import standalone_extractor

    extractor: Extractor = standalone_extractor(settings)
    return extractor


def require_labelled_set(dataset_dir: Path) -> None:
    """One line saying where to get a labelled set when ``dataset_dir`` is not a folder."""
    if not dataset_dir.is_dir():
        raise click.ClickException(f"{dataset_dir} does not exist. {WHERE_TO_GET_A_SET}")


def run_eval(
    dataset_dir: Path,
    extractor: Extractor,
    *,
    limit: int | None = None,
    subset: str | None = None,
    console: Console | None = None,
    progress: bool = True,
    default_currency: str | None = None,
) -> Report:
    """Evaluate ``extractor`` on ``dataset_dir`` and print the table; returns the report."""
    console = console or Console()
    samples = discover(dataset_dir, subset=subset, limit=limit)  # type: ignore[arg-type]
    if not samples:
        raise click.ClickException(f"no labelled documents found under {dataset_dir}. {WHERE_TO_GET_A_SET}")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, disable=not progress, transient=True) as bar:
        task = bar.add_task(f"extracting with {extractor.name}", total=len(samples))

        def advance(result: SampleResult) -> None:
            bar.update(task, advance=1, description=f"{result.sample.subset}/{result.sample.id}")

        report = asyncio.run(
            evaluate(extractor, samples, str(dataset_dir), on_progress=advance, default_currency=default_currency)
        )
    render(report, console)
    return report


@click.command("eval")
@click.argument("dataset_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--extractor", "extractor_name", default=None, help="Extractor plugin name (default: settings).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write every prediction beside its label, with the scores, to this file.")  # fmt: skip
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N receipts per subset.")
@click.option("--subset", type=click.Choice(SUBSETS), default=None, help="Only this subset.")
@click.option("--no-progress", is_flag=True, help="Do not draw the progress bar.")
@click.option("--default-currency", default=None, metavar="CODE",
              help="Currency assumed where a receipt prints none, as the worker does (default: "
                   "RECEIPTCORE_DEFAULT_CURRENCY; unset, such receipts count as sent to review).")  # fmt: skip
def eval_command(
    *,
    dataset_dir: Path,
    extractor_name: str | None,
    json_path: Path | None,
    limit: int | None,
    subset: str | None,
    no_progress: bool,
    default_currency: str | None,
) -> None:
    """Measure an extractor on a labelled set (layout of shared/data/receipts): per-field exact accuracy and
    token F1, the review load (share sent to review, auto-accept precision, catch rate, confidence calibration),
    seconds per receipt and peak memory. Labels are read only after each prediction."""
    require_labelled_set(dataset_dir)
    try:
        settings = Settings() if default_currency is None else Settings(default_currency=default_currency)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise click.BadParameter(reason, param_hint="--default-currency") from exc
    try:
        if extractor_name is not None:
            settings = settings.model_copy(update={"extractor": extractor_name})
        extractor = build_extractor(settings)
        report = run_eval(
            dataset_dir,
            extractor,
            limit=limit,
            subset=subset,
            progress=not no_progress,
            default_currency=settings.default_currency,
        )
    except ReceiptcoreError as exc:
        raise click.ClickException(exc.detail) from exc
    if json_path is not None:
        data: dict[str, Any] = to_json(report)
        json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        click.echo(f"wrote {json_path}")
