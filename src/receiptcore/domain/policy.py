"""The policy: who may do what, and which owners' receipts a caller's query may reach."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from receiptcore.domain.users import (
    RECEIPTS_READ,
    RECEIPTS_READ_ANY,
    RECEIPTS_WRITE,
    RECEIPTS_WRITE_ANY,
    Role,
    User,
)
from receiptcore.errors import PermissionDenied


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: user id, role names, the union of their permissions and token version."""

    user_id: str
    roles: frozenset[str]
    permissions: frozenset[str]
    token_version: int = 1
    email: str = ""

    def can(self, permission: str) -> bool:
        """Whether the caller holds ``permission``."""
        return permission in self.permissions

    @classmethod
    def of_user(cls, user: User, roles: Mapping[str, Role]) -> Principal:
        """The principal of ``user``, with the permissions its role names have in ``roles``."""
        return cls(
            user_id=user.id,
            roles=frozenset(user.roles),
            permissions=permissions_of(user.roles, roles),
            token_version=user.token_version,
            email=user.email,
        )


@dataclass(frozen=True, slots=True)
class Scope:
    """Which owners' receipts a query may touch: ``owner_ids=None`` means every owner."""

    owner_ids: frozenset[str] | None = field(default=None)

    def allows(self, owner_id: str) -> bool:
        """Whether a receipt of ``owner_id`` is inside the scope."""
        return self.owner_ids is None or owner_id in self.owner_ids

    @classmethod
    def everyone(cls) -> Scope:
        """The scope of system work (workers): every owner."""
        return cls(None)

    @classmethod
    def only(cls, owner_id: str) -> Scope:
        """The scope of one owner."""
        return cls(frozenset({owner_id}))


class ReceiptAction(StrEnum):
    """What a caller wants to do with receipts."""

    READ = "read"
    WRITE = "write"


def permissions_of(role_names: Iterable[str], roles: Mapping[str, Role]) -> frozenset[str]:
    """Union of the permissions of the named roles; unknown role names grant nothing."""
    out: set[str] = set()
    for name in role_names:
        role = roles.get(name)
        if role is not None:
            out |= role.permissions
    return frozenset(out)


def require(principal: Principal, permission: str) -> None:
    """Raise PermissionDenied unless the caller holds ``permission``."""
    if not principal.can(permission):
        raise PermissionDenied(f"this action needs the permission {permission!r}")


def receipt_scope(principal: Principal, action: ReceiptAction) -> Scope:
    """The scope every receipt query of ``principal`` takes for ``action``.

    Raises PermissionDenied when the caller may not read (or write) receipts at all. ``*:any`` widens the
    scope to every owner; otherwise only the caller's own receipts are visible, so a foreign receipt is
    simply not found.
    """
    own, anyone = (
        (RECEIPTS_READ, RECEIPTS_READ_ANY) if action is ReceiptAction.READ else (RECEIPTS_WRITE, RECEIPTS_WRITE_ANY)
    )
    if principal.can(anyone):
        return Scope.everyone()
    require(principal, own)
    return Scope.only(principal.user_id)
