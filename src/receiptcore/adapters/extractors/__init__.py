"""Extractor plugins: found by name in the entry-point group ``receiptcore.extractors``."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from receiptcore.errors import ConfigurationError
from receiptcore.ports import Extractor

GROUP = "receiptcore.extractors"


def load_extractor(name: str, settings: Any = None) -> Extractor:
    """Build the extractor registered under ``name``. Its factory gets ``settings`` when it accepts it.

    Raises ConfigurationError naming the installed extractors when ``name`` is unknown.
    """
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise ConfigurationError(f"unknown extractor {name!r}; installed extractors: {known}")
    factory = found[name].load()
    try:
        extractor = factory(settings=settings)
    except TypeError:
        extractor = factory()
    if not isinstance(extractor, Extractor):
        raise ConfigurationError(f"extractor {name!r} does not implement the Extractor port")
    return extractor
