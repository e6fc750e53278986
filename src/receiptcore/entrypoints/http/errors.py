"""The one place that turns exceptions into HTTP answers: RFC 9457 problem documents.

Every error a client can cause becomes ``application/problem+json`` with a stable ``type`` URI
(``https://receiptcore.dev/problems/<code>``), a ``title``, the ``status``, a ``detail`` sentence and the
``instance`` (request path); validation problems add an ``errors`` list. Anything unexpected is logged with its
traceback and answered with a bare 500 problem, so no stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
import math
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.types import ExceptionHandlersMap

from receiptcore import errors
from receiptcore.entrypoints.http.param_errors import describe_parameter_errors

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://receiptcore.dev/problems/"

# Most specific first: the first class an exception is an instance of decides its status.
_STATUS: tuple[tuple[type[errors.ReceiptcoreError], int], ...] = (
    (errors.UnsupportedMediaType, 415),
    (errors.UploadTooLarge, 413),
    (errors.MalformedRequest, 400),
    (errors.QuotaExceeded, 413),
    (errors.RequestTimeout, 408),
    (errors.ValidationFailed, 422),
    (errors.NotFound, 404),
    (errors.VersionConflict, 412),
    (errors.Conflict, 409),
    (errors.AuthenticationFailed, 401),
    (errors.PermissionDenied, 403),
    (errors.RateLimited, 429),
    (errors.StorageUnavailable, 503),
    (errors.ExtractionDeferred, 503),
    (errors.ExtractionFailed, 502),
)

# Litestar's own exceptions, by status, get these stable codes.
_HTTP_CODES: dict[int, str] = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    408: "request-timeout",
    409: "conflict",
    412: "precondition-failed",
    413: "request-too-large",
    415: "unsupported-media-type",
    422: "validation-failed",
    428: "precondition-required",
    429: "rate-limited",
    500: "internal-error",
    503: "service-unavailable",
}

# How long clients should wait before retrying when a store is down.
STORAGE_RETRY_AFTER_SECONDS = 5
_STORAGE_DETAIL: dict[type[errors.StorageUnavailable], str] = {
    errors.StorageUnavailable: "a store this request needs is unavailable right now; retry after Retry-After seconds",
    errors.UpstreamUnavailable: "a service this one depends on cannot be reached; retry after Retry-After seconds",
}


def status_of(exc: errors.ReceiptcoreError) -> int:
    """The HTTP status for a receiptcore error (500 for classes that a client cannot cause)."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def problem(
    request: Request[Any, Any, Any] | None,
    status: int,
    code: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    field_errors: list[dict[str, Any]] | None = None,
) -> Response[dict[str, Any]]:
    """Build a problem document response.

    Args:
        request: the request (for ``instance``); None outside a request.
        status: HTTP status code.
        code: stable slug, appended to the problem type URI.
        detail: a sentence for people, without secrets or tracebacks.
        headers: extra response headers (``Retry-After``, ``WWW-Authenticate``...).
        field_errors: per-field validation problems.

    Returns:
        The response, media type ``application/problem+json``.
    """
    body = problem_document(
        status, code, detail, instance=request.url.path if request is not None else None, field_errors=field_errors
    )
    return Response(content=body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers or {})


def problem_document(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    field_errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The body of a problem document, in the key order every answer uses (``problem``, and the answers written
    straight to ASGI by ``raw.problem_body``)."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": _title(status),
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    if field_errors is not None:
        body["errors"] = field_errors
    return body


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def handle_receiptcore_error(request: Request[Any, Any, Any], exc: errors.ReceiptcoreError) -> Response[Any]:
    """Map a receiptcore error to its problem document."""
    status = status_of(exc)
    if status >= 500 and not isinstance(exc, errors.StorageUnavailable | errors.ExtractionFailed):
        return handle_unexpected(request, exc)
    headers: dict[str, str] = {}
    if isinstance(exc, errors.AuthenticationFailed):
        headers["WWW-Authenticate"] = 'Bearer realm="receiptcore"'
    if isinstance(exc, errors.RateLimited | errors.ExtractionDeferred):
        headers["Retry-After"] = _retry_after(exc.retry_after)
    detail = exc.detail
    if isinstance(exc, errors.StorageUnavailable):
        # an adapter's detail (and its cause) may name server paths, errno or hosts: the log has them, the
        # client gets a sentence that says what to do
        cause = exc.__cause__
        logger.warning(
            "storage unavailable on %s %s: %s%s",
            request.method,
            request.url.path,
            exc.detail,
            f" ({type(cause).__name__}: {cause})" if cause is not None else "",
        )
        headers["Retry-After"] = str(STORAGE_RETRY_AFTER_SECONDS)
        detail = _STORAGE_DETAIL.get(type(exc), _STORAGE_DETAIL[errors.StorageUnavailable])
    field_errors = exc.extra.get("errors") if isinstance(exc, errors.ValidationFailed) else None
    return problem(
        request,
        status,
        exc.code,
        detail,
        headers=headers,
        field_errors=_clean_errors(field_errors) if field_errors is not None else None,
    )


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Map Litestar's own exceptions (routing, validation, auth, body size) to problem documents."""
    status = exc.status_code
    headers = dict(exc.headers or {})
    if isinstance(exc, ValidationException):
        # Litestar says 400 for bad parameters and bodies; a well-formed request with bad values is 422 here.
        # Its messages say what the validator saw (a regex, a type); these say what was wrong and what is
        # accepted, for every parameter of every route (param_errors reads the parameter's declaration).
        detail, field_errors = describe_parameter_errors(request, exc.extra if isinstance(exc.extra, list) else [])
        return problem(request, 422, "validation-failed", detail, field_errors=field_errors)
    if isinstance(exc, NotAuthorizedException):
        headers["WWW-Authenticate"] = 'Bearer realm="receiptcore"'
        return problem(
            request, 401, "unauthenticated", _safe_detail(exc.detail, "authentication required"), headers=headers
        )
    if isinstance(exc, PermissionDeniedException):
        return problem(request, 403, "forbidden", _safe_detail(exc.detail, "not allowed"), headers=headers)
    if isinstance(exc, NotFoundException):
        return problem(request, 404, "not-found", "no such resource", headers=headers)
    if isinstance(exc, MethodNotAllowedException):
        return problem(request, 405, "method-not-allowed", "this method is not allowed here", headers=headers)
    if status >= 500:
        return handle_unexpected(request, exc)
    if status == 400 and exc.detail == "Request Entity Too Large":
        # Litestar reports a multipart body with too many parts as a 400 for backwards compatibility
        status = 413
    code = _HTTP_CODES.get(status, "http-error")
    if status == 413:
        return problem(request, 413, "request-too-large", "the request body is too large", headers=headers)
    return problem(request, status, code, _safe_detail(exc.detail, _title(status)), headers=headers)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Log an unexpected exception with its traceback; answer a bare 500 problem."""
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(request, 500, "internal-error", "an unexpected error occurred; it has been logged")


def _safe_detail(detail: str | None, fallback: str) -> str:
    # Litestar's details are short, generated sentences; cap them so nothing echoes a huge input back.
    text = (detail or "").strip() or fallback
    return text[:300]


def _clean_errors(raw: Any) -> list[dict[str, Any]]:
    """Field errors as ``[{"field": ..., "message": ...}]``, whatever shape the source used."""
    out: list[dict[str, Any]] = []
    if not isinstance(raw, list):
        return out
    for item in raw[:50]:
        if isinstance(item, dict):
            field = item.get("field") or item.get("key") or item.get("loc")
            if isinstance(field, list | tuple):
                field = ".".join(str(p) for p in field)
            message = item.get("message") or item.get("msg") or "invalid value"
            entry: dict[str, Any] = {"field": str(field) if field is not None else None, "message": str(message)[:300]}
            if item.get("source"):
                entry["source"] = str(item["source"])
            out.append(entry)
        else:
            out.append({"field": None, "message": str(item)[:300]})
    return out


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    errors.ReceiptcoreError: handle_receiptcore_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}


def from_pydantic(exc: Any, detail: str = "the request is invalid") -> errors.ValidationFailed:
    """A ``ValidationFailed`` carrying the field errors of a pydantic ``ValidationError``."""
    field_errors = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "invalid value")}
        for e in exc.errors(include_url=False, include_input=False)
    ]
    return errors.ValidationFailed(detail, errors=field_errors)
