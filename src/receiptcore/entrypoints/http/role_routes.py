"""Roles: list built-in and custom roles; create, update and delete custom ones."""

from __future__ import annotations

import re

from litestar import delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from receiptcore.domain.policy import Principal
from receiptcore.domain.users import ROLE_NAME_PATTERN, ROLES_MANAGE, USERS_READ
from receiptcore.entrypoints.http.openapi import problems
from receiptcore.entrypoints.http.schemas import RoleCreateRequest, RoleList, RoleOut, RoleUpdateRequest
from receiptcore.entrypoints.http.security import PERMISSION_OPT
from receiptcore.errors import NotFound
from receiptcore.services.users import RoleService

_TAGS = ["roles"]
_ROLE_NAME = re.compile(ROLE_NAME_PATTERN)


def _role_name(value: str) -> str:
    # a name no role can have is not found, whatever bytes it holds
    if not _ROLE_NAME.match(value):
        raise NotFound("no such role")
    return value


@get("/roles", opt={PERMISSION_OPT: (USERS_READ, ROLES_MANAGE)}, tags=_TAGS)
async def list_roles(principal: NamedDependency[Principal], role_service: NamedDependency[RoleService]) -> RoleList:
    """Every role, built-in ones first as the service orders them."""
    roles = await role_service.list_roles(principal)
    return RoleList(items=[RoleOut.of(r) for r in roles])


@post("/roles", status_code=HTTP_201_CREATED, opt={PERMISSION_OPT: ROLES_MANAGE}, tags=_TAGS, responses=problems(409))
async def create_role(
    data: JSONBody[RoleCreateRequest], principal: NamedDependency[Principal], role_service: NamedDependency[RoleService]
) -> RoleOut:
    """Create a custom role from known permission strings."""
    role = await role_service.create_role(principal, data.name, data.permissions, data.description)
    return RoleOut.of(role)


@patch("/roles/{name:str}", opt={PERMISSION_OPT: ROLES_MANAGE}, tags=_TAGS, responses=problems(404, 409))
async def update_role(
    name: FromPath[str],
    data: JSONBody[RoleUpdateRequest],
    principal: NamedDependency[Principal],
    role_service: NamedDependency[RoleService],
) -> RoleOut:
    """Change a custom role's permissions or description (holders' tokens follow at once)."""
    role = await role_service.update_role(
        principal, _role_name(name), permissions=data.permissions, description=data.description
    )
    return RoleOut.of(role)


@delete(
    "/roles/{name:str}",
    status_code=HTTP_204_NO_CONTENT,
    opt={PERMISSION_OPT: ROLES_MANAGE},
    tags=_TAGS,
    responses=problems(404, 409),
)
async def delete_role(
    name: FromPath[str], principal: NamedDependency[Principal], role_service: NamedDependency[RoleService]
) -> None:
    """Delete a custom role that no user holds."""
    await role_service.delete_role(principal, _role_name(name))


ROLE_HANDLERS = [list_roles, create_role, update_role, delete_role]
