"""``GET /api/receipts`` (a listing page) answered without Litestar's routing, as ``fastpath.py`` answers one receipt.

With its items rendered when they were written (``representation.API_LISTING``), a page costs the store a few
hundred µs; most of the rest was the framework around it: routing, the guard, the dependency graph (anyio task
groups) and the signature model parsing the query string. Here the same steps run with the same functions, in the
same order: the bearer token (``security.parse_bearer``), ``Authenticator.authenticate`` (cached token, every
revocation check), the permission the route handler declares (``security.allows``), the query string checked
against the rules the route declares for each parameter (the ``QueryParameter`` of ``provide_receipt_query``:
maximum length and pattern, read from its signature), ``provide_receipt_query`` itself, the same service call
(``ReceiptService.list_rendered``) and the route's body and ``Link`` header.

Only a full success is answered here. Anything else (no or a bad token, a missing permission, a parameter the
route does not declare, a repeated or undecodable one, one its rules refuse, a filter the query refuses, a store
error) hands the untouched request to Litestar, which checks it again and answers it, so every error keeps one
source. ``tests/api/test_listing_fast_path_api.py`` compares both answers byte for byte.
"""

from __future__ import annotations

import inspect
import re
import typing
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus, urlencode

from litestar._parsers import parse_query_string
from litestar.datastructures import MultiDict
from litestar.params import KwargDefinition

from receiptcore.entrypoints.http.fastpath import authorized_answer, required_permission
from receiptcore.entrypoints.http.raw import Headers, json_headers, send_answer
from receiptcore.entrypoints.http.receipt_params import provide_receipt_query
from receiptcore.entrypoints.http.receipt_routes import list_receipts
from receiptcore.entrypoints.http.representation import API_LISTING, list_page_json

if TYPE_CHECKING:
    from litestar.datastructures import State

    from receiptcore.domain.policy import Principal
    from receiptcore.entrypoints.container import Container

LIST_PATH = "/api/receipts"
# constraints a parameter declaration may carry besides max_length and pattern: one of them set makes building the
# app fail, so a new kind of rule cannot be skipped here in silence
_UNCHECKED = (
    "gt",
    "ge",
    "lt",
    "le",
    "multiple_of",
    "min_items",
    "max_items",
    "min_length",
    "lower_case",
    "upper_case",
    "const",
)


def query_rules() -> dict[str, tuple[int | None, re.Pattern[str] | None]]:
    """Per query parameter of the listing, its maximum length and pattern, as ``provide_receipt_query`` declares
    them (Litestar checks them before the function runs: ``len`` and ``re.search``, as msgspec does)."""
    hints = typing.get_type_hints(provide_receipt_query, include_extras=True)
    rules: dict[str, tuple[int | None, re.Pattern[str] | None]] = {}
    for name, parameter in inspect.signature(provide_receipt_query).parameters.items():
        if parameter.kind is not parameter.KEYWORD_ONLY:
            continue
        declared = [m for m in getattr(hints[name], "__metadata__", ()) if isinstance(m, KwargDefinition)]
        if len(declared) != 1 or any(getattr(declared[0], rule, None) is not None for rule in _UNCHECKED):
            msg = f"the listing fast path cannot check the declaration of {name!r}"
            raise TypeError(msg)
        definition = declared[0]
        key = getattr(definition, "query", None) or name
        pattern = re.compile(definition.pattern) if definition.pattern else None
        rules[key] = (definition.max_length, pattern)
    return rules


def parse_query(
    raw: bytes, rules: dict[str, tuple[int | None, re.Pattern[str] | None]]
) -> list[tuple[str, str]] | None:
    """The query string's pairs as Litestar parses them, when each names a declared parameter once and passes its
    rules; else None."""
    pairs = list(parse_query_string(raw)) if raw else []
    if len({key for key, _ in pairs}) != len(pairs):
        return None
    for key, value in pairs:
        rule = rules.get(key)
        if rule is None:
            return None
        max_length, pattern = rule
        if (max_length is not None and len(value) > max_length) or (pattern is not None and not pattern.search(value)):
            return None
    return pairs


# the Link prefixes kept per query (without its cursor); emptied when full, so any query string costs memory once
LINK_CACHE_SIZE = 1024


def next_link(cache: dict[tuple[tuple[str, str], ...], bytes], pairs: list[tuple[str, str]], cursor: str) -> bytes:
    """The route's ``Link`` header value for the page after this one: the query's parameters in the order of
    Litestar's ``MultiDict`` (as the route writes them), its cursor replaced by ``cursor``, url-encoded.

    Everything before the cursor's value depends on the query alone and is kept in ``cache``; a cursor is
    url-safe base64 (``CursorCodec``), which ``urlencode`` leaves as it is, so it is appended unquoted (and
    quoted like the rest when it is not)."""
    kept = tuple(pair for pair in pairs if pair[0] != "cursor")
    # the MultiDict's order depends on its set of keys, the cursor's included: the key says whether it was there
    key = (*kept, ("cursor", "")) if len(kept) < len(pairs) else kept
    prefix = cache.get(key)
    if prefix is None:
        following = [(name, value) for name, value in MultiDict(pairs).multi_items() if name != "cursor"]
        query = urlencode(following)
        prefix = f"<{LIST_PATH}?{query}{'&' if query else ''}cursor=".encode("latin-1")
        if len(cache) >= LINK_CACHE_SIZE:
            cache.clear()
        cache[key] = prefix
    value = cursor if _URL_SAFE.fullmatch(cursor) else quote_plus(cursor)
    return prefix + value.encode("latin-1") + b'>; rel="next"'


_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")


def fast_listing(app: Any, container: Container, service: str, state: State) -> Any:
    """Wrap ``app`` (Litestar's ``asgi_handler``) with the fast answer of ``GET /api/receipts`` when ``service``
    mounts it; ``state`` is the app's (``provide_receipt_query`` reads the container from it)."""
    if service not in ("all", "receipts"):
        return app
    authenticator = container.authenticator  # looked up per request, as fastpath.fast_reads does (and why)
    required = required_permission(list_receipts)
    rules = query_rules()
    links: dict[tuple[tuple[str, str], ...], bytes] = {}

    async def answer(scope: Any) -> tuple[Headers, bytes] | None:
        pairs = parse_query(scope.get("query_string", b""), rules)
        if pairs is None:
            return None
        return await authorized_answer(authenticator, scope, required, lambda principal: listing(principal, pairs))

    async def listing(principal: Principal, pairs: list[tuple[str, str]]) -> tuple[Headers, bytes]:
        query = await provide_receipt_query(principal, state, **dict(pairs))
        page = await container.receipt_service().list_rendered(principal, query, API_LISTING)
        body = list_page_json(page.items, page.next_cursor)
        extra: Headers = []
        if page.next_cursor:
            extra.append((b"link", next_link(links, pairs, page.next_cursor)))
        return json_headers(body, extra=extra), body

    async def fast(scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"] == LIST_PATH
            and not scope.get("root_path")
        ):
            result = await answer(scope)
            if result is not None:
                scope["path_template"] = LIST_PATH
                headers, body = result
                await send_answer(send, 200, headers, body)
                return
        await app(scope, receive, send)

    return fast
