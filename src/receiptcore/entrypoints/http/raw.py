"""Answers written straight to ASGI, for the few paths that answer before (or instead of) Litestar's routing.

The headers every API response carries (``API_SECURITY_HEADERS``, also what ``app._security_headers`` adds) and a
JSON / problem-document writer whose bytes are the ones Litestar sends for the same content: msgspec encodes the
body, as Litestar's default serializer does, and ``tests/api/test_fast_paths_api.py`` compares both answers
header for header.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import msgspec

from receiptcore.entrypoints.http.errors import PROBLEM_BASE
from receiptcore.entrypoints.http.security import API_CSP

Headers = list[tuple[bytes, bytes]]

API_SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", API_CSP),
)
_SECURITY: Headers = [(name.lower().encode(), value.encode()) for name, value in API_SECURITY_HEADERS]
_NO_STORE: Headers = [(b"cache-control", b"no-store")]
_encode = msgspec.json.Encoder().encode


def json_headers(body: bytes, media_type: bytes = b"application/json", extra: Headers | None = None) -> Headers:
    """The headers of a JSON answer of ``body``: ``extra`` first, then type, length and the security headers."""
    return [
        *(extra or ()),
        (b"content-type", media_type),
        (b"content-length", str(len(body)).encode()),
        *_SECURITY,
        *_NO_STORE,
    ]


def encode_json(content: Any) -> bytes:
    """``content`` as Litestar's serializer writes it (msgspec, compact)."""
    return _encode(content)


def problem_body(status: int, code: str, detail: str, instance: str) -> bytes:
    """The bytes of the problem document ``errors.problem`` builds for the same arguments."""
    return encode_json(
        {
            "type": PROBLEM_BASE + code,
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "instance": instance,
        }
    )


async def send_answer(send: Any, status: int, headers: Headers, body: bytes) -> None:
    """Write one whole response."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
