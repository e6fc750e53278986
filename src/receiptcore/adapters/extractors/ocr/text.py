"""Small text helpers shared by the field parsers: keyword matching that survives OCR dropping spaces."""

from __future__ import annotations

import re

_NON_ALNUM = re.compile(r"[^A-Z0-9%]+")


def compact(text: str) -> str:
    """Upper-case ``text`` and drop everything but letters, digits and ``%`` ("Sub - Total" → "SUBTOTAL")."""
    return _NON_ALNUM.sub("", text.upper())


def letters(text: str) -> int:
    """How many letters ``text`` has."""
    return sum(c.isalpha() for c in text)


def digits(text: str) -> int:
    """How many digits ``text`` has."""
    return sum(c.isdigit() for c in text)


def has_any(compacted: str, keywords: tuple[str, ...]) -> bool:
    """Whether any of ``keywords`` (already compacted) occurs in ``compacted``."""
    return any(k in compacted for k in keywords)
