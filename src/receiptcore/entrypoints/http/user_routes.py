"""User administration: list, create, read, update, set roles, disable and enable users."""

from __future__ import annotations

from typing import Annotated

from litestar import get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from receiptcore.domain.ids import is_id
from receiptcore.domain.policy import Principal
from receiptcore.domain.users import USERS_MANAGE, USERS_READ
from receiptcore.entrypoints.http.openapi import problems
from receiptcore.entrypoints.http.receipt_params import ID_DESCRIPTION, ID_PATTERN
from receiptcore.entrypoints.http.schemas import (
    PasswordResetOut,
    PasswordResetRequest,
    RolesRequest,
    UserCreateRequest,
    UserOut,
    UserPage,
    UserUpdateRequest,
)
from receiptcore.entrypoints.http.security import AUTHENTICATED, PERMISSION_OPT
from receiptcore.errors import NotFound, ValidationFailed
from receiptcore.services.users import RoleService, UserService

_TAGS = ["users"]


def _user_id(value: str) -> str:
    # an id that cannot exist is simply not found (never a 500 from a store choking on it)
    if not is_id(value):
        raise NotFound("no such user")
    return value


@get("/users", opt={PERMISSION_OPT: USERS_READ}, tags=_TAGS)
async def list_users(
    principal: NamedDependency[Principal],
    user_service: NamedDependency[UserService],
    role_service: NamedDependency[RoleService],
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    after: Annotated[str | None, QueryParameter(max_length=36, pattern=ID_PATTERN, description=ID_DESCRIPTION)] = None,
) -> UserPage:
    """Users ordered by id; ``next_cursor`` is the ``after`` value of the next page."""
    if after is not None and not is_id(after):
        raise ValidationFailed("after must be a user id", errors=[{"field": "after", "message": "not a user id"}])
    users = await user_service.list_users(principal, limit=limit, after=after)
    roles = await role_service.all_roles()
    next_cursor = users[-1].id if len(users) == limit else None
    return UserPage(items=[UserOut.of(u, roles) for u in users], next_cursor=next_cursor)


@post("/users", status_code=HTTP_201_CREATED, opt={PERMISSION_OPT: USERS_MANAGE}, tags=_TAGS, responses=problems(409))
async def create_user(
    data: JSONBody[UserCreateRequest],
    principal: NamedDependency[Principal],
    user_service: NamedDependency[UserService],
    role_service: NamedDependency[RoleService],
) -> UserOut:
    """Create a user (roles default to ``member``)."""
    user = await user_service.create_user(principal, data.email, data.password, data.display_name, data.roles)
    return UserOut.of(user, await role_service.all_roles())


@get("/users/{user_id:str}", opt={PERMISSION_OPT: AUTHENTICATED}, tags=_TAGS, responses=problems(404))
async def get_user(
    user_id: FromPath[str],
    principal: NamedDependency[Principal],
    user_service: NamedDependency[UserService],
    role_service: NamedDependency[RoleService],
) -> UserOut:
    """One user: needs users:read, or it is the caller's own record."""
    user = await user_service.get_user(principal, _user_id(user_id))
    return UserOut.of(user, await role_service.all_roles())


@patch("/users/{user_id:str}", opt={PERMISSION_OPT: USERS_MANAGE}, tags=_TAGS, responses=problems(404, 409))
async def update_user(
    user_id: FromPath[str],
    data: JSONBody[UserUpdateRequest],
    principal: NamedDependency[Principal],
    user_service: NamedDependency[UserService],
    role_service: NamedDependency[RoleService],
) -> UserOut:
    """Change a user's email, display name or password (a new password ends their sessions)."""
    user = await user_service.update_user(
        principal, _user_id(user_id), display_name=data.display_name, email=data.email, password=data.password
    )
    return UserOut.of(user, await role_service.all_roles())


@put("/users/{user_id:str}/roles", opt={PERMISSION_OPT: USERS_MANAGE}, tags=_TAGS, responses=problems(404, 409))
async def set_roles(
    user_id: FromPath[str],
    data: JSONBody[RolesRequest],
    principal: NamedDependency[Principal],
    user_service: NamedDependency[UserService],
    role_service: NamedDependency[RoleService],
) -> UserOut:
    """Replace a user's roles; their existing access tokens stop working."""
    user = await user_service.set_roles(principal, _user_id(user_id), data.roles)
    return UserOut.of(user, await role_service.all_roles())


@post(
    "/users/{user_id:str}/disable",
    status_code=200,
    opt={PERMISSION_OPT: USERS_MANAGE},
    tags=_TAGS,
    responses=problems(404, 409),
)
async def disable_user(
    user_id: FromPath[str],
    principal: NamedDependency[Principal],
    user_service: NamedDependency[UserService],
    role_service: NamedDependency[RoleService],
) -> UserOut:
    """Disable a user: they cannot log in and their tokens stop working at once."""
    user = await user_service.set_disabled(principal, _user_id(user_id), True)
    return UserOut.of(user, await role_service.all_roles())


@post(
    "/users/{user_id:str}/enable",
    status_code=200,
    opt={PERMISSION_OPT: USERS_MANAGE},
    tags=_TAGS,
    responses=problems(404, 409),
)
async def enable_user(
    user_id: FromPath[str],
    principal: NamedDependency[Principal],
    user_service: NamedDependency[UserService],
    role_service: NamedDependency[RoleService],
) -> UserOut:
    """Enable a disabled user again."""
    user = await user_service.set_disabled(principal, _user_id(user_id), False)
    return UserOut.of(user, await role_service.all_roles())


@post(
    "/users/{user_id:str}/reset-password",
    status_code=200,
    opt={PERMISSION_OPT: USERS_MANAGE},
    tags=_TAGS,
    responses=problems(404, 409),
)
async def reset_password(
    user_id: FromPath[str],
    principal: NamedDependency[Principal],
    user_service: NamedDependency[UserService],
    role_service: NamedDependency[RoleService],
    data: JSONBody[PasswordResetRequest | None] = None,
) -> PasswordResetOut:
    """Give another user a new password and end all their sessions (access and refresh tokens).

    Without a body (or with ``{}``) a one-time password is generated and returned, this once, in ``password``;
    with ``{"password": "..."}`` that password is set (the password policy applies) and ``password`` is null.
    Needs users:manage and every permission the user holds. Your own password is changed with
    ``POST /auth/password`` instead (403 here).
    """
    chosen = data.password if data is not None else None
    user, password = await user_service.reset_password(principal, _user_id(user_id), chosen)
    roles = await role_service.all_roles()
    return PasswordResetOut(user=UserOut.of(user, roles), password=None if chosen is not None else password)


USER_HANDLERS = [
    list_users,
    create_user,
    get_user,
    update_user,
    set_roles,
    disable_user,
    enable_user,
    reset_password,
]
