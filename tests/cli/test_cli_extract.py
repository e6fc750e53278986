"""`receiptcore extract FILE`: no server, the real inspector, a plugin extractor, the consistency check."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.cli.conftest import Invoke, assert_one_line_error, receipt_image

SROIE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "receipts" / "sroie"


def test_extract_prints_the_receipt_json_with_money_as_strings(
    invoke: Invoke, scripted_plugin: str, tmp_path: Path
) -> None:
    image = tmp_path / "shop.jpg"
    image.write_bytes(receipt_image())
    result = invoke("extract", str(image), "--extractor", "scripted")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["merchant"]["name"] == "CORNER GROCER"
    assert data["purchase_date"] == "2024-05-17"
    assert data["total"] == "4.70"
    assert isinstance(data["total"], str)
    assert [item["amount"] for item in data["line_items"]] == ["2.50", "2.20"]
    assert data["currency"] == "EUR"
    assert data["source"]["media_type"] == "image/jpeg"
    assert data["source"]["filename"] == "shop.jpg"
    assert data["extraction"]["extractor"] == "scripted"
    assert data["extraction"]["extractor_version"] == "9.9"
    assert "BREAD" in data["extraction"]["raw_text"]
    assert data["provenance"]["total"]["text"] == "TOTAL 4.70"
    # the figures agree, so nothing sends it to review
    assert data["status"] == "extracted"
    assert data["warnings"] == []
    assert result.stdout.startswith("{\n  ")  # indent 2


def test_extract_flags_inconsistent_figures_for_review(
    invoke: Invoke, scripted_plugin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cli import plugin

    broken = plugin.SCRIPTED.model_copy(update={"total": Decimal("9.99")})
    monkeypatch.setattr(plugin, "SCRIPTED", broken)
    image = tmp_path / "shop.jpg"
    image.write_bytes(receipt_image())
    monkeypatch.setenv("RECEIPTCORE_EXTRACTOR", "scripted")  # the setting works as well as the option
    result = invoke("extract", str(image))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "needs_review"
    assert "total_mismatch" in {w["code"] for w in data["warnings"]}


def test_missing_file_is_a_usage_error(invoke: Invoke, tmp_path: Path) -> None:
    assert_one_line_error(invoke("extract", str(tmp_path / "nope.jpg")), contains="does not exist", code=2)


def test_unknown_extractor_names_the_installed_ones(invoke: Invoke, tmp_path: Path) -> None:
    image = tmp_path / "shop.jpg"
    image.write_bytes(receipt_image())
    assert_one_line_error(invoke("extract", str(image), "--extractor", "no-such-thing"), contains="unknown extractor")


def test_a_file_that_is_not_a_receipt_type_is_refused(invoke: Invoke, scripted_plugin: str, tmp_path: Path) -> None:
    fake = tmp_path / "notes.jpg"
    fake.write_text("this is text, not a JPEG")
    assert_one_line_error(invoke("extract", str(fake), "--extractor", "scripted"))


def test_a_corrupt_image_is_refused(invoke: Invoke, scripted_plugin: str, tmp_path: Path) -> None:
    broken = tmp_path / "cut.jpg"
    broken.write_bytes(receipt_image()[:300])
    assert_one_line_error(invoke("extract", str(broken), "--extractor", "scripted"))


@pytest.mark.slow
def test_extract_reads_a_real_receipt_with_the_ocr_extractor(invoke: Invoke) -> None:
    source = SROIE / "000.jpg"
    if not source.exists():
        pytest.skip(f"development receipts not found at {SROIE}")
    labels = json.loads((SROIE / "000.json").read_text())
    result = invoke("extract", str(source), "--extractor", "ocr")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["extraction"]["extractor"] == "ocr"
    assert Decimal(data["total"]) == Decimal(labels["total"].removeprefix("RM"))
    assert data["purchase_date"] == labels["date"]
    assert labels["company"].split()[0] in (data["merchant"]["name"] or "").upper()
