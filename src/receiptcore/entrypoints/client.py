"""A small synchronous HTTP client of the receiptcore API, for the CLI's import, watch and export commands.

It speaks only the public REST API (what a browser or a script can do), logs in with email and password or uses
a given access token, signs in again when a long ``watch`` outlives its 5-minute access token, and turns problem
documents (RFC 9457) into the ``receiptcore.errors`` class of their status, so the CLI prints one line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from receiptcore import __version__
from receiptcore.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidCredentials,
    InvalidUpload,
    NotFound,
    PermissionDenied,
    RateLimited,
    ReceiptcoreError,
    StorageUnavailable,
    UnsupportedMediaType,
    UploadTooLarge,
    ValidationFailed,
    VersionConflict,
)

DEFAULT_SERVER = "http://127.0.0.1:8000"

_STATUS_ERRORS: dict[int, type[ReceiptcoreError]] = {
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    412: VersionConflict,
    413: UploadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationFailed,
    429: RateLimited,
    503: StorageUnavailable,
}


class ServerUnreachable(StorageUnavailable):
    """The receiptcore server did not answer (not running, wrong URL, network down)."""

    code = "server-unreachable"


@dataclass(frozen=True, slots=True)
class UploadResult:
    """One file's upload outcome: created (new receipt), duplicate (same bytes already stored) and the receipt."""

    receipt_id: str
    status: str
    created: bool


def problem_error(response: httpx.Response) -> ReceiptcoreError:
    """The ``receiptcore.errors`` exception for an error response, carrying the problem's detail."""
    detail = ""
    with suppress(ValueError):
        body = response.json()
        if isinstance(body, dict):
            detail = str(body.get("detail") or body.get("title") or "")
    detail = detail or f"HTTP {response.status_code} {response.reason_phrase}"
    cls = _STATUS_ERRORS.get(response.status_code, ReceiptcoreError)
    if response.status_code == 422 and response.request.url.path.rstrip("/").endswith("/api/receipts"):
        cls = InvalidUpload
    if cls is RateLimited:
        retry = response.headers.get("Retry-After", "60")
        return RateLimited(detail, retry_after=float(retry) if retry.isdigit() else 60.0)
    return cls(detail)


class ApiClient:
    """The CLI's view of one server.

    Args:
        server: base URL, e.g. ``http://127.0.0.1:8000``.
        token: an access token to use as is (``RECEIPTCORE_TOKEN``); or
        email, password: credentials to log in with (again when the token expires).
        transport: an httpx transport (tests pass ``httpx.ASGITransport`` or a ``MockTransport``).
        token_source: or a function returning a valid access token (``True``: the last one was refused, get a
            new one), e.g. a stored session of ``receiptcore login`` that refreshes silently.
        timeout: seconds per request; uploads of large PDFs can take a while on a slow link.
    """

    def __init__(
        self,
        server: str = DEFAULT_SERVER,
        *,
        token: str | None = None,
        email: str | None = None,
        password: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
        token_source: Callable[[bool], str] | None = None,
    ) -> None:
        self._server = server.rstrip("/")
        self._token_source = token_source
        self._token = token
        self._email = email
        self._password = password
        self._http = httpx.Client(
            base_url=self._server,
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": f"receiptcore-cli/{__version__}"},
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    @property
    def server(self) -> str:
        """The base URL."""
        return self._server

    def login(self) -> str:
        """Log in with the configured email and password; returns (and keeps) the access token."""
        if not self._email or self._password is None:
            raise AuthenticationFailed("no credentials: pass --email and a password, or set RECEIPTCORE_TOKEN")
        response = self._send("POST", "/auth/login", json={"email": self._email, "password": self._password})
        if response.status_code == 401:
            raise InvalidCredentials("wrong email or password")
        if response.is_error:
            raise problem_error(response)
        self._token = str(response.json()["access_token"])
        return self._token

    def me(self) -> dict[str, Any]:
        """The signed-in user (checks the credentials early)."""
        return dict(self._request("GET", "/auth/me").json())

    def upload(self, path: Path, content: bytes | None = None) -> UploadResult:
        """Upload one file as a receipt. Raises InvalidUpload (and subclasses) when the server refuses it."""
        data = path.read_bytes() if content is None else content
        response = self._request("POST", "/api/receipts", files=[("file", (path.name, data))])
        return _upload_result(response)

    def get_receipt(self, receipt_id: str) -> dict[str, Any]:
        """One receipt as the API shows it."""
        return dict(self._request("GET", f"/api/receipts/{receipt_id}").json())

    def list_receipts(self, params: dict[str, str] | None = None) -> dict[str, Any]:
        """One page of ``GET /api/receipts``."""
        return dict(self._request("GET", "/api/receipts", params=params or {}).json())

    @contextmanager
    def export(self, fmt: str, params: dict[str, str]) -> Iterator[Iterator[bytes]]:
        """Stream ``GET /api/receipts/export`` as chunks of bytes."""
        query = {**params, "format": fmt}
        for attempt in range(2):
            request = self._http.build_request("GET", "/api/receipts/export", params=query, headers=self._auth())
            try:
                response = self._http.send(request, stream=True)
            except httpx.TransportError as exc:
                raise self._unreachable(exc) from exc
            try:
                if response.status_code == 401 and attempt == 0 and self._can_relogin():
                    self._renew()
                    continue
                if response.is_error:
                    response.read()
                    raise problem_error(response)
                yield response.iter_bytes()
                return
            finally:
                response.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send with the access token; on 401 sign in again once (tokens live minutes; a watch lives days)."""
        if self._token is None:
            self._token = self._token_source(False) if self._token_source is not None else self.login()
        response = self._send(method, path, headers=self._auth(), **kwargs)
        if response.status_code == 401 and self._can_relogin():
            self._renew()
            response = self._send(method, path, headers=self._auth(), **kwargs)
        if response.is_error:
            raise problem_error(response)
        return response

    def _can_relogin(self) -> bool:
        return self._token_source is not None or (bool(self._email) and self._password is not None)

    def _renew(self) -> None:
        if self._token_source is not None:
            self._token = self._token_source(True)
        else:
            self.login()

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: httpx.TransportError) -> ServerUnreachable:
        reason = str(exc) or exc.__class__.__name__
        return ServerUnreachable(f"cannot reach the receiptcore server at {self._server}: {reason}")


def _upload_result(response: httpx.Response) -> UploadResult:
    """Read the upload answer: 202 = created, 200 = the same file was already stored (a duplicate)."""
    body = response.json()
    items = body
    if isinstance(body, dict):
        items = body.get("receipts") or body.get("items") or [body]
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise ReceiptcoreError(f"unexpected upload answer from the server: {str(body)[:200]}")
    item = items[0]
    nested = item.get("receipt")
    receipt: dict[str, Any] = nested if isinstance(nested, dict) else item
    if "duplicate" in item:
        created = not bool(item["duplicate"])
    elif "created" in item:
        created = bool(item["created"])
    else:
        created = response.status_code == 202
    return UploadResult(receipt_id=str(receipt["id"]), status=str(receipt.get("status", "")), created=created)
