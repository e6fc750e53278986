"""Turn document bytes into OCR-ready page images, or into positioned words when a PDF has a text layer.

Images are decoded with Pillow, EXIF orientation applied, and downscaled before OCR: the detector's memory grows
with the pixel count, and receipt text stays legible well below scanner resolution. JPEG decoding uses Pillow's
draft mode so a 5,000 x 7,000 scan is never held at full size.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from PIL import Image, ImageOps, JpegImagePlugin

from receiptcore.adapters.extractors.ocr.types import Word
from receiptcore.errors import ExtractionFailed

MAX_SIDE = 2400  # long side in pixels handed to the OCR engine
# and at most this many pixels: the text detector's memory grows with the pixel count (≈ 250 MB per megapixel)
MAX_PIXELS = 1_600_000
MIN_SHORT_SIDE = 736  # the detector's preferred short side (RapidOCR's default)
INK_LEVEL = 200  # grey level below which a pixel may count as print when looking for the receipt on a scan
PDF_DPI = 200
PDF_MAX_PAGES = 10
MIN_TEXT_LAYER_CHARS = 20  # fewer printable characters than this means a scanned PDF: render and OCR it


@dataclass(slots=True)
class PageInput:
    """One page: either an image to OCR or words already read from a PDF text layer. ``scale`` maps the
    processed image back to the original pixel grid (original = processed x scale + offset)."""

    number: int
    image: Image.Image | None = None
    words: list[Word] = field(default_factory=list)
    scale: float = 1.0
    offset: tuple[float, float] = (0.0, 0.0)


def load_pages(content: bytes, media_type: str) -> list[PageInput]:
    """Decode ``content`` into pages.

    Raises:
        ExtractionFailed: the bytes are not a readable image or PDF.
    """
    if media_type == "application/pdf" or content[:5] == b"%PDF-":
        return _pdf_pages(content)
    return [_image_page(content)]


def _fit(size: tuple[int, int]) -> float:
    """The downscale factor (≤ 1) that brings ``size`` within the side and pixel caps."""
    width, height = size
    return float(min(1.0, MAX_SIDE / max(width, height), (MAX_PIXELS / max(1, width * height)) ** 0.5))


def _image_page(content: bytes) -> PageInput:
    try:
        image: Image.Image = Image.open(io.BytesIO(content))
        original = image.size
        # decode at 1/2, 1/4 or 1/8 scale directly (far less memory and time than a full decode), keeping
        # enough pixels for the print once the blank margins of a scan are cut away
        factor = min(1.0, MAX_SIDE / max(original))
        if isinstance(image, JpegImagePlugin.JpegImageFile) and factor < 1.0:
            image.draft("RGB", (int(original[0] * factor), int(original[1] * factor)))
        image = ImageOps.exif_transpose(image) or image
        image = _to_ocr_mode(image)
        upright_width = original[0] if _rotation(content) in (0, 180) else original[1]
        decoded = upright_width / image.width  # original pixels per decoded pixel
        image, (left, top) = _crop_to_content(image)
        cropped_width = image.width
        factor = _fit(image.size)
        if factor >= 1.0:
            # small photos and thin receipts: enlarge so the short side has room for legible text (what the
            # detector would otherwise do itself, without our side and pixel caps)
            factor = max(1.0, min(MIN_SHORT_SIDE / min(image.size), _fit((image.width * 4, image.height * 4)) * 4))
        if abs(factor - 1.0) > 0.05:
            size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
            image = image.resize(size, Image.Resampling.LANCZOS if factor < 1 else Image.Resampling.BICUBIC)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ExtractionFailed(f"the image cannot be decoded: {exc}") from exc
    scale = decoded * cropped_width / image.width
    return PageInput(number=1, image=image, scale=scale, offset=(left * decoded, top * decoded))


def _crop_to_content(image: Image.Image) -> tuple[Image.Image, tuple[int, int]]:
    """Cut the blank margins of a scan (a receipt on an A4 flatbed) so the pixel budget goes to the print.

    Rows and columns count as print when enough of their pixels are dark; specks and scanner dust do not.
    Returns the cropped image and the offset of its top-left corner.
    """
    import numpy as np

    if image.width * image.height <= MAX_PIXELS:
        return image, (0, 0)  # small enough as it is: never risk cutting faint print
    # every other pixel of the full-size grey image: a thumbnail would average thin print away
    grey = np.asarray(image.convert("L"))[::2, ::2]
    ratio = 2
    ink = grey < min(INK_LEVEL, float(np.median(grey)) - 30)
    height, width = ink.shape
    xs = np.flatnonzero(ink.sum(axis=0) >= max(3, height // 200))
    ys = np.flatnonzero(ink.sum(axis=1) >= max(3, width // 200))
    if xs.size == 0 or ys.size == 0:
        return image, (0, 0)
    margin = 0.02 * max(width, height)
    left, right = max(0.0, xs[0] - margin), min(width, xs[-1] + 1 + margin)
    top, bottom = max(0.0, ys[0] - margin), min(height, ys[-1] + 1 + margin)
    area = (right - left) * (bottom - top)
    if area > 0.6 * width * height or right - left < 0.15 * width or bottom - top < 0.15 * height:
        return image, (0, 0)  # the print fills the frame, or what was found is too small to be the receipt
    box = (int(left * ratio), int(top * ratio), int(right * ratio), int(bottom * ratio))
    return image.crop(box), (box[0], box[1])


def _rotation(content: bytes) -> int:
    """EXIF rotation in degrees (0 when absent), so boxes can be mapped back to the upright original."""
    try:
        orientation = Image.open(io.BytesIO(content)).getexif().get(0x0112, 1)
    except (OSError, ValueError):
        return 0
    return {3: 180, 6: 270, 8: 90, 5: 90, 7: 270}.get(orientation, 0)


def _to_ocr_mode(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("RGBA", "LA", "P", "PA"):
        # flatten transparency on white: a transparent background would otherwise turn black
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def pdf_render_scale(width: float, height: float) -> float:
    """Pixels per PDF point for rendering a page of ``width`` x ``height`` points: ``PDF_DPI``, lowered to keep
    the page within the same side and pixel caps as an image (a blank A4 page at 200 dpi would be 3.7 MP, and
    ten of them took the OCR engine 39-91 s per attempt: issue 9, hole 2)."""
    width, height = max(width, 1.0), max(height, 1.0)
    return float(min(PDF_DPI / 72, MAX_SIDE / max(width, height), (MAX_PIXELS / (width * height)) ** 0.5))


def _pdf_pages(content: bytes) -> list[PageInput]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(content)
    except pdfium.PdfiumError as exc:
        raise ExtractionFailed(f"the PDF cannot be opened: {exc}") from exc
    pages: list[PageInput] = []
    try:
        for index in range(min(len(pdf), PDF_MAX_PAGES)):
            page = pdf[index]
            words = _text_layer(page, index + 1)
            if sum(len(w.text.strip()) for w in words) >= MIN_TEXT_LAYER_CHARS:
                pages.append(PageInput(number=index + 1, words=words))
                continue
            width, height = page.get_size()
            scale = pdf_render_scale(width, height)
            image = _to_ocr_mode(page.render(scale=scale).to_pil())
            # boxes are reported in 72-dpi page points like the text layer's
            pages.append(PageInput(number=index + 1, image=image, scale=1 / scale))
    except pdfium.PdfiumError as exc:
        raise ExtractionFailed(f"the PDF cannot be read: {exc}") from exc
    finally:
        pdf.close()
    return pages


def _text_layer(page: object, number: int) -> list[Word]:
    """Words of a PDF page's text layer with their boxes in top-left-origin page points."""
    textpage = page.get_textpage()  # type: ignore[attr-defined]
    _, height = page.get_size()  # type: ignore[attr-defined]
    words: list[Word] = []
    try:
        for i in range(textpage.count_rects()):
            left, bottom, right, top = textpage.get_rect(i)
            text = textpage.get_text_bounded(left, bottom, right, top).strip()
            if text:
                box = (left, height - top, right, height - bottom)
                words.append(Word(text=" ".join(text.split()), box=box, page=number))
    finally:
        textpage.close()
    return words
