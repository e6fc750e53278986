"""Answers written straight to ASGI, for the few paths that answer before (or instead of) Litestar's routing.

The headers every response carries (``with_security_headers``, which ``app._security_headers`` applies to every
response, these answers included) and a JSON / problem-document writer whose bytes are the ones Litestar sends
for the same content: msgspec encodes the body, as Litestar's default serializer does, and
``tests/api/test_fast_paths_api.py`` compares both answers header for header.
"""

from __future__ import annotations

from typing import Any

import msgspec

from receiptcore.entrypoints.http.errors import problem_document
from receiptcore.entrypoints.http.security import API_CSP, SCHEMA_CSP

Headers = list[tuple[bytes, bytes]]

API_SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", API_CSP),
)
_ALWAYS: Headers = [(name.lower().encode(), value.encode()) for name, value in API_SECURITY_HEADERS[:3]]
_ALWAYS_NAMES = frozenset(name for name, _ in _ALWAYS)
_CSP = b"content-security-policy"
_API_CSP = (_CSP, API_CSP.encode())
_SCHEMA_CSP = (_CSP, SCHEMA_CSP.encode())
_NO_STORE = (b"cache-control", b"no-store")
_encode = msgspec.json.Encoder().encode


def with_security_headers(headers: Any, path: str) -> Headers:
    """``headers`` (ASGI pairs) with the headers every response carries (``app._security_headers`` applies it).

    nosniff, no referrer and no framing replace whatever the handler set; the API's CSP and ``no-store`` are
    added unless the handler chose its own (file downloads, page images, the web client's assets); under
    ``/schema`` the documentation viewers' CSP replaces any other.
    """
    names = {bytes(name).lower() for name, _ in headers}
    out: Headers = [(name, value) for name, value in headers if bytes(name).lower() not in _ALWAYS_NAMES]
    out += _ALWAYS
    if path.startswith("/schema"):
        out = [(name, value) for name, value in out if bytes(name).lower() != _CSP]
        out.append(_SCHEMA_CSP)
        return out
    if _CSP not in names:
        out.append(_API_CSP)
    if _NO_STORE[0] not in names:
        out.append(_NO_STORE)
    return out


def json_headers(body: bytes, media_type: bytes = b"application/json", extra: Headers | None = None) -> Headers:
    """The headers of a JSON answer of ``body``: ``extra``, type and length (the app's ``before_send`` adds the
    security headers to these answers too: they are sent from inside the Litestar app)."""
    return [*(extra or ()), (b"content-type", media_type), (b"content-length", str(len(body)).encode())]


def encode_json(content: Any) -> bytes:
    """``content`` as Litestar's serializer writes it (msgspec, compact)."""
    return _encode(content)


def problem_body(status: int, code: str, detail: str, instance: str) -> bytes:
    """The bytes of the problem document ``errors.problem`` builds for the same arguments."""
    return encode_json(problem_document(status, code, detail, instance=instance))


async def send_answer(send: Any, status: int, headers: Headers, body: bytes) -> None:
    """Write one whole response."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
