"""Users, roles and permission strings (DESIGN.md §3)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from receiptcore.domain.money import is_currency

# Every permission the product checks. Custom roles may only hold these.
RECEIPTS_READ = "receipts:read"
RECEIPTS_WRITE = "receipts:write"
RECEIPTS_READ_ANY = "receipts:read:any"
RECEIPTS_WRITE_ANY = "receipts:write:any"
USERS_READ = "users:read"
USERS_MANAGE = "users:manage"
ROLES_MANAGE = "roles:manage"

PERMISSIONS: frozenset[str] = frozenset(
    {RECEIPTS_READ, RECEIPTS_WRITE, RECEIPTS_READ_ANY, RECEIPTS_WRITE_ANY, USERS_READ, USERS_MANAGE, ROLES_MANAGE}
)

ADMIN, AUDITOR, MEMBER = "admin", "auditor", "member"
ROLE_NAME_PATTERN = r"^[a-z][a-z0-9_-]{1,47}$"
# What an account name is, for the API, the CLI and the first-start banner alike: an email address whose domain
# is one or more dot-separated labels, so ``admin@localhost`` and ``root@nas`` (a self-hosted install without a
# public domain) are as valid as ``ann@example.org``. No whitespace, no second ``@``, no empty label.
# Written without look-arounds so that the same text is a valid OpenAPI (ECMA-262) and pydantic (Rust) pattern.
ACCOUNT_NAME_PATTERN = r"^[^@\s]{1,64}@[^@\s.]{1,63}(\.[^@\s.]{1,63})*$"
ACCOUNT_NAME_MAX_LENGTH = 254
ACCOUNT_NAME_RULE = "an email address such as ann@example.org or admin@localhost"
_EMAIL = re.compile(ACCOUNT_NAME_PATTERN)

EmailStr = Annotated[str, StringConstraints(min_length=3, max_length=254, strip_whitespace=True, to_lower=True)]
RoleName = Annotated[str, StringConstraints(pattern=ROLE_NAME_PATTERN)]


# Characters that render as nothing (or reorder what follows) and so let one account name look like another:
# controls (Cc), format characters (Cf: zero-width space/joiners, bidi embeddings, overrides and isolates, the soft
# hyphen, the BOM), private-use and unassigned code points, line/paragraph separators, and the blank letters that
# Unicode classes as letters (Hangul fillers, the braille blank).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})
_BLANK_LETTERS = frozenset({"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"})


def fold_account_name(email: str) -> str:
    """The comparison form of an account name: NFKC, case-folded, stripped (never raises).

    NFKC maps compatibility look-alikes to one character (fullwidth ``admin`` and the fullwidth at sign to ASCII,
    mathematical bold and circled letters to plain ones) and casefold
    is the caseless match of Unicode (``ß`` → ``ss``); NFKC runs again because case folding can undo it. Logins
    and look-ups use this form, so every spelling of a name reaches the same account and the same throttle."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email).casefold()).strip()


def legacy_account_name(email: str) -> str:
    """The form account names were stored in before they were folded (stripped, ``str.lower``): look-ups fall back
    to it so that an account created earlier under a name whose folded form differs (``straße@…``) still signs in."""
    return email.strip().lower()


def invisible_characters(text: str) -> list[str]:
    """The invisible and bidirectional control characters in ``text``, each named like ``U+200B ZERO WIDTH SPACE``."""
    return [
        f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed')}"
        for char in dict.fromkeys(text)
        if char in _BLANK_LETTERS or (unicodedata.category(char) in _INVISIBLE_CATEGORIES and char not in "\t\n\r")
    ]


def normalise_email(email: str) -> str:
    """An account name in its stored form (``fold_account_name``); raises ValueError, naming the problem, when it
    holds an invisible or bidirectional control character or its folded form breaks ``ACCOUNT_NAME_PATTERN``."""
    hidden = invisible_characters(email.strip())
    if hidden:
        msg = (
            f"{email!r} is not a valid account name: it contains invisible or bidirectional control characters "
            f"({', '.join(hidden)}), which would let it pass for another account's name"
        )
        raise ValueError(msg)
    value = fold_account_name(email)
    if len(value) > ACCOUNT_NAME_MAX_LENGTH or not _EMAIL.match(value):
        msg = f"{email!r} is not a valid account name: expected {ACCOUNT_NAME_RULE}"
        raise ValueError(msg)
    return value


def currency_code(value: str) -> str:
    """``value`` when it is an active ISO-4217 code (upper-case, as ``EUR``); raises ValueError otherwise."""
    if not is_currency(value):
        msg = f"{value!r} is not an ISO 4217 currency code (three upper-case letters, such as EUR or USD)"
        raise ValueError(msg)
    return value


CurrencyCode = Annotated[str, AfterValidator(currency_code)]


class Role(BaseModel):
    """A named set of permission strings. Built-in roles cannot be changed or deleted."""

    model_config = ConfigDict(extra="forbid")

    name: RoleName
    description: Annotated[str, StringConstraints(max_length=500)] = ""
    permissions: frozenset[str] = frozenset()
    builtin: bool = False


BUILTIN_ROLES: dict[str, Role] = {
    ADMIN: Role(
        name=ADMIN, description="Everything, including users and roles.", permissions=PERMISSIONS, builtin=True
    ),
    AUDITOR: Role(
        name=AUDITOR,
        description="Reads every receipt and user; changes nothing.",
        permissions=frozenset({RECEIPTS_READ, RECEIPTS_READ_ANY, USERS_READ}),
        builtin=True,
    ),
    MEMBER: Role(
        name=MEMBER,
        description="Uploads, reads and corrects their own receipts.",
        permissions=frozenset({RECEIPTS_READ, RECEIPTS_WRITE}),
        builtin=True,
    ),
}


class User(BaseModel):
    """A person who signs in. ``token_version`` bumps revoke every token issued before."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str
    email: EmailStr
    display_name: Annotated[str, StringConstraints(max_length=200)] = ""
    password_hash: str
    roles: list[RoleName] = Field(default_factory=lambda: [MEMBER])
    disabled: bool = False
    token_version: Annotated[int, Field(ge=1)] = 1
    created_at: dt.datetime
    updated_at: dt.datetime
    password_changed_at: dt.datetime | None = None
    # assumed for this user's receipts that print no currency; None follows the install's default
    default_currency: CurrencyCode | None = None

    def effective_currency(self, install_default: str | None) -> str | None:
        """The currency assumed for this user's receipts that print none: theirs, else the install's."""
        return self.default_currency or install_default

    def with_default_currency(self, code: str | None, at: dt.datetime) -> User:
        """A copy preferring ``code`` (None: follow the install's default again), updated at ``at``. Raises
        ValueError (a pydantic ValidationError) when ``code`` is not an ISO-4217 code."""
        return User.model_validate({**self.model_dump(), "default_currency": code, "updated_at": at})


class RefreshToken(BaseModel):
    """An opaque refresh token, stored by its hash. One family per login; a reused member revokes the family."""

    model_config = ConfigDict(extra="forbid")

    id: str
    user_id: str
    family_id: str
    token_hash: str
    created_at: dt.datetime
    expires_at: dt.datetime  # idle expiry of this member: created_at + idle ttl
    family_expires_at: dt.datetime  # absolute expiry of the whole family (login + absolute ttl)
    used_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
