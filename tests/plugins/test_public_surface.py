"""The plugin-facing surface is small and stated: ``receiptcore.plugins`` exports exactly the intended names, the
package ships ``py.typed``, and the example plugin needs nothing else of receiptcore.
"""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

import pytest

import receiptcore
import receiptcore.plugins
from receiptcore.ports import Extractor

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "extractor-plugin"

# Adding a name here is a promise to plugin authors; removing one breaks their code.
INTENDED = {
    "Closeable",
    "ConfigurationError",
    "Document",
    "ExtractedReceipt",
    "ExtractionDeferred",
    "ExtractionFailed",
    "Extractor",
    "ExtractorConfig",
    "FieldSource",
    "LineItem",
    "Merchant",
    "Payment",
    "PaymentMethod",
    "ReceiptData",
    "ReceiptType",
    "ReceiptWarning",
    "ReportsHealth",
    "TaxLine",
    "Warms",
    "is_currency",
    "minor_units",
    "parse_decimal",
    "round_money",
}


def test_plugins_exports_exactly_the_intended_names_sorted() -> None:
    exported = receiptcore.plugins.__all__
    assert list(exported) == sorted(exported)
    assert set(exported) == INTENDED
    public = {name for name in vars(receiptcore.plugins) if not name.startswith("_") and name != "annotations"}
    assert public == INTENDED, "a public name of receiptcore.plugins is missing from __all__ (or the reverse)"


def test_the_exported_extractor_is_the_port_the_worker_checks() -> None:
    assert receiptcore.plugins.Extractor is Extractor


def test_the_package_is_marked_typed() -> None:
    assert (Path(receiptcore.__file__).parent / "py.typed").is_file()


@pytest.mark.slow
def test_the_wheel_ships_py_typed_and_the_plugins_module(tmp_path: Path) -> None:
    from hatchling.builders.wheel import WheelBuilder

    [wheel] = list(WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"]))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"receiptcore/py.typed", "receiptcore/plugins.py"} <= names


def _receiptcore_imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return {module for module in modules if module.split(".")[0] == "receiptcore"}


@pytest.mark.parametrize("path", sorted(EXAMPLE.rglob("*.py")), ids=lambda p: str(p.relative_to(EXAMPLE)))
def test_the_example_plugin_imports_only_receiptcore_plugins(path: Path) -> None:
    assert _receiptcore_imports(path) <= {"receiptcore.plugins"}
