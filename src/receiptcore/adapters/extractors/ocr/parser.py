"""From layout rows to an ``ExtractedReceipt``: the field parsers put together, with provenance per field.

Pure (no OCR, no I/O), so it can be tested on text rows and reused on PDF text layers.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from receiptcore.adapters.extractors.ocr.confidence import headline_evidence, level
from receiptcore.adapters.extractors.ocr.currency import detect_currency
from receiptcore.adapters.extractors.ocr.date_order import month_first_order
from receiptcore.adapters.extractors.ocr.dates import find_dates, find_time
from receiptcore.adapters.extractors.ocr.header import Header, parse_header
from receiptcore.adapters.extractors.ocr.items import items_start, parse_items
from receiptcore.adapters.extractors.ocr.labels import Kind, classify_words
from receiptcore.adapters.extractors.ocr.text import compact, has_any
from receiptcore.adapters.extractors.ocr.totals import MoneyRow, Summary, money_rows, parse_summary
from receiptcore.adapters.extractors.ocr.types import Line, Word
from receiptcore.domain.receipt import ExtractedReceipt, FieldSource, Merchant, Payment, PaymentMethod, TaxLine

_DATE_LABEL = ("DATE", "TARIKH", "DATUM", "FECHA", "DATED", "TANGGAL", "TGL")
# dates a receipt prints that are not the purchase: expiry, returns/exchange deadlines, survey and offer ends (also
# "valid until" in Dutch, German (compacted "Gültig" loses its Ü: GLTIG), French, Italian, Spanish)
_NOT_PURCHASE_DATE = ("EXP", "VALID", "BEST", "BEFORE", "BIRTH", "DOB", "USEBY", "EXPIRY", "DUEDATE", "PRINTED",
                      "RETURN", "REFUND", "EXCHANGE", "UNTIL", "SURVEY", "THRU", "OFFEREND", "GELDIG",
                      "GULTIG", "GLTIG", "GUELTIG", "ABLAUF", "VALABLE", "SCADENZA", "VENCIMIENTO")  # fmt: skip
_RECEIPT_NO = re.compile(
    r"\b(?:INVOICE|INV|RECEIPT|RCPT|BILL|CHECK|CHK|TRANS(?:ACTION)?|TRX|DOC(?:UMENT)?|ORDER|TICKET|SLIP|REF|CB)"
    r"\s*(?:NO|NUMBER|NUM|#)?\.?\s*[:#]?\s*([A-Z0-9][A-Z0-9\-/_]{2,30})",
    re.IGNORECASE,
)
_METHODS = (
    (PaymentMethod.CASH, ("CASH", "TUNAI")),
    (PaymentMethod.MOBILE, ("BOOST", "GRABPAY", "TNG", "ALIPAY", "WECHAT", "APPLEPAY", "GOOGLEPAY", "TOUCHNGO")),
    (PaymentMethod.VOUCHER, ("VOUCHER", "GIFT")),
    (PaymentMethod.CARD, ("VISA", "MASTER", "CARD", "AMEX", "DEBIT", "CREDIT", "EFTPOS", "EFT", "NETS", "MAYBANK",
                          "CIMB", "DISCOVER", "JCB", "UNIONPAY", "MCARD")),
)  # fmt: skip


def _source(lines: list[Line] | Line, confidence: float, text: str | None = None) -> FieldSource:
    rows = lines if isinstance(lines, list) else [lines]
    words: list[Word] = [w for row in rows for w in row.words]
    box = [
        int(min(w.box[0] for w in words)),
        int(min(w.box[1] for w in words)),
        int(max(w.box[2] for w in words)),
        int(max(w.box[3] for w in words)),
    ]
    score = min(row.score for row in rows)
    return FieldSource(
        confidence=round(max(0.0, min(1.0, confidence * (0.5 + 0.5 * score))), 3),
        text=(text or " / ".join(row.text for row in rows))[:5000],
        page=rows[0].page,
        box=box,
    )


def _pick_date(lines: list[Line], us_order: bool) -> tuple[dt.date, Line, float] | None:
    best: tuple[float, dt.date, Line] | None = None
    for line in lines:
        matches = find_dates(line.text, month_first=us_order)
        if not matches:
            continue
        c = compact(line.text)
        score = 1.0 - 0.01 * line.index
        if has_any(c, _DATE_LABEL):
            score += 2.0
        if find_time(_blank(line.text, matches)):
            score += 1.0
        if has_any(c, _NOT_PURCHASE_DATE):
            score -= 3.0
        if best is None or score > best[0]:
            best = (score, matches[0].value, line)
    if best is None:
        return None
    return best[1], best[2], min(1.0, 0.5 + 0.15 * best[0])


def _blank(text: str, matches: list) -> str:  # type: ignore[type-arg]
    for m in matches:
        text = text[: m.start] + " " * (m.end - m.start) + text[m.end :]
    return text


def _pick_time(lines: list[Line], date_line: Line | None) -> tuple[dt.time, Line] | None:
    ordered = ([date_line] if date_line else []) + [line for line in lines if line is not date_line]
    for line in ordered:
        found = find_time(_blank(line.text, find_dates(line.text)))
        if found:
            return found[0], line
    return None


def _receipt_number(lines: list[Line]) -> tuple[str, Line] | None:
    for line in lines[:40]:
        m = _RECEIPT_NO.search(line.text)
        if m and any(ch.isdigit() for ch in m.group(1)):
            return m.group(1), line
    return None


def _method(text: str) -> PaymentMethod:
    c = compact(text)
    for method, keywords in _METHODS:
        if has_any(c, keywords):
            return method
    return PaymentMethod.OTHER


def _payments(summary: Summary) -> list[Payment]:
    payments: list[Payment] = []
    for row in summary.tendered[:5]:
        method = _method(row.line.text)
        last4 = summary.card_last4 if method == PaymentMethod.CARD else None
        payments.append(Payment(method=method, amount=row.value, card_last4=last4))
    return payments


def _summary_start(rows: list[MoneyRow]) -> int | None:
    # whole-word keywords only: "BEEF TENDERLOIN" or "LEFTY'S MIX" is an item, not where the items end
    rows = [r for r in rows if r.kind == classify_words(r.line.text)]
    totals = [r.line.index for r in rows if r.kind in (Kind.SUBTOTAL, Kind.TOTAL)]
    # payment comes after the total: a "tender" word above the last total is an item's ("YEEZY BOOST 350")
    paid = [
        r.line.index for r in rows if r.kind in (Kind.TENDERED, Kind.CHANGE) and r.line.index > max(totals, default=-1)
    ]
    return min(totals + paid, default=None)


def _merchant(header: Header, provenance: dict[str, FieldSource]) -> Merchant:
    for key, value, rows, confidence in (
        ("merchant.name", header.name, header.name_lines, 0.7),
        ("merchant.address", header.address, header.address_lines, 0.6),
        ("merchant.phone", header.phone, [header.phone_line] if header.phone_line else [], 0.8),
        ("merchant.tax_id", header.tax_id, [header.tax_id_line] if header.tax_id_line else [], 0.8),
    ):
        if value and rows:
            provenance[key] = _source(rows, confidence)
    return Merchant(name=header.name, address=header.address, phone=header.phone, tax_id=header.tax_id)


def _money(summary: Summary, data: dict[str, object], provenance: dict[str, FieldSource]) -> list[TaxLine]:
    """Put the summary's amounts into ``data`` (with provenance) and return the tax lines."""
    for name, row in (
        ("total", summary.total),
        ("subtotal", summary.subtotal),
        ("tip", summary.tip),
        ("discount", summary.discount),
        ("service_charge", summary.service),
        ("rounding", summary.rounding),
    ):
        if row is not None:
            data[name] = abs(row.value) if name == "discount" else row.value
            confidence = summary.total_confidence if name == "total" else 0.6
            rows = [row.line] if row.value_line is row.line else [row.line, row.value_line]
            provenance[name] = _source(rows, confidence)
    for index, (row, _, _) in enumerate(summary.taxes):
        provenance[f"taxes.{index}"] = _source(row.line, 0.5)
    return [
        TaxLine(label=row.line.text[:64], rate=rate, base=base, amount=row.value) for row, rate, base in summary.taxes
    ]


def _when(
    lines: list[Line], us_order: bool, data: dict[str, object], provenance: dict[str, FieldSource]
) -> Line | None:
    """Purchase date and time into ``data`` (with provenance); the row the date was read from."""
    picked = _pick_date(lines, us_order)
    date_line = None
    if picked:
        data["purchase_date"], date_line, confidence = picked
        provenance["purchase_date"] = _source(date_line, confidence)
    timed = _pick_time(lines, date_line)
    if timed:
        data["purchase_time"] = timed[0]
        provenance["purchase_time"] = _source(timed[1], 0.7)
    return date_line


def parse_lines(lines: list[Line], pages: int = 1) -> ExtractedReceipt:
    """Build the receipt from rows in reading order."""
    raw_text = "\n".join(line.text for line in lines)
    currency, currency_confidence = detect_currency(raw_text)
    provenance: dict[str, FieldSource] = {}
    header = parse_header(lines)
    merchant = _merchant(header, provenance)

    start = items_start(lines, header.end)
    stop = _summary_start(money_rows(lines, start)) or len(lines)
    items = parse_items(lines, start, stop)
    amounts = [item.amount for item, _ in items if item.amount is not None]
    items_sum = sum(amounts, Decimal(0)) if items else None
    summary = parse_summary(lines, header.end, items_sum)
    for index, (_, sources) in enumerate(items):
        provenance[f"line_items.{index}"] = _source(sources, 0.5)

    data: dict[str, object] = {}
    us_order = month_first_order(lines, currency)
    date_line = _when(lines, us_order, data, provenance)
    number = _receipt_number(lines)
    if number:
        data["receipt_number"] = number[0]
        provenance["receipt_number"] = _source(number[1], 0.5)
    if currency:
        data["currency"] = currency
        provenance["currency"] = FieldSource(confidence=currency_confidence)
    taxes = _money(summary, data, provenance)
    evidence = headline_evidence(
        lines, header, summary=summary, items_sum=items_sum, date_line=date_line, month_first=us_order
    )
    for path, (found, weakest_word) in evidence.items():
        if path in provenance:
            provenance[path] = provenance[path].model_copy(update={"confidence": level(path, found, weakest_word)})
    return ExtractedReceipt(
        merchant=merchant,
        line_items=[item for item, _ in items],
        taxes=taxes,
        payments=_payments(summary),
        provenance=provenance,
        raw_text=raw_text[:200_000],
        pages=pages,
        **data,
    )
