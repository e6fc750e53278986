"""Routes that serve the web client: the page shell at each client path, the assets under ``/static/``.

Assets are read from the installed package once and kept in memory with a strong ETag (their SHA-256), so a
revalidation costs one hash lookup. Vendored libraries sit in versioned folders (``vendor/<name>-<version>/``) and
are cached for a year; the client's own files and the shell are revalidated on every load (``no-cache``), so an
upgrade is picked up at once without a build step that would fingerprint file names.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.status_codes import HTTP_304_NOT_MODIFIED

from receiptcore.entrypoints.http.security import WEB_CSP

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static"

# Every path of the single-page client: each answers the same shell, the client's router draws the page.
PAGE_PATHS: tuple[str, ...] = (
    "/",
    "/login",
    "/receipts",
    "/receipts/{rid:str}",
    "/review",
    "/dashboard",
    "/merchants",
    "/merchants/{rid:str}",
    "/settings",
    "/admin/users",
    "/admin/roles",
)

_TYPES = {
    # Litestar appends "; charset=utf-8" to text/* types itself
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
    ".txt": "text/plain",
    ".md": "text/plain",
    ".webmanifest": "application/manifest+json",
}
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"


@dataclass(frozen=True, slots=True)
class _Asset:
    content: bytes
    media_type: str
    etag: str
    cache_control: str


_cache: dict[str, _Asset] = {}


def _load(relative: str) -> _Asset | None:
    """The asset at ``relative`` (a path under ``static/``), or None when there is no such file."""
    cached = _cache.get(relative)
    if cached is not None:
        return cached
    parts = PurePosixPath(relative).parts
    # no traversal, no hidden files, no absolute paths: only plain names below static/
    if not parts or any(p in ("", ".", "..") or p.startswith(".") or "\\" in p for p in parts):
        return None
    path = STATIC_DIR.joinpath(*parts)
    if not path.is_file() or STATIC_DIR not in path.resolve().parents:
        return None
    content = path.read_bytes()
    media_type = _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    cache_control = _IMMUTABLE if parts[0] == "vendor" else _REVALIDATE
    asset = _Asset(content, media_type, f'"{hashlib.sha256(content).hexdigest()[:32]}"', cache_control)
    _cache[relative] = asset
    return asset


def _answer(request: Request[Any, Any, Any], asset: _Asset, *, csp: bool) -> Response[bytes]:
    headers = {"ETag": asset.etag, "Cache-Control": asset.cache_control, "X-Content-Type-Options": "nosniff"}
    if csp:
        headers["Content-Security-Policy"] = WEB_CSP
    if asset.etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
        return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers, media_type=asset.media_type)
    return Response(asset.content, headers=headers, media_type=asset.media_type)


@get(list(PAGE_PATHS), include_in_schema=False, sync_to_thread=False)
def web_page(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The client's shell (the same document for every page path; the client's router draws the page)."""
    asset = _load("index.html")
    if asset is None:
        raise NotFoundException("the web client is not installed")
    return _answer(request, asset, csp=True)


@get(f"{STATIC_PREFIX}/{{path:path}}", include_in_schema=False, sync_to_thread=False)
def web_asset(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[bytes]:
    """A file of the client (scripts, styles, icons, vendored libraries)."""
    asset = _load(path.lstrip("/"))
    if asset is None:
        raise NotFoundException(f"no such file: {STATIC_PREFIX}{path}")
    return _answer(request, asset, csp=True)


def web_handlers() -> list[Any]:
    """The route handlers of the web client."""
    return [web_page, web_asset]
