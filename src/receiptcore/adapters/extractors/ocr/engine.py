"""The OCR engine: RapidOCR (PP-OCR models inside the ``rapidocr`` wheel) on onnxruntime, loaded on first use.

Each worker thread gets its own engine instance (onnxruntime sessions are cheap to share, but RapidOCR keeps
per-call state on the object), built under a lock so two threads never load models at the same time. The
onnxruntime thread count is bounded so that OCR uses at most ``threads`` cores per engine.

``warm_up(count)`` builds engines ahead of time into a spare list that any thread takes from before it builds
its own, so a warm-up run on whichever pool thread serves every thread that extracts later (issue 12: the first
receipt after a start paid ~8 s of model loading). A thread that asks while a warm-up is loading waits for the
lock and then takes the spare instead of loading a second copy.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
import unicodedata
from typing import Any

from PIL import Image, ImageDraw

from receiptcore.adapters.extractors.ocr.types import Word
from receiptcore.errors import ConfigurationError, ExtractionFailed

MIN_SCORE = 0.5  # RapidOCR's own default: weaker boxes are mostly noise
# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 8 << 20


def _map_large_buffers() -> None:
    """Serve native allocations of 8 MiB or more from their own mmap, unmapped on free (glibc only).

    onnxruntime's tensors are large and change size with every image. glibc's default threshold rises after the
    first large frees (up to 32 MiB); tensors then come from the heap, where freed space is reused only when the
    next request fits, and the heap grows. Measured: a 5000x7000 scan peaks at 409 MiB instead of 526, one
    process reading all 150 receipts of the shared set at 523 MiB instead of 694. A fixed threshold also stops
    glibc from moving it. 8 MiB, not lower: each mapped buffer is zero-filled anew on first touch (8 MiB costs
    ~20% more CPU, 1 MiB ~40% for a further ~60 MiB less). Process-wide: set once, when the first engine loads.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, _MMAP_THRESHOLD_BYTES)


def _release_memory() -> None:
    """Give freed native buffers back to the OS (glibc only): onnxruntime allocates per image shape, and a
    long-running worker would otherwise keep the high-water mark of every shape it has seen."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _warm_up_image() -> Image.Image:
    """A small image with a line of text, so that both the detector and the recogniser run once."""
    image = Image.new("RGB", (320, 96), "white")
    ImageDraw.Draw(image).text((16, 24), "TOTAL 12.00", fill="black", font_size=32)
    return image


class RapidOcrEngine:
    """Recognises text boxes in an image with RapidOCR. Thread-safe; models load lazily per thread."""

    def __init__(self, threads: int = 2) -> None:
        self._threads = max(1, threads)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._spares: list[Any] = []  # built by warm_up, not yet owned by a thread
        self._built = 0  # engines built so far, owned or spare (what warm_up counts against)

    def _engine(self) -> Any:
        engine = getattr(self._local, "engine", None)
        if engine is None:
            with self._lock:
                engine = self._spares.pop() if self._spares else self._new_engine()
            self._local.engine = engine
        return engine

    def _new_engine(self) -> Any:
        """Build one engine; the caller holds the lock."""
        engine = self._build()
        self._built += 1
        return engine

    def _build(self) -> Any:
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise ConfigurationError("the ocr extractor needs the 'ocr' extra: pip install 'receiptcore[ocr]'") from exc
        _map_large_buffers()
        params = {
            "Global.log_level": "error",
            "Global.text_score": MIN_SCORE,
            # images arrive already sized within our caps (images.py); the detector must not enlarge them again
            "Global.max_side_len": 2500,
            "Det.limit_type": "max",
            "Det.limit_side_len": 2500,
            "EngineConfig.onnxruntime.intra_op_num_threads": self._threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        return RapidOCR(params=params)

    def warm_up(self, count: int = 1) -> None:
        """Load the models now (otherwise the first ``read`` pays for it): until ``count`` engines exist, built
        ones kept as spares for the threads that read later. Idempotent.

        Raises:
            ConfigurationError: the ``ocr`` extra is missing. Anything the engine raises while loading.
        """
        with self._lock:
            while self._built < count:
                engine = self._new_engine()
                # onnxruntime plans its memory and picks kernels on the first run of a session (measured: the first
                # small receipt took ~2x the next even with the models loaded); one tiny read pays for that here
                engine(_warm_up_image())
                self._spares.append(engine)

    def read(
        self, image: Image.Image, page: int = 1, scale: float = 1.0, offset: tuple[float, float] = (0.0, 0.0)
    ) -> list[Word]:
        """Recognise ``image``; boxes map back to the original pixels as ``box x scale + offset``.

        Raises:
            ExtractionFailed: the engine failed on this image.
        """
        try:
            result = self._engine()(image)
        except ConfigurationError:
            raise
        except Exception as exc:  # the engine raises bare exceptions of its dependencies (cv2, onnxruntime)
            raise ExtractionFailed(f"OCR failed: {exc}") from exc
        finally:
            _release_memory()
        if result.boxes is None or result.txts is None:
            return []
        words: list[Word] = []
        for points, text, score in zip(result.boxes, result.txts, result.scores, strict=False):
            xs = [float(p[0]) * scale + offset[0] for p in points]
            ys = [float(p[1]) * scale + offset[1] for p in points]
            # NFKC folds full-width brackets and letters that the recogniser emits for CJK-trained models
            cleaned = " ".join(unicodedata.normalize("NFKC", str(text)).split())
            if cleaned:
                words.append(
                    Word(text=cleaned, box=(min(xs), min(ys), max(xs), max(ys)), score=float(score), page=page)
                )
        return words
