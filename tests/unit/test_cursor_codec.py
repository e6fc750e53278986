"""The list cursor codec (issue 9, hole 5): round trips, refuses anything it did not issue, never raises other
than ValidationFailed, and is keyed per install."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiptcore.adapters.receipt_queries import CursorCodec, CursorPosition, cursor_codec, cursor_payload
from receiptcore.domain.queries import SortKey
from receiptcore.errors import ValidationFailed

CODEC = CursorCodec(b"k" * 32)
text_values = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)


@st.composite
def positions(draw: st.DrawFn) -> CursorPosition:
    sort = draw(st.sampled_from(list(SortKey)))
    if sort.value.lstrip("-") == "total":
        value = draw(st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1))
    else:
        value = draw(st.none() | text_values)
    return CursorPosition(sort, value, draw(text_values))


@given(positions())
def test_a_cursor_decodes_to_the_position_it_encodes(position: CursorPosition) -> None:
    assert CODEC.decode(CODEC.encode(position), position.sort) == position


@given(positions())
def test_the_signed_payload_is_the_compact_json_of_the_position(position: CursorPosition) -> None:
    # cursors issued before the payload was written out by hand must still decode, and adapters share the codec
    expected = [2, position.sort.value, position.value, position.receipt_id]
    assert cursor_payload(position) == json.dumps(expected, separators=(",", ":"))


@given(st.text(max_size=600), st.sampled_from(list(SortKey)))
def test_any_text_decodes_or_is_a_validation_error(cursor: str, sort: SortKey) -> None:
    with contextlib.suppress(ValidationFailed):
        CODEC.decode(cursor, sort)


@given(positions(), st.integers(min_value=0, max_value=200), st.integers(min_value=1, max_value=255))
def test_a_changed_byte_is_refused(position: CursorPosition, index: int, flip: int) -> None:
    cursor = CODEC.encode(position)
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[index % len(raw)] ^= flip
    with pytest.raises(ValidationFailed):
        CODEC.decode(base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="), position.sort)


@given(
    st.one_of(
        st.integers(min_value=2**63),
        st.integers(max_value=-(2**63) - 1),
        st.just("\ud800"),
        st.booleans(),
        st.floats(allow_nan=True),
    )
)
def test_values_the_stores_cannot_bind_are_refused_even_under_a_valid_mac(value: object) -> None:
    # the key may leak: a validly signed cursor is still checked like input
    for sort in (SortKey.TOTAL_DESC, SortKey.CREATED_DESC):
        forged = CODEC.encode(CursorPosition(sort, value, "x"))  # type: ignore[arg-type]
        with pytest.raises(ValidationFailed):
            CODEC.decode(forged, sort)
    with pytest.raises(ValidationFailed):
        CODEC.decode(CODEC.encode(CursorPosition(SortKey.CREATED_DESC, None, "\udc80")), SortKey.CREATED_DESC)


def test_the_old_constant_key_no_longer_signs_cursors(tmp_path: Path) -> None:
    payload = b'[1,"-created_at",null,"x"]'
    digest = hashlib.blake2b(payload, digest_size=6, key=b"receiptcore-cursor-v1").digest()
    forged = base64.urlsafe_b64encode(digest + payload).decode().rstrip("=")
    with pytest.raises(ValidationFailed):
        cursor_codec(None, tmp_path).decode(forged, SortKey.CREATED_DESC)


def test_the_install_key_is_made_once_and_shared_by_the_data_dir(tmp_path: Path) -> None:
    position = CursorPosition(SortKey.CREATED_DESC, "2026-01-01", "id-1")
    cursor = cursor_codec(None, tmp_path / "a").encode(position)
    assert cursor_codec(None, tmp_path / "a").decode(cursor, position.sort) == position
    with pytest.raises(ValidationFailed):
        cursor_codec(None, tmp_path / "b").decode(cursor, position.sort)
    assert (tmp_path / "a" / "cursor.key").stat().st_mode & 0o777 == 0o600
    # instances without a shared data dir share the secret instead
    shared = cursor_codec("a shared secret", tmp_path / "c").encode(position)
    assert cursor_codec("a shared secret", tmp_path / "d").decode(shared, position.sort) == position
    with pytest.raises(ValidationFailed):
        cursor_codec("another secret", tmp_path / "c").decode(shared, position.sort)
