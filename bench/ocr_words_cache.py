"""Evaluate the offline ``ocr`` extractor's *parser* fast: OCR each receipt once, keep its recognised words on disk,
and replay them through the layout and rule parser on every later run.

OCR is ~1.5 s of CPU per receipt; the parser is milliseconds. Tuning the rules (totals, dates, store names, items)
or the review decision does not change what the engine reads, so a cached run scores the same as
``receiptcore eval DATASET --extractor ocr`` (same ``run_eval`` path, same scoring, same review judgement) in
seconds. The cache is keyed by the image's SHA-256 and the engine settings' fingerprint, so a change to the engine
or to the image preparation (``images.py``, ``engine.py``) is a cache miss, never a stale reading. It is a
development tool: the product never reads it.

Usage::

    .venv/bin/python bench/ocr_words_cache.py DATASET_DIR --cache /tmp/ocr-words [--json out.json] [--limit N]
        [--subset sroie|wildreceipt] [--default-currency CODE]

The first run fills the cache (as slow as a normal eval); later runs only parse.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

from receiptcore.adapters.extractors.ocr import engine as engine_module
from receiptcore.adapters.extractors.ocr import extractor as extractor_module
from receiptcore.adapters.extractors.ocr import images as images_module
from receiptcore.adapters.extractors.ocr.extractor import OcrExtractor
from receiptcore.adapters.extractors.ocr.images import PageInput
from receiptcore.adapters.extractors.ocr.types import Word
from receiptcore.entrypoints.cli_eval import run_eval
from receiptcore.entrypoints.evaluation.report import to_json
from receiptcore.ports import Document


def _fingerprint() -> str:
    """What the recognised words depend on: the engine, the image preparation and the retry pass."""
    digest = hashlib.sha256()
    for module in (engine_module, images_module, extractor_module):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()[:16]


class CachedWordsOcr(OcrExtractor):
    """The ``ocr`` extractor with the engine's words for each page read from (or written to) ``cache``."""

    def __init__(self, cache: Path) -> None:
        super().__init__()
        self._cache = cache / _fingerprint()
        self._cache.mkdir(parents=True, exist_ok=True)
        self._key = ""

    def extract_sync(self, document: Document):  # type: ignore[no-untyped-def]  # the parent's signature
        self._key = hashlib.sha256(document.content).hexdigest()
        return super().extract_sync(document)

    def _page_words(self, page: PageInput) -> list[Word]:
        path = self._cache / f"{self._key}-{page.number}.json"
        if path.is_file():
            rows = json.loads(path.read_text(encoding="utf-8"))
            return [Word(r["t"], tuple(r["b"]), r["s"], r["p"], r["l"]) for r in rows]  # type: ignore[arg-type]
        words = super()._page_words(page)
        rows = [{"t": w.text, "b": list(w.box), "s": w.score, "p": w.page, "l": w.slope} for w in words]
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
        return words


def main() -> None:
    """Parse arguments, evaluate with cached words, print (and optionally save) the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--cache", type=Path, required=True, help="directory for the recognised words")
    parser.add_argument("--json", type=Path, default=None, help="write every prediction beside its label here")
    parser.add_argument("--limit", type=int, default=None, help="at most N receipts per subset")
    parser.add_argument("--subset", choices=("sroie", "wildreceipt"), default=None)
    parser.add_argument("--default-currency", default=None, help="as receiptcore eval --default-currency")
    args = parser.parse_args()
    report = run_eval(
        args.dataset,
        CachedWordsOcr(args.cache),
        limit=args.limit,
        subset=args.subset,
        progress=False,
        default_currency=args.default_currency,
    )
    if args.json is not None:
        args.json.write_text(json.dumps(to_json(report), indent=2, ensure_ascii=False), encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
