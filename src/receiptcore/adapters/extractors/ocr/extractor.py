"""``OcrExtractor``: the offline default extractor (RapidOCR + the layout-aware rule parser).

Construction is cheap (it checks that the ``ocr`` extra is installed, without importing it): the OCR models load
in ``warm`` (the ``Warms`` port: the worker calls it when it starts) or else on the first ``extract``. The CPU
work runs in a module-level thread pool bounded by ``config.concurrency`` so the event loop stays responsive and
OCR never takes more cores than configured.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from receiptcore.adapters.extractors.ocr.engine import RapidOcrEngine
from receiptcore.adapters.extractors.ocr.images import PageInput, load_pages
from receiptcore.adapters.extractors.ocr.layout import group_lines
from receiptcore.adapters.extractors.ocr.parser import parse_lines
from receiptcore.adapters.extractors.ocr.types import Line, Word
from receiptcore.domain.receipt import ExtractedReceipt
from receiptcore.errors import ExtractionFailed
from receiptcore.extractor_config import ExtractorConfig
from receiptcore.extras import require_extra
from receiptcore.ports import Document, Extractor, Warms

VERSION = "0.3.0"
OCR_THREADS = 2  # onnxruntime intra-op threads per engine: the deployment target has 2 cores per worker

RETRY_SIDE = 1400  # long side of the second, coarser OCR pass for text that fell apart into characters
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _shared_executor(workers: int) -> ThreadPoolExecutor:
    """The process-wide OCR pool; the first extractor's concurrency sizes it."""
    global _executor  # noqa: PLW0603 - one bounded pool per process, created on first use
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="receiptcore-ocr")
        return _executor


def _mean_length(words: list[Word]) -> float:
    return sum(len(w.text) for w in words) / len(words) if words else 0.0


def _fragmented(words: list[Word]) -> bool:
    """Whether the detector returned characters instead of words (many boxes, most of them 1-2 characters)."""
    return len(words) >= 15 and sum(1 for w in words if len(w.text) <= 2) > 0.5 * len(words)


class OcrExtractor(Extractor, Warms):
    """Reads receipts offline: OCR on images and scanned PDFs, the text layer of digital PDFs, then rules.

    Args:
        config: the plugin contract's config; only ``concurrency`` (receipts extracted at once) is read. None
            means one at a time.
    """

    name = "ocr"
    version = VERSION

    def __init__(self, config: ExtractorConfig | None = None) -> None:
        # at construction, not at the first receipt: a missing extra must stop a command before it reads or
        # writes anything (and never surface as a ModuleNotFoundError traceback from deep inside the pipeline)
        require_extra("ocr", "the ocr extractor")
        self._workers = max(1, config.concurrency if config is not None else 1)
        threads = max(1, min(OCR_THREADS, (os.cpu_count() or 1)) // min(self._workers, OCR_THREADS))
        self._engine = RapidOcrEngine(threads=threads)

    async def extract(self, document: Document) -> ExtractedReceipt:
        """Read ``document`` in the OCR pool.

        Raises:
            ExtractionFailed: the document cannot be decoded or holds no text.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_shared_executor(self._workers), self.extract_sync, document)

    async def warm(self) -> None:
        """The ``Warms`` port: load one engine per pool thread now, in the pool, so the first receipt does not
        wait for the models.

        Raises:
            ConfigurationError: the ``ocr`` extra is missing. Whatever the engine raises while loading.
        """
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(_shared_executor(self._workers), self._engine.warm_up, self._workers)

    def read_lines(self, document: Document) -> tuple[list[Line], int]:
        """OCR (or read the text layer of) every page; rows in reading order and the page count."""
        pages = load_pages(document.content, document.media_type)
        words: list[Word] = []
        for page in pages:
            words.extend(self._page_words(page))
        return group_lines(words), len(pages)

    def _page_words(self, page: PageInput) -> list[Word]:
        if page.image is None:
            return page.words
        words = self._engine.read(page.image, page=page.number, scale=page.scale, offset=page.offset)
        if not _fragmented(words) or max(page.image.size) <= RETRY_SIDE:
            return words
        # widely spaced dot-matrix print at high resolution falls apart into single characters for the detector;
        # a coarser image lets it see whole words again
        factor = RETRY_SIDE / max(page.image.size)
        size = (max(1, round(page.image.width * factor)), max(1, round(page.image.height * factor)))
        smaller = page.image.resize(size, Image.Resampling.LANCZOS)
        retry = self._engine.read(smaller, page=page.number, scale=page.scale / factor, offset=page.offset)
        return retry if _mean_length(retry) > _mean_length(words) else words

    def extract_sync(self, document: Document) -> ExtractedReceipt:
        """The blocking extraction (what ``extract`` runs in the pool)."""
        lines, pages = self.read_lines(document)
        if not any(line.text.strip() for line in lines):
            raise ExtractionFailed("no text found")
        return parse_lines(lines, pages=pages)
