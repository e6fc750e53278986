"""PillowFileInspector: the FileInspector port with Pillow (images) and pypdfium2 (PDFs).

Order matters for hostile input: the type is sniffed from magic bytes (never the client's header), the pixel
count is read from the image header before any decoding (a "pixel bomb" of a few KB can claim 10^10 pixels),
and only then is the whole image decoded to catch truncated or corrupt files. No Pillow or pdfium exception
escapes: each becomes InvalidUpload (or one of its subclasses).
"""

from __future__ import annotations

import io
import logging
import threading
import warnings

from receiptcore.errors import InvalidUpload, UnsupportedMediaType, UploadTooLarge
from receiptcore.ports import FileInspector, Inspection

log = logging.getLogger(__name__)

JPEG, PNG, WEBP, PDF = "image/jpeg", "image/png", "image/webp", "application/pdf"
_PIL_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}
# A receipt page larger than this (in PDF points, 1/72 inch) is not a receipt: 5 m on a side.
_MAX_PAGE_POINTS = 14_400
# pdfium is not thread-safe; uploads may be inspected from several worker threads at once.
_PDFIUM_LOCK = threading.Lock()
DECODE_BLOCK_BYTES = 1024 * 1024


def sniff(content: bytes) -> str | None:
    """The media type the magic bytes announce (JPEG, PNG, WebP, PDF), or None."""
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(content) >= 12 and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return WEBP
    # the PDF header may follow a little garbage; readers accept it within the first 1 KiB
    if b"%PDF-" in content[:1024]:
        return PDF
    return None


class PillowFileInspector(FileInspector):
    """Sniffs and sanity-checks uploads.

    Args:
        max_pixels: largest accepted image, width x height (of a PDF's first page at 72 dpi too).
        max_pages: most pages accepted in a PDF.
    """

    def __init__(self, max_pixels: int = 60_000_000, max_pages: int = 20) -> None:
        self._max_pixels = max_pixels
        self._max_pages = max_pages

    def inspect(self, content: bytes) -> Inspection:
        """Identify and check ``content``. Raises UnsupportedMediaType, UploadTooLarge or InvalidUpload."""
        if not content:
            raise InvalidUpload("the file is empty")
        media_type = sniff(content)
        if media_type is None:
            raise UnsupportedMediaType("only JPEG, PNG, WebP and PDF files are accepted")
        try:
            if media_type == PDF:
                return self._inspect_pdf(content)
            return self._inspect_image(content, media_type)
        except InvalidUpload:
            raise
        except Exception as exc:  # a decoder bug or an unexpected error type must still be a clean 4xx
            log.warning("inspecting a %s upload failed unexpectedly: %r", media_type, exc)
            raise InvalidUpload(f"the {media_type} file could not be read") from exc

    def _inspect_image(self, content: bytes, media_type: str) -> Inspection:
        from PIL import Image, UnidentifiedImageError

        try:
            with warnings.catch_warnings():
                # Pillow warns (and past 2x raises) on huge images itself; we apply our own cap below
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(content), formats=[_PIL_FORMATS[media_type]])
        except Image.DecompressionBombError as exc:
            raise UploadTooLarge("the image has too many pixels") from exc
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise InvalidUpload("the image is corrupt or not what its header says") from exc
        with image:
            width, height = image.size
            if width <= 0 or height <= 0:
                raise InvalidUpload("the image has no pixels")
            if width * height > self._max_pixels:
                raise UploadTooLarge(
                    f"the image has {width}x{height} pixels; the limit is {self._max_pixels} pixels in all"
                )
            frames = getattr(image, "n_frames", 1)
            if media_type == JPEG:
                # decode at 1/8 scale (libjpeg's DCT scaling): every scan is still entropy-decoded, which is what
                # finds truncated or corrupt data, but the full-size inverse DCT and colour conversion are skipped
                # (a 1000x1800 receipt photo: 2.9 ms of CPU instead of 4.1; the same refusals on 3,000 damaged
                # JPEGs, see tests/unit/inspection)
                image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
            # the decoder gets the bytes in pieces of this size and drops the GIL around each: one piece for a phone
            # photo instead of five of 64 KiB, so the thread takes the GIL back once, not five times, from the
            # event loop (each take can make the loop wait; a larger file still goes in 1 MiB pieces)
            image.decodermaxblock = min(max(len(content), 65536), DECODE_BLOCK_BYTES)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    image.load()  # the decode: truncated or corrupt data fails here
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise UploadTooLarge("the image has too many pixels") from exc
            except (OSError, ValueError, SyntaxError, EOFError) as exc:
                raise InvalidUpload("the image is truncated or corrupt") from exc
        return Inspection(media_type=media_type, pages=max(1, int(frames)), width=width, height=height)

    def _inspect_pdf(self, content: bytes) -> Inspection:
        import pypdfium2 as pdfium

        with _PDFIUM_LOCK:
            try:
                pdf = pdfium.PdfDocument(content)
            except pdfium.PdfiumError as exc:
                if "password" in str(exc).lower():
                    raise InvalidUpload("the PDF is encrypted; upload an unprotected copy") from exc
                raise InvalidUpload("the PDF is corrupt") from exc
            try:
                pages = len(pdf)
                if pages < 1:
                    raise InvalidUpload("the PDF has no pages")
                if pages > self._max_pages:
                    raise UploadTooLarge(f"the PDF has {pages} pages; the limit is {self._max_pages}")
                page = pdf[0]
                try:
                    width, height = page.get_size()
                finally:
                    page.close()
            finally:
                pdf.close()
        if not (0 < width <= _MAX_PAGE_POINTS and 0 < height <= _MAX_PAGE_POINTS):
            raise InvalidUpload(f"the PDF's first page is {width:.0f}x{height:.0f} points, not a receipt page")
        w, h = round(width), round(height)
        if w * h > self._max_pixels:
            raise UploadTooLarge("the PDF's first page is too large")
        return Inspection(media_type=PDF, pages=pages, width=max(1, w), height=max(1, h))
