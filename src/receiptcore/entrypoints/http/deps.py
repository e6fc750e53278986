"""Small ``Provide`` functions: handlers get services from the container kept in ``app.state``.

Not dependency-injector's ``@inject``: its markers fight Litestar's signature parsing. Every function takes the
app ``State`` (or the request) and asks the container for a singleton, which is a dictionary lookup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from receiptcore.domain.policy import Principal
from receiptcore.entrypoints.http.security import CONTAINER_KEY, principal_of
from receiptcore.services.auth import AuthService
from receiptcore.services.receipts import ReceiptService
from receiptcore.services.users import RoleService, UserService
from receiptcore.settings import Settings

if TYPE_CHECKING:
    from receiptcore.entrypoints.container import Container


def container_of(state: State) -> Container:
    """The composition root stored in the app state by ``create_app``."""
    container: Container = state[CONTAINER_KEY]
    return container


def provide_settings(state: State) -> Settings:
    """The settings the container was built with."""
    settings: Settings = container_of(state).settings()
    return settings


def provide_auth_service(state: State) -> AuthService:
    """The AuthService singleton."""
    service: AuthService = container_of(state).auth_service()
    return service


def provide_user_service(state: State) -> UserService:
    """The UserService singleton."""
    service: UserService = container_of(state).user_service()
    return service


def provide_role_service(state: State) -> RoleService:
    """The RoleService singleton."""
    service: RoleService = container_of(state).role_service()
    return service


def provide_receipt_service(state: State) -> ReceiptService:
    """The ReceiptService singleton."""
    service: ReceiptService = container_of(state).receipt_service()
    return service


async def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The authenticated caller (the permission guard has already authenticated the request)."""
    return await principal_of(request)


DEPENDENCIES: dict[str, Provide] = {
    "settings": Provide(provide_settings, sync_to_thread=False),
    "auth_service": Provide(provide_auth_service, sync_to_thread=False),
    "user_service": Provide(provide_user_service, sync_to_thread=False),
    "role_service": Provide(provide_role_service, sync_to_thread=False),
    "receipt_service": Provide(provide_receipt_service, sync_to_thread=False),
    "principal": Provide(provide_principal),
}
