"""Page images for the web client's review page: a PDF page rendered to PNG with pypdfium2.

Browsers cannot show a PDF page under the web client's strict Content-Security-Policy without a PDF renderer in
JavaScript, and the provenance boxes of a PDF are in page points; so the server renders the page and reports the
scale (image pixels per point) with it. CPU-bound: call ``render_pdf_page`` through ``asyncio.to_thread``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from receiptcore.errors import InvalidUpload, NotFound

# 144 dpi reads comfortably zoomed in; the long side is capped so a poster-sized page stays a few megapixels
PAGE_SCALE = 2.0
MAX_SIDE = 2400


@dataclass(frozen=True, slots=True)
class PageImage:
    """A rendered page: PNG bytes and the scale from PDF points to its pixels."""

    png: bytes
    scale: float


def render_pdf_page(content: bytes, page: int) -> PageImage:
    """Render page ``page`` (1-based) of a PDF as PNG.

    Raises:
        NotFound: the PDF has no such page.
        InvalidUpload: the stored file cannot be read as a PDF.
    """
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(content)
    except pdfium.PdfiumError as exc:
        raise InvalidUpload(f"the stored PDF cannot be opened: {exc}") from exc
    try:
        if not 1 <= page <= len(pdf):
            raise NotFound(f"the PDF has {len(pdf)} page(s), not page {page}")
        pdf_page = pdf[page - 1]
        width, height = pdf_page.get_size()
        scale = min(PAGE_SCALE, MAX_SIDE / max(width, height, 1.0))
        image = pdf_page.render(scale=scale).to_pil()
        out = io.BytesIO()
        image.save(out, "PNG", optimize=False)
        return PageImage(png=out.getvalue(), scale=scale)
    except pdfium.PdfiumError as exc:
        raise InvalidUpload(f"the stored PDF cannot be rendered: {exc}") from exc
    finally:
        pdf.close()
