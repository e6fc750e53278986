"""Run the evaluation of the offline ``ocr`` extractor on the whole shared receipt set and print the table.

Usage: ``.venv/bin/python bench/eval_ocr.py [DATASET_DIR] [--json out.json]`` (default dataset:
``<repo>/../shared/data/receipts``). Same code path as ``receiptcore eval DATASET_DIR --extractor ocr``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from receiptcore.adapters.extractors import load_extractor
from receiptcore.entrypoints.cli_eval import run_eval
from receiptcore.entrypoints.evaluation.report import to_json

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "receipts"


def main() -> None:
    """Parse arguments, evaluate, print (and optionally save) the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--json", type=Path, default=None, help="write every prediction beside its label here")
    parser.add_argument("--limit", type=int, default=None, help="at most N receipts per subset")
    args = parser.parse_args()
    print(f"dataset: {args.dataset}  cpus: {os.cpu_count()}")
    report = run_eval(args.dataset, load_extractor("ocr"), limit=args.limit)
    if args.json is not None:
        args.json.write_text(json.dumps(to_json(report), indent=2, ensure_ascii=False), encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
