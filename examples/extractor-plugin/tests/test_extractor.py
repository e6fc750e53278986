"""The plugin's own tests: the reading rules, and the port contract as receiptcore checks it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from receiptcore.plugins import ConfigurationError, Document, ExtractionFailed, Extractor, ExtractorConfig

from receiptcore_example_extractor import TextLayerExtractor, read_text


def test_merchant_is_the_first_line_and_total_the_last_total_line() -> None:
    receipt = read_text("CORNER SHOP\nMILK 1.20\nTOTAL 1.20\nCASH 2.00\nGRAND TOTAL 1.20\n", pages=1)
    assert receipt.merchant.name == "CORNER SHOP"
    assert receipt.total == Decimal("1.20")


def test_it_implements_the_port() -> None:
    assert isinstance(TextLayerExtractor(), Extractor)


async def test_a_corrupt_pdf_raises_extraction_failed() -> None:
    with pytest.raises(ExtractionFailed):
        await TextLayerExtractor().extract(Document(b"%PDF-1.7 broken", "application/pdf"))


def test_its_option_comes_from_its_config() -> None:
    assert TextLayerExtractor(ExtractorConfig(name="example", options={"max_pages": "3"})).max_pages == 3
    assert TextLayerExtractor().max_pages == 10


@pytest.mark.parametrize("value", ["0", "many"])
def test_a_bad_option_is_a_configuration_error_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match="RECEIPTCORE_EXTRACTOR_EXAMPLE_MAX_PAGES"):
        TextLayerExtractor(ExtractorConfig(name="example", options={"max_pages": value}))
