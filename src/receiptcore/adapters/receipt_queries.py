"""What every ReceiptStore adapter computes the same way: sort keys, opaque cursors, search text, index columns.

Sharing this keeps paging identical across adapters (a cursor means the same thing everywhere) and makes the
contract suite's "walks every item exactly once" hold for each of them.

Sort values are plain, order-preserving scalars so SQL columns and Python comparisons agree:
``created_at`` → fixed-width ISO-8601 UTC text, ``purchase_date`` → ``YYYY-MM-DD`` text, ``total`` → integer
ten-thousandths (the model allows 4 decimals). NULLs sort last in both directions.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

from receiptcore.domain.queries import ReceiptQuery, SortKey
from receiptcore.domain.receipt import Receipt
from receiptcore.errors import ConfigurationError, ValidationFailed

SortValue = str | int | None

TOTAL_SCALE = 4  # totals are stored as integer units of 10^-4
_CURSOR_VERSION = 2
_CURSOR_PERSON = b"rc-cursor-v2"
_MAC_BYTES = 12
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
CURSOR_KEY_FILE = "cursor.key"


def iso_utc(value: dt.datetime) -> str:
    """Fixed-width, lexicographically sortable UTC timestamp text (microseconds, ``Z``)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def total_units(value: Decimal | None) -> int | None:
    """``total`` as integer ten-thousandths (exact: the model allows at most 4 decimals)."""
    return None if value is None else int(value.scaleb(TOTAL_SCALE).to_integral_value())


def bound_units(value: Decimal, *, lower: bool) -> int:
    """A min/max filter bound in ten-thousandths, rounded inward so the filter stays exact."""
    return int(value.scaleb(TOTAL_SCALE).to_integral_value(rounding=ROUND_CEILING if lower else ROUND_FLOOR))


def units_to_decimal(units: int) -> Decimal:
    """Inverse of ``total_units``, normalised to at least two decimals."""
    value = Decimal(units).scaleb(-TOTAL_SCALE)
    return value.quantize(Decimal("0.01")) if value == value.quantize(Decimal("0.01")) else value.normalize()


def sort_column(sort: SortKey) -> str:
    """The field a sort key orders by (``created_at``, ``purchase_date`` or ``total``)."""
    return sort.value.lstrip("-")


def is_descending(sort: SortKey) -> bool:
    """Whether the sort key is descending."""
    return sort.value.startswith("-")


def sort_value(receipt: Receipt, sort: SortKey) -> SortValue:
    """The receipt's value for ``sort`` in the shared scalar representation."""
    column = sort_column(sort)
    if column == "created_at":
        return iso_utc(receipt.created_at)
    if column == "purchase_date":
        return receipt.purchase_date.isoformat() if receipt.purchase_date else None
    return total_units(receipt.total)


@dataclass(frozen=True, slots=True)
class CursorPosition:
    """Where the previous page ended: the sort it was issued for, the last sort value and the last id."""

    sort: SortKey
    value: SortValue
    receipt_id: str


class CursorCodec:
    """Opaque, url-safe, MAC-protected list cursors.

    The MAC key is a per-install secret (``cursor_key``): a client can neither forge a cursor nor edit one, so
    what a decoded cursor holds was written by us. It is still checked like input (types, an integer the stores
    can bind, text that encodes), since a key can leak and cursors outlive a change of format.

    Args:
        key: 16 to 64 secret bytes; None draws a random one (cursors then hold only within this process).
        load_key: reads (or creates) the key when a cursor is first encoded or decoded, instead of ``key``; so
            building a store creates no key file (read-only commands and a start that stops early write nothing).
    """

    def __init__(self, key: bytes | None = None, *, load_key: Callable[[], bytes] | None = None) -> None:
        if load_key is None:
            fixed = secrets.token_bytes(32) if key is None else key
            _check_length(fixed)

            def load_key() -> bytes:
                return fixed

        self._key: bytes | None = None
        self._load_key = load_key

    def _secret(self) -> bytes:
        if self._key is None:
            key = self._load_key()
            _check_length(key)
            self._key = key
        return self._key

    def encode(self, position: CursorPosition) -> str:
        """An opaque, url-safe cursor for ``position``."""
        payload = cursor_payload(position).encode()
        return base64.urlsafe_b64encode(self._mac(payload) + payload).decode().rstrip("=")

    def decode(self, cursor: str, sort: SortKey) -> CursorPosition:
        """Parse a cursor issued by ``encode`` for the same sort. Raises ValidationFailed otherwise."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            digest, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
            intact = hmac.compare_digest(self._mac(payload), digest)
            version, sort_text, value, receipt_id = json.loads(payload) if intact else (None, None, None, None)
        except (ValueError, TypeError, RecursionError) as exc:
            raise ValidationFailed("the cursor is not one this listing issued", errors=[{"field": "cursor"}]) from exc
        valid = (
            version == _CURSOR_VERSION
            and sort_text == sort.value
            and _valid_sort_value(value, sort)
            and isinstance(receipt_id, str)
            and _encodable(receipt_id)
        )
        if not valid:
            raise ValidationFailed("the cursor belongs to another listing or sort order", errors=[{"field": "cursor"}])
        return CursorPosition(sort=sort, value=value, receipt_id=str(receipt_id))

    def _mac(self, payload: bytes) -> bytes:
        return hashlib.blake2b(payload, digest_size=_MAC_BYTES, key=self._secret(), person=_CURSOR_PERSON).digest()


# what json.dumps writes for a str (ensure_ascii) and for a list (compact), without a JSONEncoder per call
_json_text = json.encoder.encode_basestring_ascii
_compact_json = json.JSONEncoder(separators=(",", ":")).encode


def cursor_payload(position: CursorPosition) -> str:
    """The signed part of a cursor: ``json.dumps([version, sort, value, id], separators=(",", ":"))``, written
    out for the three kinds of sort value (json.dumps built an encoder per call, half of a cursor's cost); the
    same text, as ``tests/unit/test_cursor_codec.py`` checks for any position."""
    value = position.value
    if value is None:
        written = "null"
    elif type(value) is str:
        written = _json_text(value)
    elif type(value) is int:
        written = int.__repr__(value)
    else:  # not a sort value the stores make; encoded as json.dumps would
        return _compact_json([_CURSOR_VERSION, position.sort.value, value, position.receipt_id])
    return f"[{_CURSOR_VERSION},{_json_text(position.sort.value)},{written},{_json_text(position.receipt_id)}]"


def _check_length(key: bytes) -> None:
    if not 16 <= len(key) <= 64:
        raise ValueError("a cursor key has 16 to 64 bytes")


def _valid_sort_value(value: object, sort: SortKey) -> bool:
    if value is None:
        return True
    if sort_column(sort) == "total":
        # the stores bind it as a 64-bit integer (SQLite, BSON): a larger one would be an OverflowError there
        return isinstance(value, int) and not isinstance(value, bool) and _INT64_MIN <= value <= _INT64_MAX
    return isinstance(value, str) and _encodable(value)


def _encodable(text: str) -> bool:
    """Whether ``text`` can be sent to a database (a lone surrogate cannot be encoded as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return len(text) <= 200


def cursor_codec(secret: str | None, data_dir: Path | None) -> CursorCodec:
    """The install's cursor codec: keyed by ``secret`` when given (every receipt API instance of a deployment must
    share it), else by ``<data_dir>/cursor.key``, created once (mode 0600, race-safe); a random key without a
    data dir (memory stores)."""
    if secret:
        return CursorCodec(hashlib.blake2b(secret.encode(), digest_size=32, person=_CURSOR_PERSON).digest())
    if data_dir is None:
        return CursorCodec()
    path = Path(data_dir) / CURSOR_KEY_FILE
    return CursorCodec(load_key=lambda: _install_key(path))


def _install_key(path: Path) -> bytes:
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        # link, not rename: when two processes start at once, the first key written wins and both read it
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise ConfigurationError(f"{path} does not hold a cursor key (hex); delete it to make a new one") from None
    if not 16 <= len(key) <= 64:
        raise ConfigurationError(f"{path} does not hold a cursor key of 16 to 64 bytes; delete it to make a new one")
    return key


def quota_message(used: int, size: int, quota: int) -> str:
    """The QuotaExceeded detail every store gives."""
    return f"this file ({size} bytes) would take your stored files past your quota of {quota} bytes ({used} used)"


def comes_after(value: SortValue, receipt_id: str, position: CursorPosition) -> bool:
    """Whether an item with (``value``, ``receipt_id``) comes after ``position`` in its sort (NULLs last)."""
    desc = is_descending(position.sort)
    if position.value is None:
        return value is None and (receipt_id < position.receipt_id if desc else receipt_id > position.receipt_id)
    if value is None:
        return True
    if value != position.value:
        return value < position.value if desc else value > position.value  # type: ignore[operator]
    return receipt_id < position.receipt_id if desc else receipt_id > position.receipt_id


def search_text(receipt: Receipt) -> str:
    """Lower-cased text searched by ``q``: merchant name and address, items, receipt number, notes, raw text."""
    parts = [
        receipt.merchant.name or "",
        receipt.merchant.address or "",
        *(item.description for item in receipt.line_items),
        receipt.receipt_number or "",
        receipt.notes or "",
        receipt.raw_text,
    ]
    return "\n".join(part for part in parts if part).casefold()


def fold(value: str | None) -> str | None:
    """Case-insensitive comparison form of a category, tag or merchant name."""
    return value.strip().casefold() if value is not None else None


def merchant_keys(query: ReceiptQuery) -> list[str]:
    """The folded names of ``query.merchant`` (the stored ``merchant_key`` of a receipt), sorted, each once."""
    return sorted({fold(name) or "" for name in query.merchant or ()} - {""})


def matches(receipt: Receipt, query: ReceiptQuery) -> bool:
    """Whether ``receipt`` passes ``query``'s filters (the in-memory twin of the SQL WHERE clause)."""
    checks = (
        query.owner_id is None or receipt.owner_id == query.owner_id,
        query.status is None or receipt.status == query.status,
        query.category is None or fold(receipt.category) == fold(query.category),
        query.tag is None or fold(query.tag) in {fold(tag) for tag in receipt.tags},
        query.merchant is None or fold(receipt.merchant.name) in merchant_keys(query),
        query.date_from is None or (receipt.purchase_date is not None and receipt.purchase_date >= query.date_from),
        query.date_to is None or (receipt.purchase_date is not None and receipt.purchase_date <= query.date_to),
    )
    if not all(checks):
        return False
    units = total_units(receipt.total)
    if query.min_total is not None and (units is None or units < bound_units(query.min_total, lower=True)):
        return False
    if query.max_total is not None and (units is None or units > bound_units(query.max_total, lower=False)):
        return False
    return not query.q or query.q.casefold() in search_text(receipt)


MISSING_MERCHANT = "unknown"
