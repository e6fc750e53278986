"""Scanned (or blank) PDF pages get the pixel budget images get (issue 9, hole 2): ten blank A4 pages used to
render at 200 dpi, 3.9 MP each, and cost the OCR engine 39-91 s per attempt."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest

from receiptcore.adapters.extractors.ocr.images import MAX_PIXELS, MAX_SIDE, PDF_DPI, load_pages, pdf_render_scale


def _blank_pdf(pages: int, width: float, height: float) -> bytes:
    pdf = pdfium.PdfDocument.new()
    for _ in range(pages):
        pdf.new_page(width, height)
    out = io.BytesIO()
    pdf.save(out)
    pdf.close()
    return out.getvalue()


@pytest.mark.parametrize(
    ("width", "height"),
    [(595, 842), (842, 595), (226, 2000), (2000, 2000), (14400, 14400)],
    ids=["A4", "A4 landscape", "till roll", "large square", "maximum page"],
)
def test_every_rendered_pdf_page_fits_the_image_pixel_budget(width: float, height: float) -> None:
    pages = load_pages(_blank_pdf(2, width, height), "application/pdf")
    assert len(pages) == 2
    for page in pages:
        assert page.image is not None
        assert page.image.width * page.image.height <= MAX_PIXELS * 1.01  # rounding up of each side
        assert max(page.image.size) <= MAX_SIDE + 1


def test_a_small_page_still_renders_at_the_pdf_resolution() -> None:
    assert pdf_render_scale(200, 300) == pytest.approx(PDF_DPI / 72)
