"""The caller's preferences: ``GET`` and ``PATCH /auth/me/preferences`` (issue 12).

For now one preference, the default currency: assumed for the caller's receipts that print none (marked
``currency_assumed``, never a reason for review). A user who has not chosen one follows the install's
``RECEIPTCORE_DEFAULT_CURRENCY``; ``PATCH`` with ``null`` goes back to it. A sub-resource of ``/auth/me`` (not a
field of the user record) because every authenticated user may change it, while ``PATCH /users/{id}`` needs
``users:manage``.
"""

from __future__ import annotations

from typing import Annotated

from litestar import get, patch
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody
from pydantic import BaseModel, ConfigDict, Field

from receiptcore.domain.policy import Principal
from receiptcore.entrypoints.http.deps import container_of
from receiptcore.entrypoints.http.openapi import problems
from receiptcore.entrypoints.http.security import AUTHENTICATED, PERMISSION_OPT
from receiptcore.services.preferences import Preferences, PreferencesService

_TAGS = ["auth"]
_PATH = "/auth/me/preferences"


def provide_preferences_service(state: State) -> PreferencesService:
    """The PreferencesService singleton."""
    service: PreferencesService = container_of(state).preferences_service()
    return service


_SERVICE = {"preferences_service": Provide(provide_preferences_service, sync_to_thread=False)}


class PreferencesOut(BaseModel):
    """The caller's preferences."""

    default_currency: str | None = Field(
        description="The ISO-4217 code assumed for the caller's receipts that print no currency: their own choice, "
        "else the install's default; null when neither is set (such a receipt goes to review as currency_unknown)."
    )
    default_currency_source: str | None = Field(
        description='"user" (the caller chose it), "install" (RECEIPTCORE_DEFAULT_CURRENCY) or null (none).'
    )
    install_default_currency: str | None = Field(description="The install's default currency (what null restores).")

    @classmethod
    def of(cls, preferences: Preferences) -> PreferencesOut:
        """The API representation of ``preferences``."""
        source = "user" if preferences.own_default_currency else "install" if preferences.default_currency else None
        return cls(
            default_currency=preferences.default_currency,
            default_currency_source=source,
            install_default_currency=preferences.install_default_currency,
        )


class PreferencesUpdate(BaseModel):
    """Preferences to change; an absent field stays as it is."""

    model_config = ConfigDict(extra="forbid")

    default_currency: Annotated[str, Field(min_length=1, max_length=16)] | None = Field(
        None, description="An ISO-4217 code such as EUR; null follows the install's default again."
    )


@get(_PATH, opt={PERMISSION_OPT: AUTHENTICATED}, tags=_TAGS, dependencies=_SERVICE)
async def get_preferences(
    principal: NamedDependency[Principal],
    preferences_service: NamedDependency[PreferencesService],
) -> PreferencesOut:
    """The caller's preferences (the default currency and where it comes from)."""
    return PreferencesOut.of(await preferences_service.get(principal))


@patch(_PATH, opt={PERMISSION_OPT: AUTHENTICATED}, tags=_TAGS, dependencies=_SERVICE, responses=problems(409, 422))
async def update_preferences(
    data: JSONBody[PreferencesUpdate],
    principal: NamedDependency[Principal],
    preferences_service: NamedDependency[PreferencesService],
) -> PreferencesOut:
    """Change the caller's preferences. A code that is not ISO 4217 is a 422 problem document (nothing stored).
    Applies to receipts extracted from now on; receipts already read keep the currency they were given."""
    if "default_currency" in data.model_fields_set:
        return PreferencesOut.of(await preferences_service.set_default_currency(principal, data.default_currency))
    return PreferencesOut.of(await preferences_service.get(principal))


PREFERENCE_HANDLERS = [get_preferences, update_preferences]
