"""`receiptcore eval` with the real ocr extractor on a small fixed subset of the shared set (well-formed report,
no accuracy threshold)."""

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from receiptcore.entrypoints.cli_eval import eval_command

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO.parent / "shared" / "data" / "receipts"
SUBSET = {"sroie": ["000", "001", "002"], "wildreceipt": ["000", "001"]}

pytestmark = pytest.mark.slow


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    if not SHARED.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the shared receipt set is missing at {SHARED} (required in CI)")
        pytest.skip(f"the shared receipt set is not at {SHARED}")
    root = tmp_path / "receipts"
    for subset, ids in SUBSET.items():
        (root / subset).mkdir(parents=True)
        for stem in ids:
            for suffix in (".jpg", ".json"):
                (root / subset / f"{stem}{suffix}").symlink_to(SHARED / subset / f"{stem}{suffix}")
    return root


def test_eval_with_the_ocr_extractor_produces_a_well_formed_report(small_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "ocr.json"
    result = CliRunner().invoke(
        eval_command, [str(small_set), "--extractor", "ocr", "--json", str(out), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["extractor"] == "ocr"
    assert data["timing"]["receipts"] == 5
    assert [(r["subset"], r["id"]) for r in data["receipts"]] == [(s, i) for s, ids in SUBSET.items() for i in ids]
    fields = {(s["subset"], s["field"]) for s in data["summary"]}
    assert {("sroie", "total"), ("sroie", "company"), ("wildreceipt", "items"), ("wildreceipt", "store_name")} <= fields
    for summary in data["summary"]:
        assert 0 <= summary["accuracy"] <= 100
    for receipt in data["receipts"]:
        assert receipt["seconds"] > 0
        assert receipt["error"] is None
        assert receipt["prediction"]["raw_text"]
    assert data["memory"]["peak_rss_mib"] > data["memory"]["baseline_rss_mib"] * 0.5
    assert "seconds/receipt" in result.output
