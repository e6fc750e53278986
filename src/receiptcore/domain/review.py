"""The review decision: which extracted receipts a person must look at, and why. Every threshold is here.

A receipt goes to review (status ``needs_review``) when a *blocking* warning remains after the rules below. The
headline fields people rely on without checking are the merchant, the purchase date and the total; a warning
blocks when it says one of them may be wrong. The measured effect of each warning on those fields is what
``receiptcore eval`` reports (review share, auto-accept precision, catch rate, and per warning the receipts it
sends alone, right and wrong): change a rule here only with those figures from both development sets
(docs/extractors.md, "Review decision").

Rules, in order:

1. Informational codes never block (``INFORMATIONAL_CODES``): a line total after a line discount legitimately
   differs from quantity x unit price, tendered cash is often printed wrong or not at all, and a currency the
   install assumed is shown as such without asking a person.
2. Arithmetic that does not add up (``line_items_mismatch``, ``total_mismatch``, ``tax_mismatch``) does not block
   when the extractor read the total with a confidence at or above ``LOW_CONFIDENCE_THRESHOLD`` and the source text
   of that confidence shows the current total: items, subtotal and tax lines are no headline fields, and their
   agreement is among the cues a calibrated total confidence already weighs (measured: of 25 totals read
   confidently beside a ``total_mismatch`` on the development sets, all were right).
3. Arithmetic that does not add up around a *corroborated* total does not block (``EXCUSED_BY_CORROBORATED_TOTAL``):
   when the subtotal with the taxes (and tip, charges, discount, rounding) gives the total, or a payment line pays
   exactly the total, a line-item sum that is off, a subtotal chain that is off (then the payment vouches for the
   total) or a tax line whose rate x base is off says a line *other* than the total was misread.
4. A receipt that prints no currency takes its owner's or the install's default currency when one is set
   (``RECEIPTCORE_DEFAULT_CURRENCY``), marked ``currency_assumed``; without a default it is ``currency_unknown``.
5. ``low_confidence`` comes from the extractor's own per-field confidence on the headline fields, below
   ``LOW_CONFIDENCE_THRESHOLD``. The ``ocr`` extractor's confidence is calibrated: it is the share of readings
   with the same number of confirming cues that were right on the main development set, so the threshold reads
   as "auto-accept a field only when readings like it were right at least this often".
6. Every other code, including codes an extractor invents, blocks.

Pure: no I/O, Decimal only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from receiptcore.domain.consistency import (
    CURRENCY_ASSUMED,
    ITEM_ARITHMETIC,
    LINE_ITEMS_MISMATCH,
    LOW_CONFIDENCE,
    PAYMENT_MISMATCH,
    TAX_MISMATCH,
    TOTAL_MISMATCH,
    check_consistency,
    total_corroborated,
)
from receiptcore.domain.receipt_values import ExtractedReceipt, FieldSource, ReceiptData, ReceiptWarning

# The fields a person relies on without checking; their doubtful reading sends a receipt to review.
HEADLINE_FIELDS: tuple[str, ...] = ("total", "purchase_date", "merchant.name")

# Below this extractor confidence (0..1) a headline field is flagged ``low_confidence``.
LOW_CONFIDENCE_THRESHOLD = 0.85

# Warnings worth showing that do not make the headline figures doubtful.
INFORMATIONAL_CODES: frozenset[str] = frozenset({ITEM_ARITHMETIC, PAYMENT_MISMATCH, CURRENCY_ASSUMED})

# Arithmetic warnings that do not block when the extractor read the total confidently (rule 2).
EXCUSED_BY_CONFIDENT_TOTAL: frozenset[str] = frozenset({LINE_ITEMS_MISMATCH, TOTAL_MISMATCH, TAX_MISMATCH})

# Arithmetic warnings that do not block when the total is confirmed by the subtotal chain or a payment line.
EXCUSED_BY_CORROBORATED_TOTAL: frozenset[str] = frozenset({LINE_ITEMS_MISMATCH, TOTAL_MISMATCH, TAX_MISMATCH})


def low_confidence_warnings(
    provenance: Mapping[str, FieldSource], threshold: float | None = None
) -> list[ReceiptWarning]:
    """One ``low_confidence`` warning per headline field *read* with a confidence below the threshold
    (``LOW_CONFIDENCE_THRESHOLD`` unless ``threshold`` is given: ``receiptcore eval`` measures others). A value not
    taken as read (``FieldSource.method`` set, e.g. a merchant matched to the owner's directory) carries the score of
    that derivation instead, which its own threshold has already accepted: it is not compared with this one."""
    limit = LOW_CONFIDENCE_THRESHOLD if threshold is None else threshold
    out = []
    for path in HEADLINE_FIELDS:
        source = provenance.get(path)
        if source is not None and source.method is None and source.confidence < limit:
            out.append(
                ReceiptWarning(
                    code=LOW_CONFIDENCE,
                    detail=f"{path.replace('.', ' ')} read with confidence {source.confidence:.2f}",
                    fields=[path],
                )
            )
    return out


def assume_currency(output: ExtractedReceipt, default: str | None) -> ExtractedReceipt:
    """``output`` with the install's default currency filled in (and marked ``currency_assumed``) when the receipt
    prints none; unchanged when it has one or no default is set."""
    if output.currency is not None or default is None:
        return output
    note = ReceiptWarning(
        code=CURRENCY_ASSUMED,
        detail=f"no currency is printed; {default} was assumed (the default currency)",
        fields=["currency"],
    )
    return output.model_validate({**output.model_dump(), "currency": default, "warnings": [*output.warnings, note]})


def review_warnings(output: ExtractedReceipt, threshold: float | None = None) -> list[ReceiptWarning]:
    """Everything worth telling a person about an extractor's output: its own warnings, the consistency check
    and low-confidence headline fields (below ``threshold``, default ``LOW_CONFIDENCE_THRESHOLD``), without
    repeats (same code on the same fields)."""
    low = low_confidence_warnings(output.provenance, threshold)
    return unique([*output.warnings, *check_consistency(output.data()), *low])


def confident_total(
    provenance: Mapping[str, FieldSource] | None, total: Decimal | None = None, threshold: float | None = None
) -> bool:
    """Whether the extractor read the total with a stated confidence at or above ``threshold`` (default
    ``LOW_CONFIDENCE_THRESHOLD``). With
    ``total`` (the receipt's total now), also that the source text the confidence speaks of (when the extractor
    states one) shows that amount: a total a person has corrected since, or one derived from other rows (cash
    minus change), is not the reading the confidence was measured on."""
    source = (provenance or {}).get("total")
    if source is None or source.confidence < (LOW_CONFIDENCE_THRESHOLD if threshold is None else threshold):
        return False
    return total is None or source.text is None or _shows(source.text, total)


def _shows(text: str | None, amount: Decimal) -> bool:
    """Whether ``text`` prints ``amount`` (its digits in a row, whatever the separators: ``1.108,00``, ``$52.15``)."""
    wanted = "".join(c for c in f"{abs(amount):f}" if c.isdigit()).lstrip("0") or "0"
    return wanted in "".join(c for c in (text or "") if c.isdigit())


def blocking(
    warnings: Iterable[ReceiptWarning],
    data: ReceiptData,
    provenance: Mapping[str, FieldSource] | None = None,
    threshold: float | None = None,
) -> list[ReceiptWarning]:
    """The warnings that send the receipt to a person, after the rules of this module (``provenance``: the
    extractor's per-field confidences, when there are any; ``threshold``: the confidence a total needs to excuse
    arithmetic, default ``LOW_CONFIDENCE_THRESHOLD``, the one ``review_warnings`` compared the fields with)."""
    corroborated: bool | None = None
    out = []
    for warning in warnings:
        if warning.code in INFORMATIONAL_CODES:
            continue
        if warning.code in EXCUSED_BY_CONFIDENT_TOTAL and confident_total(provenance, data.total, threshold):
            continue
        if warning.code in EXCUSED_BY_CORROBORATED_TOTAL:
            if corroborated is None:
                corroborated = total_corroborated(data)
            if corroborated:
                continue
        out.append(warning)
    return out


def needs_review(
    warnings: Iterable[ReceiptWarning], data: ReceiptData, provenance: Mapping[str, FieldSource] | None = None
) -> bool:
    """Whether ``warnings`` on a receipt holding ``data`` (read with ``provenance``) send it to a person (status
    ``needs_review``)."""
    return bool(blocking(warnings, data, provenance))


def unique(warnings: Iterable[ReceiptWarning]) -> list[ReceiptWarning]:
    """``warnings`` without repeats of the same code on the same fields, in their first order."""
    seen: set[tuple[str, tuple[str, ...]]] = set()
    out = []
    for warning in warnings:
        key = (warning.code, tuple(warning.fields))
        if key not in seen:
            seen.add(key)
            out.append(warning)
    return out
