"""Request and response bodies of the HTTP API (pydantic models; OpenAPI is generated from them).

Request models forbid unknown fields and cap every string and list, so a hostile body is a 422 problem, never
work for the services. Passwords are capped generously here; the password policy (in the core) decides the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from receiptcore.domain.policy import permissions_of
from receiptcore.domain.receipt import ReceiptStatus
from receiptcore.domain.users import ACCOUNT_NAME_MAX_LENGTH, ACCOUNT_NAME_PATTERN, ROLE_NAME_PATTERN, Role, User

Email = Annotated[str, StringConstraints(min_length=1, max_length=320)]
# what ``normalise_email`` accepts, so that the OpenAPI document says it (login keeps the plain string: a
# malformed address is the same 401 as a wrong one there)
NewEmail = Annotated[
    str,
    # surrounding whitespace is allowed here and stripped by the service, as the CLI does
    StringConstraints(max_length=ACCOUNT_NAME_MAX_LENGTH, pattern=r"^\s*" + ACCOUNT_NAME_PATTERN[1:-1] + r"\s*$"),
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
Name = Annotated[str, StringConstraints(max_length=200)]
RoleName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
NewRoleName = Annotated[str, StringConstraints(pattern=ROLE_NAME_PATTERN)]
Permission = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_Request):
    """Credentials for ``POST /auth/login``."""

    email: Email
    password: Password


class RefreshRequest(_Request):
    """For clients without cookies: the refresh token in the body of ``/auth/refresh`` or ``/auth/logout``."""

    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None


class TokenResponse(BaseModel):
    """A fresh access token (the refresh token travels in the HttpOnly cookie only)."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int


class PasswordChangeRequest(_Request):
    """``POST /auth/password``: the current password and the new one."""

    current_password: Password
    new_password: Password


class UserCreateRequest(_Request):
    """``POST /users``."""

    email: NewEmail
    password: Password
    display_name: Name = ""
    roles: Annotated[list[RoleName], Field(max_length=50)] | None = None


class UserUpdateRequest(_Request):
    """``PATCH /users/{id}``: only the fields present change."""

    email: NewEmail | None = None
    display_name: Name | None = None
    password: Password | None = None


class PasswordResetRequest(_Request):
    """``POST /users/{id}/reset-password`` (the body is optional): the new password; without it (no body, ``{}``
    or ``null``) a one-time password is generated."""

    password: Password | None = None


class RolesRequest(_Request):
    """``PUT /users/{id}/roles``: the complete new list of role names."""

    roles: Annotated[list[RoleName], Field(max_length=50)]


class RoleCreateRequest(_Request):
    """``POST /roles``."""

    name: NewRoleName
    permissions: Annotated[list[Permission], Field(max_length=100)]
    description: Annotated[str, StringConstraints(max_length=500)] = ""


class RoleUpdateRequest(_Request):
    """``PATCH /roles/{name}``: only the fields present change."""

    permissions: Annotated[list[Permission], Field(max_length=100)] | None = None
    description: Annotated[str, StringConstraints(max_length=500)] | None = None


class UserOut(BaseModel):
    """A user as the API shows it (never the password hash)."""

    id: str
    email: str
    display_name: str
    roles: list[str]
    permissions: list[str]
    disabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, user: User, roles: dict[str, Role]) -> UserOut:
        """Build from a user and the role definitions that resolve its permissions."""
        return cls.of_permissions(user, permissions_of(user.roles, roles))

    @classmethod
    def of_permissions(cls, user: User, permissions: Iterable[str]) -> UserOut:
        """Build from a user and the permissions already resolved for it."""
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            roles=list(user.roles),
            permissions=sorted(permissions),
            disabled=user.disabled,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


class PasswordResetOut(BaseModel):
    """The user after a password reset, and the generated one-time password (null when the caller chose it).

    The password is in this response only; it is never stored or shown again."""

    user: UserOut
    password: str | None


class UserPage(BaseModel):
    """A page of users; pass ``next_cursor`` as ``after`` for the next page."""

    items: list[UserOut]
    next_cursor: str | None = None


class RoleOut(BaseModel):
    """A role: name, description, sorted permissions, whether it is built in."""

    name: str
    description: str
    permissions: list[str]
    builtin: bool

    @classmethod
    def of(cls, role: Role) -> RoleOut:
        """Build from a domain role."""
        return cls(
            name=role.name, description=role.description, permissions=sorted(role.permissions), builtin=role.builtin
        )


class RoleList(BaseModel):
    """Every role."""

    items: list[RoleOut]


# ---- receipt bodies (documentation only: the handlers send ``receipt_to_api`` dicts) ----------------------------


class ReceiptOut(BaseModel):
    """A receipt as ``receipt_to_api`` shows it (see ``receipt-example.json``); the extracted fields, money as
    decimal strings, follow the ones named here."""

    model_config = ConfigDict(extra="allow")

    id: str
    owner_id: str
    status: ReceiptStatus
    version: int
    created_at: str
    updated_at: str


class ReceiptPage(BaseModel):
    """A page of receipts; ``next_cursor`` (also in ``Link: rel="next"``) continues."""

    items: list[ReceiptOut]
    next_cursor: str | None


class UploadedReceipt(ReceiptOut):
    """An uploaded receipt: whether the caller had uploaded this file before, and where it lives."""

    duplicate: bool
    location: str


class UploadResult(BaseModel):
    """``POST /api/receipts``: one item per file, in order."""

    receipts: list[UploadedReceipt]


class ExtractionList(BaseModel):
    """Every extraction attempt of a receipt, oldest first."""

    items: list[dict[str, object]]
