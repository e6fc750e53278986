"""Builders of test data, one place for the whole suite: receipts and their files, users, refresh tokens,
principals, and small real image files made with Pillow.

Each builder returns a valid object with unique identity (ids, emails, file bytes) unless told otherwise; keyword
arguments override any field, so a test names only what it is about.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
from typing import Any

from PIL import Image

from receiptcore.domain.ids import new_id
from receiptcore.domain.policy import Principal
from receiptcore.domain.receipt import Receipt, ReceiptStatus, SourceFile
from receiptcore.domain.users import BUILTIN_ROLES, MEMBER, RefreshToken, User

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
# users carry microseconds, so a repository that rounds or drops them fails the round-trip tests
USER_T0 = dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)


def make_receipt(owner_id: str | None = None, content: bytes | None = None, **fields: Any) -> tuple[Receipt, bytes]:
    """A valid pending receipt plus its file bytes (random unless given).

    ``filename`` and ``media_type`` set the source file's; any other keyword overrides that Receipt field.
    """
    content = content if content is not None else os.urandom(32)
    created = fields.pop("created_at", T0)
    values: dict[str, Any] = {
        "id": new_id(),
        "owner_id": owner_id or new_id(),
        "status": ReceiptStatus.PENDING,
        "created_at": created,
        "updated_at": created,
        "source": SourceFile(
            filename=fields.pop("filename", "receipt.png"),
            media_type=fields.pop("media_type", "image/png"),
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
        ),
    }
    values.update(fields)
    return Receipt.model_validate(values), content


def make_user(
    email: str | None = None, *, roles: list[str] | None = None, disabled: bool = False, **fields: Any
) -> User:
    """A valid member with a unique email unless one is given; ``fields`` override any other User field."""
    uid = fields.pop("id", None) or new_id()
    values: dict[str, Any] = {
        "id": uid,
        "email": email or f"user-{uid}@example.com",
        "display_name": "Ada",
        "password_hash": "$argon2id$fake",
        "roles": roles if roles is not None else [MEMBER],
        "disabled": disabled,
        "created_at": USER_T0,
        "updated_at": USER_T0,
    }
    values.update(fields)
    return User.model_validate(values)


def demoted(user: User) -> User:
    """A copy of ``user`` holding only the member role."""
    return user.model_copy(update={"roles": [MEMBER]})


def disabled(user: User) -> User:
    """A disabled copy of ``user``."""
    return user.model_copy(update={"disabled": True})


def make_token(user: User, *, family_id: str | None = None) -> RefreshToken:
    """A fresh, unused refresh token of ``user``."""
    return RefreshToken(
        id=new_id(),
        user_id=user.id,
        family_id=family_id or new_id(),
        token_hash=hashlib.sha256(os.urandom(16)).hexdigest(),
        created_at=USER_T0,
        expires_at=USER_T0 + dt.timedelta(days=14),
        family_expires_at=USER_T0 + dt.timedelta(days=90),
    )


def make_principal(
    role: str = MEMBER, *, permissions: frozenset[str] | None = None, user_id: str | None = None
) -> Principal:
    """A caller holding one built-in role (or exactly ``permissions``), a new user id unless one is given."""
    perms = permissions if permissions is not None else BUILTIN_ROLES[role].permissions
    return Principal(user_id=user_id or new_id(), roles=frozenset({role}), permissions=perms)


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 30), color: str = "white") -> bytes:
    """A small real image in ``fmt`` (PNG, JPEG, WEBP) or a one-page PDF (``PDF``)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


def unique_png(seed: int | None = None) -> bytes:
    """A valid PNG whose bytes differ per call (or per ``seed``)."""
    value = seed if seed is not None else int.from_bytes(os.urandom(3), "big")
    color = (value & 0xFF, (value >> 8) & 0xFF, (value >> 16) & 0xFF)
    buffer = io.BytesIO()
    Image.new("RGB", (8 + value % 13, 8), color).save(buffer, "PNG")
    return buffer.getvalue()
