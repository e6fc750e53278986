"""Applying a person's corrections to a receipt: validation, the audit trail and the re-run consistency check."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError

from receiptcore.domain.consistency import CONSISTENCY_CODES, check_consistency
from receiptcore.domain.receipt import Correction, Receipt, ReceiptData, ReceiptWarning
from receiptcore.errors import ValidationFailed

DATA_FIELDS: frozenset[str] = frozenset(ReceiptData.model_fields)
CORRECTABLE_FIELDS: frozenset[str] = DATA_FIELDS | {"category", "tags", "notes"}


def apply_changes(receipt: Receipt, changes: dict[str, Any], *, by: str, at: dt.datetime) -> Receipt:
    """Return ``receipt`` with ``changes`` applied, audited and re-checked; the same object when nothing changed.

    Raises:
        ValidationFailed: an unknown field (named in the detail), or a value the model refuses; ``extra['errors']``
            lists ``{"field", "message"}`` per problem.
    """
    if not isinstance(changes, dict) or not changes:
        raise ValidationFailed("send at least one field to change", errors=[{"field": "", "message": "empty"}])
    unknown = sorted(str(name) for name in changes if name not in CORRECTABLE_FIELDS)
    if unknown:
        raise ValidationFailed(
            f"these fields cannot be corrected: {', '.join(unknown)}",
            errors=[{"field": name, "message": "unknown or read-only field"} for name in unknown],
        )
    merged = {**receipt.model_dump(), **changes}
    if isinstance(changes.get("merchant"), dict):
        # merchant is the one nested object: a partial object changes only the keys it names
        merged["merchant"] = {**receipt.merchant.model_dump(), **changes["merchant"]}
    try:
        candidate = Receipt.model_validate(merged)
    except ValidationError as exc:
        raise ValidationFailed(
            "some values are not valid",
            errors=[
                {"field": ".".join(str(part) for part in err["loc"]), "message": err["msg"]} for err in exc.errors()
            ],
        ) from exc
    before = receipt.model_dump(mode="json", include=set(changes))
    after = candidate.model_dump(mode="json", include=set(changes))
    # compared as Python values, so 8.3 and 8.30 are the same amount; logged as JSON values
    old_values = receipt.model_dump(include=set(changes))
    new_values = candidate.model_dump(include=set(changes))
    changed = [name for name in changes if old_values[name] != new_values[name]]
    if not changed:
        return receipt
    corrections = [
        Correction(field=name, from_value=before[name], to_value=after[name], by=by, at=at) for name in changed
    ]
    warnings = _recheck(receipt.warnings, candidate.data(), set(changed))
    return receipt.corrected(candidate, corrections, warnings=warnings, at=at)


def _recheck(previous: list[ReceiptWarning], data: ReceiptData, changed: set[str]) -> list[ReceiptWarning]:
    """Fresh consistency warnings, plus earlier ones (duplicates, extractor notes) about fields nobody corrected."""

    def touched(warning: ReceiptWarning) -> bool:
        return any(path.split(".", 1)[0] in changed for path in warning.fields)

    kept = [w for w in previous if w.code not in CONSISTENCY_CODES and not touched(w)]
    return kept + check_consistency(data)
