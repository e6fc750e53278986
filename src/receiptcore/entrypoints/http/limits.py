"""Request limits the framework does not enforce itself: JSON bodies must say so, and how deeply they may nest.

A body like ``[[[[...]]]]`` a few thousand levels deep makes the JSON decoder recurse until Python gives up;
it is refused before decoding instead. Bodies are already capped in bytes by ``request_max_body_size``.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.exceptions import ClientException

from receiptcore.errors import UnsupportedMediaType, ValidationFailed

MAX_JSON_DEPTH = 64
# a string literal (skipped whole, so brackets inside text do not count) or one bracket
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in ``body`` (brackets inside strings ignored)."""
    depth = deepest = 0
    for match in _TOKEN.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest


async def reject_deep_json(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook for routes that take a JSON body (a ``data`` parameter).

    A body in another media type is a 415 problem (a ``text/plain`` form post must not pass for JSON: it skips
    the browser's CORS preflight); one that is not UTF-8 is a 400 problem, like any other malformed JSON; one
    nested deeper than ``MAX_JSON_DEPTH`` is a 422 problem.
    """
    if "data" not in request.route_handler.parsed_fn_signature.parameters:
        return  # no JSON body read here (uploads check their own media type)
    body = await request.body()
    if not body:
        return  # an optional body left out; a required one is reported missing by validation
    media_type, _ = request.content_type
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType("send the request body as application/json")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        # JSON is UTF-8 (RFC 8259); the framework's decoder would fail on these bytes with a 500
        raise ClientException("the JSON body is not valid UTF-8") from None
    # fast path: a body cannot nest deeper than it has openers (counting bytes is C speed)
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and json_depth(body) > MAX_JSON_DEPTH:
        raise ValidationFailed(f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep", errors=[])
