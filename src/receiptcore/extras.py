"""Checking an optional extra (pyproject `[project.optional-dependencies]`) before anything is done with it.

A command must find out that an extra is missing *before* it touches data (creates a data dir, a first admin, a
receipt row), and say so in one line naming the extra to install. ``require_extra`` asks the import system
whether the extra's modules can be found, without importing them (importing OCR or the web server costs
seconds), so it is cheap enough to call first thing.
"""

from __future__ import annotations

import importlib.util

from receiptcore.errors import ConfigurationError

# What each optional extra of pyproject.toml brings, by the top-level modules its code imports.
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "server": ("litestar", "uvicorn"),
    "ocr": ("rapidocr", "onnxruntime", "numpy"),
    "postgres": ("asyncpg",),
    "mongo": ("pymongo",),
    "redis": ("redis",),
    "anthropic": ("anthropic",),
}


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (empty when the extra is installed)."""
    missing = []
    for module in EXTRA_MODULES[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a finder that refuses the name, or a broken half-imported module
            found = False
        if not found:
            missing.append(module)
    return missing


def require_extra(extra: str, purpose: str) -> None:
    """Raise ConfigurationError (one line: what needs it, the pip command) unless ``extra`` is installed.

    Args:
        extra: a key of ``EXTRA_MODULES`` (an optional extra of the distribution).
        purpose: what needs it, as the start of the sentence ("the ocr extractor", "the HTTP server").
    """
    missing = missing_modules(extra)
    if missing:
        raise ConfigurationError(
            f"{purpose} needs the '{extra}' extra: pip install 'receiptcore[{extra}]' (missing: {', '.join(missing)})"
        )
