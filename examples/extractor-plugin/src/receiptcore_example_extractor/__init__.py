"""An example receiptcore extractor plugin: reads the text layer of born-digital PDF receipts.

It shows the whole contract in one small class: a ``name``, a ``version``, an ``async extract(document)`` that
returns an ``ExtractedReceipt`` and raises only ``ExtractionFailed`` (or ``ExtractionDeferred``), CPU work kept
off the event loop, and a constructor that takes its ``ExtractorConfig`` (one option of its own,
``RECEIPTCORE_EXTRACTOR_EXAMPLE_MAX_PAGES``). Images (no text layer) get an empty but valid reading with a
warning, so the receipt lands in ``needs_review`` for a person to fill in.
"""

from __future__ import annotations

import asyncio
import re

from receiptcore.plugins import (
    ConfigurationError,
    Document,
    ExtractedReceipt,
    ExtractionFailed,
    Extractor,
    ExtractorConfig,
    FieldSource,
    Merchant,
    ReceiptWarning,
    parse_decimal,
)

__version__ = "0.1.0"

_TOTAL = re.compile(r"^\s*(?:GRAND\s+)?TOTAL\b[^\d-]*(-?\d{1,9}(?:[.,]\d{2}))\s*$", re.IGNORECASE | re.MULTILINE)
#: pages read when RECEIPTCORE_EXTRACTOR_EXAMPLE_MAX_PAGES is unset
DEFAULT_MAX_PAGES = 10


def _text_layer(content: bytes, max_pages: int) -> tuple[str, int]:
    """All text of the PDF's first ``max_pages`` pages and its page count (blocking: run it in a thread)."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(content)
    try:
        texts = []
        for index in range(min(len(pdf), max_pages)):
            page = pdf[index]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return "\n".join(texts), len(pdf)
    finally:
        pdf.close()


def read_text(text: str, pages: int) -> ExtractedReceipt:
    """Turn receipt text into a reading: first line as merchant name, the last ``TOTAL`` line as total."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    provenance: dict[str, FieldSource] = {}
    merchant = Merchant()
    if lines:
        merchant = Merchant(name=lines[0][:500])
        provenance["merchant.name"] = FieldSource(confidence=0.5, text=lines[0][:5000], page=1)
    total = None
    matches = list(_TOTAL.finditer(text))
    if matches:
        total = parse_decimal(matches[-1].group(1).replace(",", "."))
        if total is not None:
            provenance["total"] = FieldSource(confidence=0.6, text=matches[-1].group(0).strip()[:5000])
    return ExtractedReceipt(merchant=merchant, total=total, raw_text=text[:200_000], provenance=provenance, pages=pages)


class TextLayerExtractor(Extractor):
    """Extractor plugin ``example``: the text layer of PDFs; images get an empty reading for review."""

    name = "example"
    version = __version__

    def __init__(self, config: ExtractorConfig | None = None) -> None:
        """receiptcore passes this plugin's ``ExtractorConfig``; its one option is ``max_pages``.

        Raises:
            ConfigurationError: ``RECEIPTCORE_EXTRACTOR_EXAMPLE_MAX_PAGES`` is not a whole number from 1 to 100.
        """
        config = config or ExtractorConfig(name=self.name)
        self.max_pages = config.int_option("max_pages", DEFAULT_MAX_PAGES)
        if not 1 <= self.max_pages <= 100:
            raise ConfigurationError(f"{config.variable('max_pages')} must be from 1 to 100, not {self.max_pages}")

    async def extract(self, document: Document) -> ExtractedReceipt:
        """Read the document's text layer.

        Raises:
            ExtractionFailed: the PDF cannot be opened.
        """
        if document.media_type != "application/pdf":
            return ExtractedReceipt(
                warnings=[ReceiptWarning(code="no_text_layer", detail="images need an OCR or LLM extractor")]
            )
        try:
            text, pages = await asyncio.to_thread(_text_layer, document.content, self.max_pages)
        except Exception as exc:
            # the port allows only receiptcore errors to escape; pypdfium2 raises its own on a corrupt file
            raise ExtractionFailed("cannot read the PDF's text layer") from exc
        return read_text(text, pages)
