"""Extractor plugins: found by name in the entry-point group ``receiptcore.extractors``."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from receiptcore.errors import ConfigurationError
from receiptcore.extractor_config import ExtractorConfig
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


def _parameters(factory: Any) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):  # builtins and some C extensions have no signature
        return []


def load_extractor(name: str, config: ExtractorConfig | None = None, **builtin: Any) -> Extractor:
    """Build the extractor registered under ``name``.

    Its factory is called with ``config=`` (an ``ExtractorConfig``, the plugin contract; ``ExtractorConfig(name)``
    when None) when its signature has a ``config`` parameter or ``**kwargs``, else with no arguments. The
    ``builtin`` keyword arguments (receiptcore's own extractors' typed configurations and the shared spend
    ledger) reach only a factory that names each of them as a parameter, never through ``**kwargs``, so a
    plugin does not receive another extractor's API key; a None value is not passed.

    A TypeError raised inside the factory is a bug in the plugin and propagates unchanged (what the factory
    takes is decided from its signature, not by catching errors).

    Raises ConfigurationError naming the installed extractors when ``name`` is unknown.
    """
    found = _entry_points()
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise ConfigurationError(f"unknown extractor {name!r}; installed extractors: {known}")
    factory = found[name].load()
    parameters = _parameters(factory)
    named = {p.name for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD}
    kwargs: dict[str, Any] = {key: value for key, value in builtin.items() if value is not None and key in named}
    if "config" in named or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        kwargs["config"] = config if config is not None else ExtractorConfig(name=name)
    extractor = factory(**kwargs)
    if not isinstance(extractor, Extractor):
        raise ConfigurationError(f"extractor {name!r} does not implement the Extractor port")
    return extractor
