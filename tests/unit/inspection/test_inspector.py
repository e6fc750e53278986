"""PillowFileInspector: sniffing from bytes, pixel and page bombs, corrupt files, no decoder exception escapes."""

from __future__ import annotations

import contextlib
import io
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from receiptcore.adapters.inspection import PillowFileInspector, sniff
from receiptcore.errors import InvalidUpload, UnsupportedMediaType, UploadTooLarge
from tests.factories import image_bytes

INSPECTOR = PillowFileInspector(max_pixels=1_000_000, max_pages=3)


def png_with_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a pixel bomb when large)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def pdf_bytes(pages: int = 1, size: tuple[int, int] = (200, 300)) -> bytes:
    buffer = io.BytesIO()
    first, *rest = [Image.new("RGB", size, "white") for _ in range(pages)]
    first.save(buffer, "PDF", save_all=True, append_images=rest, resolution=72)
    return buffer.getvalue()


def handmade_pdf(media_box: str) -> bytes:
    """A minimal one-page PDF with the given MediaBox (pdfium rebuilds the missing xref table)."""
    return (
        b"%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
        b"2 0 obj <</Type /Pages /Kids [3 0 R] /Count 1>> endobj\n"
        b"3 0 obj <</Type /Page /Parent 2 0 R /MediaBox [" + media_box.encode() + b"]>> endobj\n"
        b"trailer <</Root 1 0 R>>\n%%EOF\n"
    )


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"), ("PDF", "application/pdf")],
)
def test_accepted_formats_are_sniffed_from_bytes(fmt: str, media_type: str) -> None:
    content = pdf_bytes() if fmt == "PDF" else image_bytes(fmt, size=(64, 48))
    assert sniff(content) == media_type
    inspection = INSPECTOR.inspect(content)
    assert inspection.media_type == media_type
    assert inspection.pages == 1
    assert (inspection.width, inspection.height) == ((200, 300) if fmt == "PDF" else (64, 48))


@pytest.mark.parametrize(
    "content",
    [
        b"GIF89a" + b"\0" * 64,
        b"PK\x03\x04 a zip file",
        b"<html><script>alert(1)</script></html>",
        b"RIFF\0\0\0\0WAVEfmt ",
        image_bytes("BMP"),
        image_bytes("TIFF"),
    ],
)
def test_other_types_are_unsupported(content: bytes) -> None:
    with pytest.raises(UnsupportedMediaType):
        INSPECTOR.inspect(content)


def test_empty_file_is_invalid() -> None:
    with pytest.raises(InvalidUpload):
        INSPECTOR.inspect(b"")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_images_are_invalid(fmt: str) -> None:
    content = image_bytes(fmt, size=(300, 200), color="red")
    for cut in (len(content) // 3, len(content) * 2 // 3):
        with pytest.raises(InvalidUpload) as caught:
            INSPECTOR.inspect(content[:cut])
        assert type(caught.value) is InvalidUpload


def test_corrupt_png_data_is_invalid() -> None:
    content = bytearray(image_bytes("PNG", size=(100, 100), color="blue"))
    index = content.index(b"IDAT") + 10
    content[index : index + 8] = b"\xff" * 8
    with pytest.raises(InvalidUpload):
        INSPECTOR.inspect(bytes(content))


@pytest.mark.parametrize(("width", "height"), [(1001, 1000), (30_000, 30_000), (2**31 - 1, 2**31 - 1)])
def test_pixel_bombs_are_refused_from_the_header(width: int, height: int) -> None:
    with pytest.raises(UploadTooLarge):
        INSPECTOR.inspect(png_with_header(width, height))


def test_image_at_the_pixel_cap_is_accepted() -> None:
    assert INSPECTOR.inspect(image_bytes("PNG", size=(1000, 1000))).width == 1000


def test_pdf_page_count_and_cap() -> None:
    assert INSPECTOR.inspect(pdf_bytes(pages=3)).pages == 3
    with pytest.raises(UploadTooLarge):
        INSPECTOR.inspect(pdf_bytes(pages=4))


@pytest.mark.parametrize(
    "content",
    [
        b"%PDF-1.7\n" + b"garbage " * 50,
        pdf_bytes()[:120],
        handmade_pdf("0 0 100000 100000"),
    ],
)
def test_corrupt_or_absurd_pdfs_are_invalid(content: bytes) -> None:
    with pytest.raises(InvalidUpload):
        INSPECTOR.inspect(content)


def test_encrypted_pdf_is_invalid() -> None:
    encrypted = (
        handmade_pdf("0 0 200 300").replace(b"trailer <</Root 1 0 R>>", b"")
        + b"4 0 obj <</Filter /Standard /V 1 /R 2 /O <"
        + b"41" * 32
        + b"> /U <"
        + b"42" * 32
        + b"> /P -4>> endobj\ntrailer <</Root 1 0 R /Encrypt 4 0 R /ID [<"
        + b"01" * 16
        + b"> <"
        + b"01" * 16
        + b">]>>\n%%EOF\n"
    )
    with pytest.raises(InvalidUpload, match="encrypted"):
        INSPECTOR.inspect(encrypted)


def test_handmade_pdf_with_sane_page_is_accepted() -> None:
    inspection = INSPECTOR.inspect(handmade_pdf("0 0 226 600"))
    assert (inspection.media_type, inspection.width, inspection.height) == ("application/pdf", 226, 600)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x10\x00\x00\x00WEBPVP8 ", b"%PDF-1.4\n"]),
    st.binary(max_size=300),
)
def test_no_decoder_exception_escapes(magic: bytes, tail: bytes) -> None:
    with contextlib.suppress(InvalidUpload):
        INSPECTOR.inspect(magic + tail)


def _noise_jpeg(mode: str, **options: object) -> bytes:
    """A JPEG that does not compress much (photo-like grain), in ``mode`` with the given encoder options."""
    image = Image.effect_noise((96, 64), 50).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85, **options)
    return buffer.getvalue()


JPEG_KINDS = {
    "grey": _noise_jpeg("L"),
    "colour 4:2:0": _noise_jpeg("RGB"),
    "colour 4:4:4": _noise_jpeg("RGB", subsampling=0),
    "progressive": _noise_jpeg("RGB", progressive=True),
    "restart markers": _noise_jpeg("RGB", restart_marker_blocks=2),
    "CMYK": _noise_jpeg("CMYK"),
}


def _full_decode_refuses(content: bytes) -> bool:
    """The reference: Pillow's decode at full size (what the inspector did before it decoded at 1/8 scale)."""
    try:
        with Image.open(io.BytesIO(content), formats=["JPEG"]) as image:
            image.load()
    except Exception:  # any failure is a refusal
        return True
    return False


def _inspector_refuses(content: bytes) -> bool:
    try:
        INSPECTOR.inspect(content)
    except (InvalidUpload, UnsupportedMediaType):
        return True
    return False


@pytest.mark.parametrize("kind", sorted(JPEG_KINDS))
def test_a_jpeg_is_inspected_at_its_full_size(kind: str) -> None:
    inspection = INSPECTOR.inspect(JPEG_KINDS[kind])
    assert (inspection.media_type, inspection.width, inspection.height) == ("image/jpeg", 96, 64)


@pytest.mark.parametrize("kind", sorted(JPEG_KINDS))
def test_every_truncation_of_a_jpeg_is_refused_as_a_full_decode_refuses_it(kind: str) -> None:
    content = JPEG_KINDS[kind]
    cuts = range(3, len(content), max(1, len(content) // 60))
    assert [_inspector_refuses(content[:cut]) for cut in cuts] == [_full_decode_refuses(content[:cut]) for cut in cuts]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(JPEG_KINDS)),
    st.lists(
        st.tuples(
            st.sampled_from(["set", "overwrite", "delete"]), st.floats(0.0, 1.0), st.binary(min_size=1, max_size=64)
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_a_damaged_jpeg_is_refused_exactly_when_a_full_decode_refuses_it(
    kind: str, damage: list[tuple[str, float, bytes]]
) -> None:
    """Decoding at 1/8 scale still entropy-decodes every scan: it must refuse the same files as a full decode."""
    content = bytearray(JPEG_KINDS[kind])
    for operation, where, data in damage:
        at = 3 + int(where * (len(content) - 4))  # the start-of-image marker stays: the file is still sniffed JPEG
        if operation == "set":
            content[at] = data[0]
        elif operation == "overwrite":
            content[at : at + len(data)] = data
        else:
            del content[at : at + len(data) * 16]
    assert _inspector_refuses(bytes(content)) == _full_decode_refuses(bytes(content))
