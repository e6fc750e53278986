"""The offline ``ocr`` extractor: RapidOCR (models shipped in the ``rapidocr`` wheel) and a layout-aware parser.

Pipeline: ``images`` (decode, orient, downscale; PDF text layer or rendering) → ``engine`` (text boxes) →
``layout`` (rows in reading order) → ``parser`` (``header``, ``dates``, ``items``, ``totals``, ``currency``).
"""

from receiptcore.adapters.extractors.ocr.extractor import VERSION, OcrExtractor

__all__ = ["VERSION", "OcrExtractor"]
