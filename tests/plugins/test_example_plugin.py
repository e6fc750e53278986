"""examples/extractor-plugin is a working plugin: pip installs it, the entry point finds it, receiptcore loads it.

pip builds it with the hatchling already in this environment (no build isolation, no index: no network) into
a private ``--target`` directory that is put on ``sys.path`` for this test only.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from importlib.metadata import entry_points, version
from pathlib import Path

import pytest

from receiptcore.adapters.extractors import GROUP, load_extractor
from receiptcore.entrypoints.container import extractor_config
from receiptcore.ports import Document, Extractor
from receiptcore.settings import Settings

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "examples" / "extractor-plugin"


def text_pdf(lines: list[str]) -> bytes:
    """A one-page PDF whose text layer holds ``lines`` (Helvetica, one per row)."""
    shown = " 0 -20 Td ".join(f"({line}) Tj" for line in lines)
    stream = f"BT /F1 12 Tf 20 360 Td {shown} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 400] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin pip-installed (once per module) into a private directory."""
    target = tmp_path_factory.mktemp("plugin-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(target), str(PLUGIN_DIR)],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    return target


@pytest.fixture
def installed_plugin(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The installed plugin's directory, on sys.path for this test only."""
    monkeypatch.syspath_prepend(str(plugin_site))
    importlib.invalidate_caches()
    yield plugin_site
    for name in [module for module in sys.modules if module.startswith("receiptcore_example_extractor")]:
        del sys.modules[name]


def test_entry_point_group_lists_the_installed_plugin(installed_plugin: Path) -> None:
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    assert "example" in found
    assert found["example"].value == "receiptcore_example_extractor:TextLayerExtractor"
    assert version("receiptcore-example-extractor") == "0.1.0"
    assert (installed_plugin / "receiptcore_example_extractor" / "__init__.py").is_file()


async def test_load_extractor_selects_the_plugin_and_it_reads_a_pdf(installed_plugin: Path, tmp_path: Path) -> None:
    extractor = load_extractor("example", extractor_config(Settings(data_dir=tmp_path, extractor="example")))
    assert isinstance(extractor, Extractor)
    assert (extractor.name, extractor.version) == ("example", "0.1.0")
    assert extractor.__module__ == "receiptcore_example_extractor"
    assert str(installed_plugin) in sys.modules[extractor.__module__].__file__  # type: ignore[operator]

    receipt = await extractor.extract(
        Document(text_pdf(["CORNER SHOP", "MILK 1.20", "BREAD 2.30", "TOTAL 3.50"]), "application/pdf")
    )

    assert receipt.merchant.name == "CORNER SHOP"
    assert receipt.total == Decimal("3.50")
    assert "BREAD" in receipt.raw_text


async def test_the_plugin_gives_images_an_empty_reading_for_review(installed_plugin: Path) -> None:
    extractor = load_extractor("example")

    receipt = await extractor.extract(Document(b"\xff\xd8\xff", "image/jpeg"))

    assert receipt.total is None
    assert [warning.code for warning in receipt.warnings] == ["no_text_layer"]


def test_receiptcore_extractor_setting_selects_the_plugin(
    installed_plugin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from receiptcore.entrypoints.container import build_container

    monkeypatch.setenv("RECEIPTCORE_EXTRACTOR", "example")
    container = build_container(Settings(data_dir=tmp_path))

    assert container.extractor().name == "example"


def test_the_plugin_reads_its_own_option_from_the_environment(
    installed_plugin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from receiptcore.entrypoints.container import build_container

    monkeypatch.setenv("RECEIPTCORE_EXTRACTOR", "example")
    monkeypatch.setenv("RECEIPTCORE_EXTRACTOR_EXAMPLE_MAX_PAGES", "2")
    extractor = build_container(Settings(data_dir=tmp_path)).extractor()

    assert extractor.max_pages == 2  # type: ignore[attr-defined]
