"""The two hottest reads, ``GET /auth/me`` and ``GET /api/receipts/{rid}``, answered without Litestar's routing.

Measured through the ASGI app (``bench/request_cost_bench.py``), most of such a request's CPU is the framework
around it: the router, the app-wide guard and the dependency graph (resolved in anyio task groups), the response
object and its header merging. The work that matters is small and is all done here, with the same functions the
routed request uses, in the same order:

1. the token of the ``Authorization: Bearer`` header (``security.parse_bearer``);
2. ``Authenticator.authenticate``: the verified-token cache or the signature check, then every revocation check
   (change counter, user state, session), exactly as the guard runs it;
3. the permission the route handler declares in its ``opt`` (``security.allows``, read from the handler itself);
4. the same service call inside the caller's scope (``AuthService.me``; ``ReceiptService.get_rendered``, the
   list item the SQLite store keeps rendered with each receipt, which is ``receipt_to_api`` of it encoded as
   Litestar encodes it, else ``ReceiptService.get_dumped``, which is ``get`` as its JSON-mode dump, read from
   the store's own copy without building the model) and the same representation (``UserOut``, its rendering
   kept per user state read; the kept item's bytes, or ``dumped_receipt_to_api`` of the dump, key for key),
   encoded as Litestar encodes it. ``/auth/me`` keeps its whole answer per caller while the store's change
   counter, which every write of a user row moves, stands still (``_MeAnswers``): steps 1-3 run on every request.

Only the success of all of that is answered here. Anything else (no or a malformed token, a rejected or revoked
token, a missing permission, another owner's receipt, an id that is not an id, a query string, a store error, an
unexpected exception) hands the request, untouched, to the Litestar app, which checks it again from the start and
answers with its problem document. That second pass only happens on refusals, and it keeps one source for every
error answer. ``tests/api/test_fast_paths_api.py`` compares both paths byte for byte, and pins that a revoked token
and another owner's id are refused on the next request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import monotonic
from typing import TYPE_CHECKING, Any

from receiptcore.domain.ids import is_id
from receiptcore.entrypoints.http.auth_routes import me as me_handler
from receiptcore.entrypoints.http.raw import Headers, encode_json, json_headers, send_answer
from receiptcore.entrypoints.http.receipt_params import etag
from receiptcore.entrypoints.http.receipt_routes import get_receipt as get_receipt_handler
from receiptcore.entrypoints.http.representation import API_LISTING, dumped_receipt_to_api
from receiptcore.entrypoints.http.schemas import UserOut
from receiptcore.entrypoints.http.security import allows, declared_permission, parse_bearer

if TYPE_CHECKING:
    from receiptcore.domain.policy import Principal
    from receiptcore.entrypoints.container import Container
    from receiptcore.services.authentication import Authenticator

ME_PATH = "/auth/me"
RECEIPT_PREFIX = "/api/receipts/"
# the route templates Litestar puts in scope["path_template"] (the access log's and the metrics' route label)
ME_TEMPLATE = "/auth/me"
RECEIPT_TEMPLATE = "/api/receipts/{rid}"

Answer = tuple[Headers, bytes]
# renderings and answers of /auth/me kept (one per user and state, one per caller; all dropped when full)
ME_BODIES_KEPT = 1024
# the longest an answer of /auth/me is kept while the store's change counter stands still (the user state TTL)
ME_KEPT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class _KeptAnswer:
    """An answer of ``/auth/me``, kept while ``Authenticator.changes_seen`` is ``seen`` and until ``until``
    (``monotonic``)."""

    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    seen: int
    until: float


def required_permission(handler: Any) -> str | tuple[str, ...]:
    """The permission ``handler`` declares; every fast-path route declares one."""
    required = declared_permission(handler)
    if required is None:  # pragma: no cover - tests/api/test_route_permissions.py pins both declarations
        msg = f"{handler} declares no permission"
        raise RuntimeError(msg)
    return required


def authorization_header(scope: Any) -> str | None:
    """The request's Authorization header as sent (latin-1), or None: shared by the fast paths."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value).decode("latin-1")
    return None


async def authorized_answer(
    authenticator: Callable[[], Authenticator],
    scope: Any,
    required: str | tuple[str, ...],
    produce: Callable[[Principal], Awaitable[Answer]],
) -> Answer | None:
    """``produce``'s answer for the bearer of the request's token when it holds ``required``; None when the header
    is missing, the token refused, the permission lacking or anything fails (shared by the fast paths)."""
    header = authorization_header(scope)
    if header is None:
        return None
    try:
        principal = await authenticator().authenticate(parse_bearer(header))
        if not allows(principal, required):
            return None
        return await produce(principal)
    except Exception:
        # refused or failed: the routed request checks it again and answers it with its problem document (an
        # unexpected error is logged there and answered with the bare 500)
        return None


class _MeAnswers:
    """The answers of ``GET /auth/me`` for callers whose token passed: ``AuthService.me`` rendered as ``UserOut``.

    The rendering of a user read is kept under the values it is a function of (``UserOut.of_permissions``; a
    datetime's offset is in the key: equal instants with another offset render otherwise). With a store whose
    change counter moves with every committed write of a user row (``Authenticator.changes_seen`` is not None: the
    SQLite file, whichever process wrote it), the whole answer is also kept per caller (user id and permissions)
    while the counter stands still: the request that kept it read the user after its own counter read, and a write
    of that row since would have moved the counter read by this request's ``authenticate``. ``ME_KEPT_SECONDS``
    bounds it besides, should the file ever change without the counter (a copy put back under a running server).
    """

    def __init__(self, container: Container) -> None:
        self._container = container
        self._bodies: dict[tuple[Any, ...], bytes] = {}
        self._current: dict[tuple[str, frozenset[str]], _KeptAnswer] = {}

    async def __call__(self, principal: Principal) -> Answer:
        seen = self._container.authenticator().changes_seen
        key = (principal.user_id, principal.permissions)
        if seen is not None:
            kept = self._current.get(key)
            if kept is not None and kept.seen == seen and monotonic() < kept.until:
                return list(kept.headers), kept.body
        user = await self._container.auth_service().me(principal)
        created, updated = user.created_at, user.updated_at
        values: tuple[Any, ...] = (
            *(user.id, user.email, user.display_name, tuple(user.roles), user.disabled, principal.permissions),
            *(created, created.utcoffset(), updated, updated.utcoffset()),
        )
        body = self._bodies.get(values)
        if body is None:
            body = encode_json(UserOut.of_permissions(user, principal.permissions).model_dump(mode="json"))
            if len(self._bodies) >= ME_BODIES_KEPT:
                self._bodies.clear()
            self._bodies[values] = body
        headers = json_headers(body)
        # nothing is kept when a state was dropped while the user was read (an event, a moved counter)
        if seen is not None and self._container.authenticator().changes_seen == seen:
            if len(self._current) >= ME_BODIES_KEPT:
                self._current.clear()
            self._current[key] = _KeptAnswer(tuple(headers), body, seen, monotonic() + ME_KEPT_SECONDS)
        return headers, body


def fast_reads(app: Any, container: Container, service: str) -> Any:
    """Wrap ``app`` (Litestar's ``asgi_handler``) with the fast answers of the routes ``service`` mounts."""
    # the container's singleton, looked up per request (a dict hit), not here: building the app must not build
    # the token verifier, which opens the key directory and would create the data dir before `serve` has checked
    # what it needs (tests/cli/test_cli_first_hour.py)
    authenticator = container.authenticator
    serve_me = service in ("all", "auth")
    serve_receipts = service in ("all", "receipts")
    me_permission = required_permission(me_handler)
    read_permission = required_permission(get_receipt_handler)

    me = _MeAnswers(container)

    async def receipt(principal: Principal, rid: str) -> Answer:
        service = container.receipt_service()
        # the list item the store keeps rendered is this answer's body (receipt_to_api, encoded as Litestar does)
        rendered = await service.get_rendered(principal, rid, API_LISTING)
        if rendered is not None:
            body, version = rendered
        else:
            # the receipt as its JSON-mode dump, reshaped without building the pydantic model (dumped_receipt_to_api)
            found = await service.get_dumped(principal, rid)
            body, version = encode_json(dumped_receipt_to_api(found)), found["version"]
        return json_headers(body, extra=[(b"etag", etag(version).encode())]), body

    async def fast(scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and not scope.get("query_string")
            and not scope.get("root_path")
        ):
            path: str = scope["path"]
            result: Answer | None = None
            template = ""
            if serve_me and path == ME_PATH:
                template = ME_TEMPLATE
                result = await authorized_answer(authenticator, scope, me_permission, me)
            elif serve_receipts and path.startswith(RECEIPT_PREFIX):
                rid = path[len(RECEIPT_PREFIX) :]
                if is_id(rid):  # anything else is routed, and the route checks it again
                    template = RECEIPT_TEMPLATE
                    result = await authorized_answer(
                        authenticator, scope, read_permission, lambda principal: receipt(principal, rid)
                    )
            if result is not None:
                scope["path_template"] = template
                headers, body = result
                await send_answer(send, 200, headers, body)
                return
        await app(scope, receive, send)

    return fast
