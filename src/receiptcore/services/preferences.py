"""A user's own preferences (issue 12): for now the currency assumed for their receipts that print none.

The preference lives on the user record (``User.default_currency``); None means "follow the install's
``RECEIPTCORE_DEFAULT_CURRENCY``", so a new user starts with the install's default and follows it until they choose
their own. The worker reads it per receipt owner (``currency_for``) and ``assume_currency`` marks the filled-in
currency ``currency_assumed``, which never sends a receipt to review.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from receiptcore.domain.policy import Principal
from receiptcore.domain.users import User, currency_code
from receiptcore.errors import Conflict, NotFound, ValidationFailed
from receiptcore.ports import Clock, UserRepo

_SAVE_ATTEMPTS = 3  # a save refused because the user changed meanwhile is re-read and retried this often


@dataclass(frozen=True, slots=True)
class Preferences:
    """What ``GET /auth/me/preferences`` shows: the effective default currency and where it comes from."""

    default_currency: str | None  # the user's own choice, else the install's default (None when neither is set)
    own_default_currency: str | None  # the user's own choice; None follows the install's default
    install_default_currency: str | None

    @classmethod
    def of(cls, user: User, install_default: str | None) -> Preferences:
        """The preferences of ``user`` under an install whose default currency is ``install_default``."""
        return cls(user.effective_currency(install_default), user.default_currency, install_default)


class PreferencesService:
    """Reads and changes the caller's preferences; tells the worker a receipt owner's default currency.

    Args:
        users: the user repository the preference is stored in.
        clock: stamps ``updated_at`` on a change.
        install_default_currency: ``RECEIPTCORE_DEFAULT_CURRENCY``, the default of users who chose none.
    """

    def __init__(self, users: UserRepo, clock: Clock, install_default_currency: str | None = None) -> None:
        self._users = users
        self._clock = clock
        self._install_default = install_default_currency

    async def get(self, principal: Principal) -> Preferences:
        """The caller's preferences. Raises NotFound when the caller's user is gone."""
        return Preferences.of(await self._users.get_user(principal.user_id), self._install_default)

    async def set_default_currency(self, principal: Principal, code: str | None) -> Preferences:
        """Store the caller's default currency (None: follow the install's default again).

        Raises:
            ValidationFailed: ``code`` is not an ISO-4217 code (nothing is stored).
            NotFound: the caller's user is gone. Conflict: the user kept changing under the save.
        """
        if code is not None:
            try:
                currency_code(code)
            except ValueError as exc:
                raise ValidationFailed(str(exc), errors=[{"field": "default_currency", "message": str(exc)}]) from exc
        for _ in range(_SAVE_ATTEMPTS):
            user = await self._users.get_user(principal.user_id)
            try:
                changed = user.with_default_currency(code, self._clock.now())
            except ValidationError as exc:  # pragma: no cover - the code was checked above
                raise ValidationFailed("invalid default currency") from exc
            try:
                # guarded: a role change or a disable between the read and this save must not be undone by it
                await self._users.save_user_keeping_admin(changed, expected=user)
            except Conflict:
                continue
            return Preferences.of(changed, self._install_default)
        raise Conflict("the user was changed by someone else meanwhile; try again")

    async def currency_for(self, owner_id: str) -> str | None:
        """The currency assumed for ``owner_id``'s receipts that print none: theirs, else the install's (also for
        an owner whose user record this store does not hold). Raises StorageUnavailable."""
        try:
            user = await self._users.get_user(owner_id)
        except NotFound:
            return self._install_default
        return user.effective_currency(self._install_default)
