"""Sessions: log in, refresh, log out, who am I, change my password, and the public keys (JWKS).

The refresh token travels only in an ``HttpOnly; SameSite=Strict; Path=/auth`` cookie on the way out; scripts
that keep no cookies may send it back in the JSON body (``{"refresh_token": "..."}``) instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from receiptcore.domain.policy import Principal
from receiptcore.entrypoints.http.deps import container_of
from receiptcore.entrypoints.http.openapi import problems
from receiptcore.entrypoints.http.schemas import (
    LoginRequest,
    PasswordChangeRequest,
    RefreshRequest,
    TokenResponse,
    UserOut,
)
from receiptcore.entrypoints.http.security import AUTHENTICATED, PERMISSION_OPT
from receiptcore.errors import TokenRejected
from receiptcore.services.auth import AuthService, Session
from receiptcore.settings import Settings

REFRESH_COOKIE = "receiptcore_refresh"
REFRESH_COOKIE_PATH = "/auth"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _refresh_cookie(value: str, max_age: int, settings: Settings) -> Cookie:
    return Cookie(
        key=REFRESH_COOKIE,
        value=value,
        max_age=max_age,
        path=REFRESH_COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
    )


def _session_response(session: Session, settings: Settings) -> Response[TokenResponse]:
    remaining = (session.refresh_expires_at - dt.datetime.now(dt.UTC)).total_seconds()
    max_age = max(0, min(int(remaining), settings.refresh_absolute_ttl_seconds))
    return Response(
        TokenResponse(access_token=session.access_token, expires_in=session.expires_in),
        status_code=HTTP_200_OK,
        headers=_NO_STORE,
        cookies=[_refresh_cookie(session.refresh_token, max_age, settings)],
    )


def _presented_refresh_token(request: Request[Any, Any, Any], data: RefreshRequest | None) -> str | None:
    if data is not None and data.refresh_token:
        return data.refresh_token
    cookie = request.cookies.get(REFRESH_COOKIE)
    return cookie or None


@post("/auth/login", status_code=HTTP_200_OK, security=[{}], tags=["auth"], responses=problems(401, 429))
async def login(
    request: Request[Any, Any, Any],
    data: JSONBody[LoginRequest],
    auth_service: NamedDependency[AuthService],
    settings: NamedDependency[Settings],
) -> Response[TokenResponse]:
    """Exchange email and password for an access token (JSON) and a refresh token (cookie).

    Unknown email and wrong password get the same 401. After repeated failures the account (or the client
    address) backs off exponentially: tries during the wait get 429 with Retry-After, without the password being
    checked; the right password after the wait passes.
    """
    client = request.client.host if request.client is not None else None
    # past the logins this instance can check and queue: 429 overloaded at once, before any read or write
    with container_of(request.app.state).login_admission().ticket():
        session = await auth_service.login(data.email, data.password, client=client)
    return _session_response(session, settings)


@post("/auth/refresh", status_code=HTTP_200_OK, security=[{}], tags=["auth"], responses=problems(401))
async def refresh(
    request: Request[Any, Any, Any],
    auth_service: NamedDependency[AuthService],
    settings: NamedDependency[Settings],
    data: JSONBody[RefreshRequest | None] = None,
) -> Response[TokenResponse]:
    """Rotate the refresh token (cookie or body) and get a new access token. A reused token revokes its family."""
    token = _presented_refresh_token(request, data)
    if token is None:
        raise TokenRejected('no refresh token: send the refresh cookie or {"refresh_token": ...}')
    session = await auth_service.refresh(token)
    return _session_response(session, settings)


@post("/auth/logout", status_code=HTTP_204_NO_CONTENT, security=[{}], tags=["auth"])
async def logout(
    request: Request[Any, Any, Any],
    auth_service: NamedDependency[AuthService],
    settings: NamedDependency[Settings],
    data: JSONBody[RefreshRequest | None] = None,
) -> Response[None]:
    """Revoke the session's refresh token family and clear the cookie. Idempotent."""
    await auth_service.logout(_presented_refresh_token(request, data))
    return Response(
        None, status_code=HTTP_204_NO_CONTENT, headers=_NO_STORE, cookies=[_refresh_cookie("", 0, settings)]
    )


@get("/auth/me", opt={PERMISSION_OPT: AUTHENTICATED}, tags=["auth"])
async def me(
    principal: NamedDependency[Principal],
    auth_service: NamedDependency[AuthService],
) -> UserOut:
    """The caller's own user record with the permissions their roles grant."""
    user = await auth_service.me(principal)
    # the principal's permissions were resolved from the user's current roles through the auth service's
    # role cache; re-reading every role definition here would cost a store read per request
    return UserOut.of_permissions(user, principal.permissions)


@post(
    "/auth/password",
    status_code=HTTP_204_NO_CONTENT,
    opt={PERMISSION_OPT: AUTHENTICATED},
    tags=["auth"],
    responses=problems(429),
)
async def change_password(
    data: JSONBody[PasswordChangeRequest],
    principal: NamedDependency[Principal],
    auth_service: NamedDependency[AuthService],
) -> None:
    """Change the caller's password; every existing session of the caller ends."""
    await auth_service.change_password(principal, data.current_password, data.new_password)


@get("/.well-known/jwks.json", security=[{}], tags=["auth"])
async def jwks(state: State) -> Response[dict[str, Any]]:
    """The public keys that verify access tokens (JSON Web Key Set)."""
    keys: dict[str, Any] = container_of(state).token_issuer().jwks()
    return Response(keys, headers={"Cache-Control": "public, max-age=300"})


AUTH_HANDLERS = [login, refresh, logout, me, change_password, jwks]
