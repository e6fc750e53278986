"""Extractor plugins: found by name in the entry-point group ``receiptcore.extractors``."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from receiptcore.errors import ConfigurationError
from receiptcore.ports import Extractor

GROUP = "receiptcore.extractors"


@dataclass(frozen=True, slots=True)
class ExtractorInfo:
    """An installed extractor plugin: entry-point name, its distribution's version and the distribution name."""

    name: str
    version: str
    distribution: str


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available_extractors() -> list[ExtractorInfo]:
    """Every installed extractor plugin, sorted by name, without importing any of them."""
    infos: list[ExtractorInfo] = []
    for name, ep in sorted(_entry_points().items()):
        dist = ep.dist
        infos.append(
            ExtractorInfo(
                name=name,
                version=dist.version if dist is not None else "unknown",
                distribution=dist.metadata["Name"] if dist is not None else "unknown",
            )
        )
    return infos


def _accepts(factory: Any, name: str) -> bool:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # builtins and some C extensions have no signature
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def load_extractor(name: str, settings: Any = None, shared_ledger: Any = None) -> Extractor:
    """Build the extractor registered under ``name``. Its factory gets ``settings`` when it accepts it, and
    ``shared_ledger`` (the LLM spend ledger every host shares, when PostgreSQL is configured) when one is given
    and the factory takes it.

    A TypeError raised inside the factory is a bug in the plugin and propagates unchanged (whether the factory
    takes ``settings`` is decided from its signature, not by catching errors).

    Raises ConfigurationError naming the installed extractors when ``name`` is unknown.
    """
    found = _entry_points()
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise ConfigurationError(f"unknown extractor {name!r}; installed extractors: {known}")
    factory = found[name].load()
    kwargs: dict[str, Any] = {"settings": settings} if _accepts(factory, "settings") else {}
    if shared_ledger is not None and _accepts(factory, "shared_ledger"):
        kwargs["shared_ledger"] = shared_ledger
    extractor = factory(**kwargs)
    if not isinstance(extractor, Extractor):
        raise ConfigurationError(f"extractor {name!r} does not implement the Extractor port")
    return extractor
