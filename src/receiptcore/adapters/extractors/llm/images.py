"""Image preparation for the LLM extractors: every page becomes one modest JPEG.

Vision APIs bill by pixels and refuse large payloads, and a 5,000 x 7,000 phone scan carries no more legible
text than the same receipt at ~1,500 px on its long side. So images are decoded at reduced size (JPEG draft
mode), turned upright from their EXIF orientation, flattened to RGB, downscaled and re-encoded; PDF pages are
rendered with pypdfium2 at the size they will be sent at. CPU-bound: call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from receiptcore.errors import ExtractionFailed
from receiptcore.ports import Document

JPEG_QUALITY = 85
# PDFs are vector text; past ~200 dpi rendering only makes the picture larger, not sharper to a model
MAX_PDF_SCALE = 200 / 72


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """One page, ready to send: JPEG bytes and their pixel size."""

    data: bytes
    width: int
    height: int
    media_type: str = "image/jpeg"

    def base64(self) -> str:
        """The JPEG bytes as base64 text (what the JSON APIs carry)."""
        return base64.b64encode(self.data).decode("ascii")

    def data_uri(self) -> str:
        """The image as a ``data:`` URI (what OpenAI-style ``image_url`` blocks carry)."""
        return f"data:{self.media_type};base64,{self.base64()}"


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """The pages to send and how many the document had in all."""

    images: list[PreparedImage]
    total_pages: int


def _encode(image: Image.Image, max_side: int) -> PreparedImage:
    image = ImageOps.exif_transpose(image)
    if image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info):
        # transparent pixels would turn black in JPEG; receipts are dark print on light paper
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        image = canvas
    elif image.mode != "RGB":
        image = image.convert("RGB")
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return PreparedImage(data=buffer.getvalue(), width=image.width, height=image.height)


def _image_pages(content: bytes, max_side: int) -> PreparedDocument:
    with Image.open(io.BytesIO(content)) as image:
        # JPEG decodes at 1/2, 1/4 or 1/8 scale directly: a fraction of the memory of a full decode
        image.draft("RGB", (max_side, max_side))
        image.load()
        return PreparedDocument(images=[_encode(image, max_side)], total_pages=1)


def _pdf_pages(content: bytes, max_side: int, max_pages: int) -> PreparedDocument:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(content)
    try:
        total = len(pdf)
        images = []
        for index in range(min(total, max_pages)):
            page = pdf[index]
            try:
                width, height = page.get_size()
                scale = min(max_side / max(width, height, 1.0), MAX_PDF_SCALE)
                bitmap = page.render(scale=scale)
                try:
                    images.append(_encode(bitmap.to_pil(), max_side))
                finally:
                    bitmap.close()
            finally:
                page.close()
        return PreparedDocument(images=images, total_pages=total)
    finally:
        pdf.close()


def prepare_document(document: Document, *, max_side: int = 1568, max_pages: int = 5) -> PreparedDocument:
    """Turn a document into at most ``max_pages`` JPEGs whose long side is at most ``max_side`` pixels.

    Args:
        document: the original bytes and their sniffed media type.
        max_side: longest allowed side in pixels.
        max_pages: most PDF pages rendered (the first ones).

    Raises:
        ExtractionFailed: the bytes are not a readable image or PDF, or hold no page.
    """
    try:
        if document.media_type == "application/pdf" or document.content.startswith(b"%PDF-"):
            prepared = _pdf_pages(document.content, max_side, max_pages)
        else:
            prepared = _image_pages(document.content, max_side)
    except ExtractionFailed:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ExtractionFailed(f"cannot read the {document.media_type} document: {exc}") from exc
    except Exception as exc:
        # pypdfium2 and Pillow's decoders raise assorted errors on corrupt files; none may escape the adapter
        raise ExtractionFailed(f"cannot read the {document.media_type} document") from exc
    if not prepared.images:
        raise ExtractionFailed("the document has no pages")
    return prepared
