"""Validation of an LLM's answer, which is untrusted input exactly like an upload.

It may be truncated, of the wrong types, hostile (a receipt can carry printed instructions), or enormous.
``parse_model_output`` keeps every field that passes the domain model's own validation, drops the rest with an
``llm_output_sanitised`` warning (which sends the receipt to review), and raises only ``ExtractionFailed``.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ValidationError

from receiptcore.domain.receipt import (
    ExtractedReceipt,
    FieldSource,
    LineItem,
    Merchant,
    Payment,
    ReceiptData,
    ReceiptWarning,
    TaxLine,
)
from receiptcore.errors import ExtractionFailed

log = logging.getLogger(__name__)

#: Largest model answer we look at (serialised characters); anything bigger is not a receipt.
MAX_OUTPUT_CHARS = 1_000_000
#: Deepest JSON nesting we walk; the receipt schema is four levels deep.
MAX_DEPTH = 8
RAW_TEXT_LIMIT = 200_000

_THINKING = re.compile(r"^\s*<think>.*?</think>", flags=re.DOTALL)
_FIELD_PATH = re.compile(r"^[a-z_]{1,32}(\.[a-z0-9_]{1,32}){0,3}$")
_LIST_ITEM_MODELS: dict[str, tuple[type[BaseModel], int]] = {
    "line_items": (LineItem, 2000),
    "taxes": (TaxLine, 50),
    "payments": (Payment, 20),
}


def _plain(value: Any, depth: int = 0) -> Any:
    """JSON-ish value → plain Python with floats as decimal strings (no binary rounding of money)."""
    if depth > MAX_DEPTH:
        raise ExtractionFailed("model output is nested too deeply")
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float | Decimal):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, depth + 1) for item in value]
    return None


def _valid_field(name: str, value: Any) -> tuple[Any, list[str]]:
    """Validate one ``ReceiptData`` field; salvage list elements and merchant sub-fields one by one.

    Returns the value to keep (``None`` when nothing survives) and the dotted paths that were dropped.
    """
    try:
        ReceiptData.model_validate({name: value})
    except ValidationError:
        pass
    else:
        return value, []
    item_spec = _LIST_ITEM_MODELS.get(name)
    if item_spec is not None and isinstance(value, list):
        item_model, limit = item_spec
        kept, dropped = [], []
        for index, item in enumerate(value[:limit]):
            try:
                kept.append(item_model.model_validate(item).model_dump(mode="json"))
            except ValidationError:
                dropped.append(f"{name}.{index}")
        if len(value) > limit:
            dropped.append(f"{name}.{limit}-{len(value) - 1}")
        return kept, dropped
    if name == "merchant" and isinstance(value, Mapping):
        kept_merchant, dropped = {}, []
        for key, sub in value.items():
            try:
                Merchant.model_validate({key: sub})
                kept_merchant[key] = sub
            except ValidationError:
                dropped.append(f"merchant.{key}"[:64])
        return kept_merchant, dropped
    return None, [name]


def _sane_quantities(items: list[Any]) -> tuple[list[Any], list[str]]:
    """A negative or zero quantity is only believable on a returned item (negative line amount)."""
    dropped = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        try:
            quantity = Decimal(str(item.get("quantity")))
            amount = Decimal(str(item.get("amount"))) if item.get("amount") is not None else None
        except (InvalidOperation, ValueError):
            continue
        if quantity <= 0 and not (quantity < 0 and amount is not None and amount < 0):
            item["quantity"] = None
            dropped.append(f"line_items.{index}.quantity")
    return items, dropped


def _confidences(value: Any) -> dict[str, FieldSource]:
    if not isinstance(value, Mapping):
        return {}
    result: dict[str, FieldSource] = {}
    for key, score in list(value.items())[:500]:
        if not isinstance(key, str) or not _FIELD_PATH.match(key) or isinstance(score, bool):
            continue
        try:
            number = float(score)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            result[key] = FieldSource(confidence=min(1.0, max(0.0, number)))
    return result


def parse_model_output(payload: object, *, pages: int = 1) -> ExtractedReceipt:
    """Turn a model's structured answer (already parsed from JSON) into a validated ``ExtractedReceipt``.

    Unknown keys are ignored (and logged); a field that fails validation is dropped (list elements and merchant
    sub-fields one by one) and named in an ``llm_output_sanitised`` warning, which sends the receipt to review.

    Args:
        payload: the object the model produced (tool input or parsed JSON content).
        pages: how many pages were sent to the model.

    Raises:
        ExtractionFailed: the answer is not an object, is too large or too deep, or nothing usable survives.
    """
    if not isinstance(payload, Mapping):
        raise ExtractionFailed(f"model answered with a {type(payload).__name__}, not a JSON object")
    try:
        size = len(json.dumps(payload, default=str))
    except (TypeError, ValueError, RecursionError) as exc:
        raise ExtractionFailed("model output is not serialisable JSON") from exc
    if size > MAX_OUTPUT_CHARS:
        raise ExtractionFailed(f"model output of {size} characters is too large to be a receipt")
    plain = _plain(payload)
    data: dict[str, Any] = {}
    dropped: list[str] = []
    for name in ReceiptData.model_fields:
        if name in plain and plain[name] is not None:
            value, lost = _valid_field(name, plain[name])
            dropped += lost
            if value is not None:
                data[name] = value
    if "line_items" in data:
        data["line_items"], lost = _sane_quantities(data["line_items"])
        dropped += lost
    raw_text = plain.get("raw_text")
    unknown = sorted(set(plain) - set(ReceiptData.model_fields) - {"raw_text", "confidence"})
    warnings = []
    if dropped:
        warnings.append(
            ReceiptWarning(
                code="llm_output_sanitised",
                detail=f"dropped {len(dropped)} value(s) that failed validation",
                fields=[path[:64] for path in dropped[:32]],
            )
        )
    if unknown:
        # extra keys lose nothing the receipt needs, so they are logged rather than sending it to review
        log.info("LLM answer had unknown keys, ignored: %s", ", ".join(key[:40] for key in unknown[:10]))
    try:
        return ExtractedReceipt(
            **ReceiptData.model_validate(data).model_dump(),
            provenance=_confidences(plain.get("confidence")),
            raw_text=raw_text[:RAW_TEXT_LIMIT] if isinstance(raw_text, str) else "",
            warnings=warnings,
            pages=max(0, pages),
        )
    except ValidationError as exc:
        # every field was validated on its own; a failure here means fields contradict each other
        raise ExtractionFailed(f"model output failed validation: {exc.error_count()} error(s)") from exc


def parse_model_json(text: str, *, pages: int = 1) -> ExtractedReceipt:
    """Parse a model's JSON text answer and validate it like ``parse_model_output``.

    Local models often wrap the object: a reasoning block (``<think>…</think>``) before it, ``` fences or a
    sentence around it. Those are tolerated: the text from the first ``{`` to the last ``}`` is tried too.

    Raises:
        ExtractionFailed: the text is not JSON, is too large, or fails validation.
    """
    if len(text) > MAX_OUTPUT_CHARS:
        raise ExtractionFailed(f"model output of {len(text)} characters is too large to be a receipt")
    stripped = _THINKING.sub("", text).strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", stripped, flags=re.DOTALL)
    if fenced:
        stripped = fenced.group(1)
    candidates = [stripped]
    first, last = stripped.find("{"), stripped.rfind("}")
    if -1 < first < last and (first, last) != (0, len(stripped) - 1):
        candidates.append(stripped[first : last + 1])
    for candidate in candidates:
        try:
            payload = json.loads(candidate, parse_float=Decimal)
        except (ValueError, RecursionError):
            continue
        return parse_model_output(payload, pages=pages)
    raise ExtractionFailed("model output is not valid JSON")
