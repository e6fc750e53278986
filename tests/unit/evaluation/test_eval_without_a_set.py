"""Stumble 7 of issue 11: ``make eval`` on a fresh clone (no ``../shared/``) explained nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

from click.testing import CliRunner

from receiptcore.entrypoints.cli import main

REPO = Path(__file__).resolve().parents[3]


def test_eval_on_a_missing_set_says_where_to_get_a_labelled_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "shared" / "data" / "receipts")])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for hint in ("does not exist", "sroie/", "NNN.json", "docs/extractors.md", "make eval DATASET="):
        assert hint in errors[0], errors[0]


def test_eval_on_a_folder_without_labels_says_the_same(tmp_path: Path) -> None:
    (tmp_path / "sroie").mkdir()
    (tmp_path / "sroie" / "001.jpg").write_bytes(b"no label beside it")
    result = CliRunner().invoke(main, ["eval", str(tmp_path)])
    assert result.exit_code == 1
    assert "no labelled documents" in result.output
    assert "make eval DATASET=" in result.output


def test_the_makefile_passes_dataset_through() -> None:
    dry = subprocess.run(
        ["make", "-n", "eval", "DATASET=/somewhere/else"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert "eval /somewhere/else" in dry.stdout, dry.stdout + dry.stderr


def test_the_extractor_guide_carries_the_measured_table() -> None:
    guide = (REPO / "docs" / "extractors.md").read_text(encoding="utf-8")
    section = guide.split("### Measured accuracy of `ocr`", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith(("| SROIE", "| WildReceipt"))]
    assert len(rows) == 9
    assert all(any(ch.isdigit() for ch in row.split("|")[4]) for row in rows)  # an exact % in every row
