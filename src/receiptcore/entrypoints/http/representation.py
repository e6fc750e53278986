"""The API representation of a receipt (the JSON shape of ``receipt-example.json``).

One function, shared by the HTTP handlers, the JSON export and the CLI, so every surface shows the same shape:
money as decimal strings, provenance beside the values, a summary of the latest extraction attempt (with the raw
text), corrections with ``from``/``to`` keys, and no worker lease fields.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import sys
from pathlib import Path
from typing import Any

import msgspec

from receiptcore.domain import lifecycle, receipt_values
from receiptcore.domain import receipt as receipt_model
from receiptcore.domain.receipt import Correction, ExtractionAttempt, Receipt, ReceiptData

# The correctable fields, in the order the example document shows them.
_DATA_FIELDS: tuple[str, ...] = tuple(ReceiptData.model_fields)
# The only fields dumped through pydantic: dumping the whole receipt would also serialise every extraction
# attempt's output and the extracted copy, which the representation never shows (most of a list page's cost).
_DUMPED: set[str] = {"source", "warnings", "provenance", "corrections", *_DATA_FIELDS}


def attempt_to_api(attempt: ExtractionAttempt, *, include_output: bool = False) -> dict[str, Any]:
    """One extraction attempt as JSON; ``include_output`` adds the extractor's full (validated) output."""
    out: dict[str, Any] = {
        "attempt": attempt.attempt,
        "extractor": attempt.extractor,
        "extractor_version": attempt.extractor_version,
        "started_at": _iso(attempt.started_at),
        "finished_at": _iso(attempt.finished_at) if attempt.finished_at else None,
        "duration_ms": attempt.duration_ms,
        "outcome": attempt.outcome,
        "error": attempt.error,
    }
    if include_output:
        out["output"] = attempt.output.model_dump(mode="json") if attempt.output is not None else None
    return out


def receipt_to_api(receipt: Receipt) -> dict[str, Any]:
    """The receipt as the API shows it (see ``receipt-example.json``).

    Args:
        receipt: the stored aggregate.

    Returns:
        A JSON-able dict: identity, status, version, timestamps, source, every ReceiptData field (money as
        decimal strings), category, tags, notes, warnings, provenance, ``extraction`` (latest attempt summary with
        the raw text, or None), ``extraction_attempts`` (count), corrections, ``possible_duplicate_of``.
    """
    dumped = receipt.model_dump(mode="json", by_alias=True, include=_DUMPED)
    out: dict[str, Any] = {
        "id": receipt.id,
        "owner_id": receipt.owner_id,
        "status": receipt.status.value,
        "version": receipt.version,
        "created_at": _iso(receipt.created_at),
        "updated_at": _iso(receipt.updated_at),
        "source": dumped["source"],
    }
    for name in _DATA_FIELDS:
        out[name] = dumped[name]
    out["category"] = receipt.category
    out["tags"] = list(receipt.tags)
    out["notes"] = receipt.notes
    out["warnings"] = dumped["warnings"]
    out["provenance"] = dumped["provenance"]
    latest = receipt.latest_attempt
    extraction: dict[str, Any] | None = None
    if latest is not None:
        extraction = attempt_to_api(latest)
        extraction["raw_text"] = receipt.raw_text
    out["extraction"] = extraction
    out["extraction_attempts"] = len(receipt.extraction_attempts)
    out["corrections"] = dumped["corrections"]
    out["possible_duplicate_of"] = receipt.possible_duplicate_of
    return out


def _iso(value: dt.datetime) -> str:
    """ISO 8601 with a ``Z`` for UTC (what the example shows)."""
    text = value.isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


class ApiListing:
    """The list item of the API (``receipt_to_api`` encoded as Litestar encodes it), as a ``ListingProjection``:
    the SQLite store renders it when a receipt is written and a page joins the stored bytes.

    ``key`` is a digest of what the bytes depend on: this module, the receipt models' modules and the versions of
    the libraries that dump and encode them, so any change to the representation's code makes every stored
    rendering stale (the store then renders those rows again when it reads them) without anyone having to
    remember a version number.
    """

    def __init__(self) -> None:
        digest = hashlib.sha256(b"api-listing-1")
        for module in (sys.modules[__name__], receipt_model, receipt_values, lifecycle):
            digest.update(_code_of(module))
        for dist in ("pydantic", "pydantic_core", "msgspec"):
            digest.update(f"{dist}={importlib.metadata.version(dist)}".encode())
        self._key = f"api-{digest.hexdigest()[:20]}"

    @property
    def key(self) -> str:
        """The rendering's name and version (see the class docstring)."""
        return self._key

    def render(self, receipt: Receipt) -> bytes:
        """``receipt_to_api(receipt)`` as JSON bytes."""
        return _encode(receipt_to_api(receipt))


def _code_of(module: Any) -> bytes:
    """The module's source file, or (installed without sources) its name and the package version."""
    try:
        return Path(str(module.__file__)).read_bytes()
    except OSError:
        return f"{module.__name__}=={importlib.metadata.version('receiptcore')}".encode()


_encode = msgspec.json.Encoder().encode
API_LISTING = ApiListing()
"""The one projection the app renders list pages with and the container gives the SQLite store."""


def list_page_json(items: list[bytes], next_cursor: str | None) -> bytes:
    """The body of a list page (``{"items": [...], "next_cursor": ...}``) from rendered items: the bytes Litestar
    writes for the same dict of ``receipt_to_api`` items."""
    return b'{"items":[' + b",".join(items) + b'],"next_cursor":' + _encode(next_cursor) + b"}"


def dumped_receipt_to_api(dumped: dict[str, Any]) -> dict[str, Any]:
    """``receipt_to_api`` of the receipt whose JSON-mode dump is ``dumped`` (``Receipt.model_dump(mode="json")``,
    or the parsed ``model_dump_json()`` a store keeps), without building the receipt: the same dict, key for key.

    For the one-receipt read of a store that keeps that dump (``ports.DumpedReceiptReader``): building the pydantic
    receipt and dumping it again cost ~70 µs of a ~230 µs request, to turn JSON into the same JSON.
    ``tests/unit/test_dumped_representation.py`` checks the equality on generated receipts.
    """
    latest = dumped["extraction_attempts"][-1] if dumped["extraction_attempts"] else None
    out: dict[str, Any] = {
        "id": dumped["id"],
        "owner_id": dumped["owner_id"],
        "status": dumped["status"],
        "version": dumped["version"],
        "created_at": _iso_text(dumped["created_at"]),
        "updated_at": _iso_text(dumped["updated_at"]),
        "source": dumped["source"],
    }
    for name in _DATA_FIELDS:
        out[name] = dumped[name]
    out["category"] = dumped["category"]
    out["tags"] = list(dumped["tags"])
    out["notes"] = dumped["notes"]
    out["warnings"] = dumped["warnings"]
    out["provenance"] = dumped["provenance"]
    extraction: dict[str, Any] | None = None
    if latest is not None:
        extraction = {
            "attempt": latest["attempt"],
            "extractor": latest["extractor"],
            "extractor_version": latest["extractor_version"],
            "started_at": _iso_text(latest["started_at"]),
            "finished_at": _iso_text(latest["finished_at"]) if latest["finished_at"] else None,
            "duration_ms": latest["duration_ms"],
            "outcome": latest["outcome"],
            "error": latest["error"],
            "raw_text": dumped["raw_text"],
        }
    out["extraction"] = extraction
    out["extraction_attempts"] = len(dumped["extraction_attempts"])
    # by alias, as receipt_to_api dumps them: a correction's from_value / to_value are "from" / "to"
    out["corrections"] = [_correction_by_alias(correction) for correction in dumped["corrections"]]
    out["possible_duplicate_of"] = dumped["possible_duplicate_of"]
    return out


def _correction_by_alias(correction: dict[str, Any]) -> dict[str, Any]:
    return {_CORRECTION_ALIASES.get(key, key): value for key, value in correction.items()}


_CORRECTION_ALIASES = {
    name: field.alias
    for name, field in Correction.model_fields.items()
    if field.alias is not None and field.alias != name
}


def _iso_text(value: str) -> str:
    """``_iso`` of the datetime whose JSON form (pydantic's) is ``value``: for UTC, pydantic writes exactly what
    ``_iso`` writes (``2026-03-01T12:00:00Z``, six digits of microseconds when there are any), so only other
    offsets are parsed and written again."""
    if value.endswith("Z"):
        return value
    return _iso(dt.datetime.fromisoformat(value))
