"""The key of the API's list items (``representation.ApiListing``) names the code that renders them."""

from __future__ import annotations

import types
from typing import Any

import pytest

from receiptcore.entrypoints.http import representation
from receiptcore.entrypoints.http.representation import ApiListing


def test_the_key_is_the_same_for_the_same_code() -> None:
    assert ApiListing().key == ApiListing().key == representation.API_LISTING.key


def test_a_change_to_the_code_that_renders_changes_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    original = representation._code_of

    def changed(module: Any) -> bytes:
        code = original(module)
        return code + b"\n# edited" if module.__name__.endswith("receipt_values") else code

    monkeypatch.setattr(representation, "_code_of", changed)
    assert ApiListing().key != representation.API_LISTING.key


def test_a_module_installed_without_its_source_is_named_by_the_package_version() -> None:
    module = types.ModuleType("receiptcore.somewhere")
    module.__file__ = None
    assert representation._code_of(module).startswith(b"receiptcore.somewhere==")
