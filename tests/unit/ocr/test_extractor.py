import datetime as dt
import io
from decimal import Decimal

import pytest
from PIL import Image, ImageDraw

from receiptcore.adapters.extractors.ocr import OcrExtractor
from receiptcore.adapters.extractors.ocr.images import MAX_PIXELS, MAX_SIDE, load_pages
from receiptcore.errors import ExtractionFailed
from receiptcore.ports import Document, Extractor


def _text_pdf(rows: list[str]) -> bytes:
    """A one-page PDF whose text layer holds ``rows`` (Helvetica, one row per line)."""
    lines = [f"BT /F1 12 Tf 40 {760 - 18 * i} Td ({row}) Tj ET" for i, row in enumerate(rows)]
    stream = "\n".join(lines).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def test_construction_is_cheap_and_implements_the_port() -> None:
    extractor = OcrExtractor(config=None)
    assert isinstance(extractor, Extractor)
    assert extractor.name == "ocr"
    assert extractor.version
    assert getattr(extractor._engine._local, "engine", None) is None  # no model loaded yet


async def test_a_pdf_with_a_text_layer_is_read_without_ocr() -> None:
    pdf = _text_pdf(["CORNER BOOKS LTD", "Date: 14/03/2021", "Novel 12.00", "TOTAL 12.00", "CASH 20.00", "CHANGE 8.00"])
    extractor = OcrExtractor()
    receipt = await extractor.extract(Document(pdf, "application/pdf", "r.pdf"))
    assert receipt.merchant.name == "CORNER BOOKS LTD"
    assert receipt.purchase_date == dt.date(2021, 3, 14)
    assert receipt.total == Decimal("12.00")
    assert receipt.pages == 1
    assert getattr(extractor._engine._local, "engine", None) is None  # the text layer needed no OCR


CORRUPT = [
    (b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg"),
    (b"%PDF-1.4 broken", "application/pdf"),
    (b"", "image/png"),
]


@pytest.mark.parametrize(("content", "media_type"), CORRUPT)
async def test_corrupt_documents_fail_cleanly(content: bytes, media_type: str) -> None:
    with pytest.raises(ExtractionFailed):
        await OcrExtractor().extract(Document(content, media_type))


def test_a_huge_scan_is_downscaled_before_ocr() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (5000, 7000), "white").save(buffer, "JPEG", quality=50)
    page = load_pages(buffer.getvalue(), "image/jpeg")[0]
    assert page.image is not None
    assert max(page.image.size) <= MAX_SIDE
    assert page.image.width * page.image.height <= MAX_PIXELS * 1.01
    assert page.scale == pytest.approx(5000 / page.image.width, rel=0.01)


def test_exif_orientation_is_applied() -> None:
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.new("L", (400, 100), 255).save(buffer, "JPEG", exif=exif)
    page = load_pages(buffer.getvalue(), "image/jpeg")[0]
    assert page.image is not None
    width, height = page.image.size
    assert height == 4 * width  # upright: the 400 x 100 pixels are shown 100 wide, 400 tall


@pytest.mark.slow
async def test_a_blank_image_has_no_text() -> None:
    buffer = io.BytesIO()
    Image.new("L", (300, 500), 255).save(buffer, "PNG")
    with pytest.raises(ExtractionFailed, match="no text found"):
        await OcrExtractor().extract(Document(buffer.getvalue(), "image/png"))


@pytest.mark.slow
async def test_a_scanned_pdf_is_rendered_and_read() -> None:
    image = Image.new("L", (600, 400), 255)
    draw = ImageDraw.Draw(image)
    for row, text in enumerate(["CORNER BOOKS LTD", "14/03/2021", "TOTAL 12.00"]):
        draw.text((40, 40 + 60 * row), text, fill=0, font_size=36)
    buffer = io.BytesIO()
    image.save(buffer, "PDF", resolution=100)
    receipt = await OcrExtractor().extract(Document(buffer.getvalue(), "application/pdf"))
    assert receipt.total == Decimal("12.00")
    assert receipt.purchase_date == dt.date(2021, 3, 14)
    assert receipt.provenance["total"].page == 1
