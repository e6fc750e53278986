"""The password policy: length in characters after NFKC, common passwords, the account's email."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiptcore.errors import WeakPassword
from receiptcore.services.common_passwords import COMMON_PASSWORDS, is_common_password
from receiptcore.services.credentials import check_password, normalise_password


def check(password: str, email: str = "ada@example.com", min_length: int = 12) -> str:
    return check_password(password, email=email, min_length=min_length, max_length=1024)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pw-1", "too_short"),
        ("x" * 1025 + "y", "too_long"),
        ("ab" * 3000, "too_long"),
        ("password1234", "common"),
        ("PASSWORD1234", "common"),
        ("qwertyuiop123", "common"),
        ("ada@example.com", "equals_email"),
        ("ADA@Example.COM", "equals_email"),
        ("aaaaaaaaaaaaaaaa", "repeated"),
        ("            ", "repeated"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword) as caught:
        check(password)
    assert caught.value.extra["reason"] == reason


def test_local_part_of_the_email_is_refused() -> None:
    with pytest.raises(WeakPassword):
        check("averylonglocalpart", email="averylonglocalpart@example.com")


def test_common_list_is_shipped_and_sizable() -> None:
    assert len(COMMON_PASSWORDS) >= 1000
    assert {"123456", "password", "qwerty", "iloveyou", "trustno1"} <= COMMON_PASSWORDS
    assert is_common_password("Dragon")
    assert not is_common_password("violet-kestrel-harbour-42")


def test_common_passwords_are_refused_when_the_minimum_is_lower() -> None:
    with pytest.raises(WeakPassword, match="common"):
        check("baseball", min_length=8)
    assert check("quietplum", min_length=8) == "quietplum"


def test_length_counts_characters_not_bytes() -> None:
    emoji = "🔒🌍🎈🐙🍀🚲🎻🧩🪁🦉🍋🌵"
    assert len(emoji.encode()) > 12
    assert check(emoji) == emoji
    with pytest.raises(WeakPassword):
        check("日本語のパスワード")  # 9 characters, 27 bytes


def test_nfkc_normalisation_is_applied() -> None:
    full_width = (
        "".join(chr(ord(c) + 0xFEE0) for c in "fullwidth") + "-" + "".join(chr(ord(c) + 0xFEE0) for c in "pass")
    )
    assert check(full_width) == "fullwidth-pass"
    assert normalise_password("cafe\u0301") == "caf\u00e9"


@given(
    st.text(
        alphabet=st.characters(exclude_categories=["Cs"]),
        min_size=12,
        max_size=60,
    ).filter(lambda p: len(normalise_password(p)) >= 12 and len(set(normalise_password(p).strip().casefold())) > 1)
)
def test_any_unicode_password_of_enough_characters_passes_unless_common(password: str) -> None:
    if is_common_password(normalise_password(password)):
        return
    assert check(password) == normalise_password(password)
