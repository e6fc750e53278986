"""``POST /api/receipts``: one or more multipart parts named ``file``.

Layers of refusal, cheapest first: not multipart → 415; the caller or the process at its most uploads in
progress → 429 + Retry-After, before a byte of the body is read; a body (announced or streamed) over
``max_upload_bytes * max_files_per_upload`` plus slack → 413. The body is then read by the bounded streaming
reader of ``multipart.py``: a part that is not a file named ``file`` → 422 naming it before its body is read;
malformed framing or part headers → 400; too many parts, headers too long or a file over ``max_upload_bytes`` →
413 as soon as the bytes show it; a body that stops arriving → 408. Files go to spool files, never to a buffer of
their own size per part. Then the service sniffs, inspects and stores all or nothing (quota → 413).
"""

from __future__ import annotations

from copy import copy
from typing import Annotated, Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import HeaderParameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from receiptcore.domain.policy import Principal
from receiptcore.domain.users import RECEIPTS_WRITE
from receiptcore.entrypoints.http.multipart import FilePart, MultipartLimits, boundary_of, read_file_parts
from receiptcore.entrypoints.http.openapi import problems, success
from receiptcore.entrypoints.http.receipt_params import etag, receipt_location
from receiptcore.entrypoints.http.representation import receipt_to_api
from receiptcore.entrypoints.http.schemas import UploadResult
from receiptcore.entrypoints.http.security import PERMISSION_OPT
from receiptcore.errors import UnsupportedMediaType, ValidationFailed
from receiptcore.services.receipts import ReceiptService, Upload
from receiptcore.settings import Settings

# multipart framing (boundaries, part headers) on top of the file bytes themselves
MULTIPART_SLACK_BYTES = 1024 * 1024
FILE_FIELD = "file"


def upload_body_cap(settings: Settings) -> int:
    """The largest upload request body accepted before parsing starts."""
    return settings.max_upload_bytes * settings.max_files_per_upload + MULTIPART_SLACK_BYTES


@post(
    "/api/receipts",
    status_code=HTTP_202_ACCEPTED,
    opt={PERMISSION_OPT: RECEIPTS_WRITE},
    tags=["receipts"],
    responses={
        **success(UploadResult, "At least one receipt was created", HTTP_202_ACCEPTED),
        **success(UploadResult, "Every file was a duplicate of one the caller had uploaded"),
        **problems(408, 409, 429),
    },
)
async def upload_receipts(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    receipt_service: NamedDependency[ReceiptService],
    settings: NamedDependency[Settings],
    idempotency_key: Annotated[
        str | None, HeaderParameter(name="Idempotency-Key", required=False, min_length=1, max_length=200)
    ] = None,
) -> Response[dict[str, Any]]:
    """Upload receipts (multipart, parts named ``file``). 202 when any receipt was created, 200 when every file
    was already uploaded by the caller; each item carries ``duplicate`` and its ``location``."""
    media_type, _ = request.content_type
    if media_type != "multipart/form-data":
        raise UnsupportedMediaType("send the files as multipart/form-data, one part named 'file' per file")
    boundary = boundary_of(request.headers.get("content-type", ""))
    with receipt_service.upload_slot(principal):
        parts = await read_file_parts(request.stream(), boundary, upload_limits(settings))
        try:
            uploads = _read_uploads(parts)
            outcomes = await receipt_service.upload(principal, uploads, idempotency_key)
        finally:
            for part in parts:
                part.close()
    items = []
    for outcome in outcomes:
        item = receipt_to_api(outcome.receipt)
        item["duplicate"] = not outcome.created
        item["location"] = receipt_location(settings, outcome.receipt.id)
        items.append(item)
    created = any(o.created for o in outcomes)
    headers = {"Location": items[0]["location"]} if items else {}
    if len(outcomes) == 1:
        headers["ETag"] = etag(outcomes[0].receipt.version)
    return Response({"receipts": items}, status_code=HTTP_202_ACCEPTED if created else HTTP_200_OK, headers=headers)


def upload_limits(settings: Settings) -> MultipartLimits:
    """What the multipart reader accepts under these settings."""
    return MultipartLimits(
        field_name=FILE_FIELD,
        max_files=settings.max_files_per_upload,
        max_file_bytes=settings.max_upload_bytes,
        idle_timeout=settings.upload_idle_timeout_seconds,
        body_timeout=settings.upload_body_timeout_seconds,
    )


def _read_uploads(parts: list[FilePart]) -> list[Upload]:
    if not parts:
        raise ValidationFailed(
            "no file: send one or more multipart parts named 'file'",
            errors=[{"field": FILE_FIELD, "message": "missing"}],
        )
    return [Upload(reader=part.read, filename=_clip(part.filename), declared_type=part.content_type) for part in parts]


def _clip(filename: str | None) -> str | None:
    # the stored name is informative only; keep it short and single-line
    if not filename:
        return None
    cleaned = "".join(ch for ch in filename if ch.isprintable()).strip()
    return cleaned[-255:] or None


def upload_handler(settings: Settings) -> HTTPRouteHandler:
    """The upload handler with this deployment's body cap (handlers are copied per app, so caps never leak)."""
    handler = copy(upload_receipts)
    handler.request_max_body_size = upload_body_cap(settings)
    return handler
