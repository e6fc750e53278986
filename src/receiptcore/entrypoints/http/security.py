"""Bearer authentication and the permission guard every route passes through.

Each route handler declares what it needs in its ``opt``: ``opt={"permission": "receipts:read"}`` (a permission
string, or a tuple meaning "any of these"), or ``AUTHENTICATED`` for routes any signed-in caller may use (the
service then decides, e.g. "your own user record"). Routes that need no token are listed, by method and path
template, in ``PUBLIC_ROUTES`` — the only place that grants anonymous access. A route that declares nothing and
is not public is refused (fail closed), and ``tests/api/test_route_permissions.py`` fails on it.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from receiptcore.domain.policy import Principal
from receiptcore.domain.users import RECEIPTS_READ, RECEIPTS_READ_ANY, RECEIPTS_WRITE, RECEIPTS_WRITE_ANY
from receiptcore.errors import PermissionDenied, TokenRejected

logger = logging.getLogger(__name__)

CONTAINER_KEY = "container"

# The Content-Security-Policy of the web client's pages and assets: only this origin, no inline script or style,
# images also from blob: URLs (the review page shows a receipt fetched with the bearer token as a blob). The one
# definition: docker/nginx.conf carries a copy and a test compares the two.
WEB_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The API documentation viewers (Swagger UI, ReDoc, served from the package): scripts only from this origin, but
# both inject <style> elements and ReDoc runs its search index in a blob: worker.
SCHEMA_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# Every other response (the API's JSON, problem documents): nothing may load, frame or be submitted.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PERMISSION_OPT = "permission"
AUTHENTICATED = "authenticated"
_PRINCIPAL_STATE = "principal"

# Every route reachable without a bearer token, as "METHOD /path/template". Nothing else is public.
PUBLIC_ROUTES: frozenset[str] = frozenset(
    {
        "POST /auth/login",
        "POST /auth/refresh",
        "POST /auth/logout",
        "GET /.well-known/jwks.json",
        "GET /health/live",
        "GET /health/ready",
        # the web client's page shell and assets (entrypoints/web): static files, no user data
        "GET /",
        "GET /login",
        "GET /receipts",
        "GET /receipts/{rid}",
        "GET /review",
        "GET /dashboard",
        "GET /merchants",
        "GET /merchants/{rid}",
        "GET /settings",
        "GET /admin/users",
        "GET /admin/roles",
        "GET /static/{path}",
        # OpenAPI documents and viewers (Litestar's OpenAPI controller)
        "GET /schema",
        "GET /schema/openapi.json",
        "GET /schema/openapi.yaml",
        "GET /schema/openapi.yml",
        "GET /schema/swagger",
        "GET /schema/redoc",
        "GET /schema/{path}",
    }
)

# A "*:any" permission reaches everyone's receipts, so it implies the caller may use the route at all.
_IMPLIED_BY: dict[str, tuple[str, ...]] = {
    RECEIPTS_READ: (RECEIPTS_READ_ANY,),
    RECEIPTS_WRITE: (RECEIPTS_WRITE_ANY,),
}


def route_key(method: str, path_template: str) -> str:
    """The ``PUBLIC_ROUTES`` key of a route."""
    return f"{method.upper()} {path_template}"


def is_public(method: str, path_template: str) -> bool:
    """Whether the route is on the public list."""
    return route_key(method, path_template) in PUBLIC_ROUTES


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The token of an ``Authorization: Bearer <token>`` header. Raises TokenRejected when absent or malformed."""
    return parse_bearer(connection.headers.get("authorization"))


def parse_bearer(header: str | None) -> str:
    """The token of an ``Authorization`` header's value. Raises TokenRejected when absent or malformed."""
    if not header:
        raise TokenRejected("this route needs an access token (Authorization: Bearer ...)")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 8192:
        raise TokenRejected("the Authorization header must be 'Bearer <access token>'")
    return token


async def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """Authenticate the caller once per request (the result is kept in the connection state)."""
    cached = connection.state.get(_PRINCIPAL_STATE)
    if isinstance(cached, Principal):
        return cached
    token = bearer_token(connection)
    # the Authenticator, not the AuthService: the receipts service verifies with public keys only
    authenticator = connection.app.state[CONTAINER_KEY].authenticator()
    principal: Principal = await authenticator.authenticate(token)
    connection.state[_PRINCIPAL_STATE] = principal
    return principal


def declared_permission(handler: BaseRouteHandler) -> str | tuple[str, ...] | None:
    """What a handler declares in ``opt["permission"]``, or None."""
    value = handler.opt.get(PERMISSION_OPT)
    if isinstance(value, str) or (isinstance(value, tuple) and all(isinstance(v, str) for v in value)):
        return value
    return None


def allows(principal: Principal, required: str | tuple[str, ...]) -> bool:
    """Whether the principal satisfies a declared permission (any of a tuple; ``*:any`` implies the base)."""
    if required == AUTHENTICATED:
        return True
    options = (required,) if isinstance(required, str) else required
    return any(principal.can(p) or any(principal.can(i) for i in _IMPLIED_BY.get(p, ())) for p in options)


async def permission_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The app-wide guard: public routes pass; every other route authenticates and checks its permission."""
    method = str(connection.scope.get("method", "GET"))
    template = str(connection.scope.get("path_template", ""))
    if method == "OPTIONS" or is_public(method, template):
        # OPTIONS (Litestar's automatic handler) only lists the allowed methods; it touches no data
        return
    required = declared_permission(handler)
    if required is None:
        # fail closed: a route someone forgot to annotate is nobody's
        logger.error("route %s %s declares no permission; refusing", method, template)
        raise PermissionDenied("this route is not available")
    principal = await principal_of(connection)
    if not allows(principal, required):
        wanted = required if isinstance(required, str) else " or ".join(required)
        raise PermissionDenied(f"this action needs the permission {wanted!r}")
