"""The receipt API: list, read, download, page images, correct, confirm, delete, re-extract, attempts, export, stats.

Uploads are in ``receipt_upload``, live events in ``events``. Every id in a path is checked to be an id first;
another owner's receipt is "not found" because the services query inside the caller's scope.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from litestar import MediaType, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from receiptcore.domain.policy import Principal
from receiptcore.domain.queries import ReceiptQuery
from receiptcore.domain.users import RECEIPTS_READ, RECEIPTS_WRITE
from receiptcore.entrypoints.http.export_formats import export_chunks
from receiptcore.entrypoints.http.openapi import problems, success
from receiptcore.entrypoints.http.receipt_params import (
    content_disposition,
    etag,
    parse_if_match,
    provide_receipt_query,
    receipt_id,
    safe_filename,
)
from receiptcore.entrypoints.http.representation import API_LISTING, attempt_to_api, list_page_json, receipt_to_api
from receiptcore.entrypoints.http.schemas import ExtractionList, ReceiptOut, ReceiptPage
from receiptcore.entrypoints.http.security import CONTAINER_KEY, PERMISSION_OPT
from receiptcore.errors import NotFound, ValidationFailed
from receiptcore.services.receipts import ReceiptService

_TAGS = ["receipts"]
_READ = {PERMISSION_OPT: RECEIPTS_READ}
_WRITE = {PERMISSION_OPT: RECEIPTS_WRITE}
_QUERY = {"receipt_query": Provide(provide_receipt_query)}
_IF_MATCH = Annotated[str | None, HeaderParameter(name="If-Match", required=False, max_length=100)]


def _receipt_response(receipt: Any, status_code: int = 200) -> Response[dict[str, Any]]:
    return Response(receipt_to_api(receipt), status_code=status_code, headers={"ETag": etag(receipt.version)})


@get("/api/receipts", opt=_READ, dependencies=_QUERY, tags=_TAGS, responses=success(ReceiptPage, "A page of receipts"))
async def list_receipts(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    receipt_service: NamedDependency[ReceiptService],
    receipt_query: NamedDependency[ReceiptQuery],
) -> Response[bytes]:
    """Receipts matching the filters, a page at a time; ``next_cursor`` (and ``Link: rel="next"``) continue."""
    # items rendered once, when each receipt was written (representation.API_LISTING): the page joins their bytes
    page = await receipt_service.list_rendered(principal, receipt_query, API_LISTING)
    headers: dict[str, str] = {}
    if page.next_cursor:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
        params.append(("cursor", page.next_cursor))
        headers["Link"] = f'<{request.url.path}?{urlencode(params)}>; rel="next"'
    return Response(list_page_json(page.items, page.next_cursor), headers=headers, media_type=MediaType.JSON)


@get(
    "/api/receipts/{rid:str}", opt=_READ, tags=_TAGS, responses={**success(ReceiptOut, "The receipt"), **problems(404)}
)
async def get_receipt(
    rid: FromPath[str], principal: NamedDependency[Principal], receipt_service: NamedDependency[ReceiptService]
) -> Response[dict[str, Any]]:
    """One receipt; the ETag is its version (send it back as If-Match when correcting)."""
    return _receipt_response(await receipt_service.get(principal, receipt_id(rid)))


@get("/api/receipts/{rid:str}/file", opt=_READ, tags=_TAGS, responses=problems(404))
async def get_receipt_file(
    rid: FromPath[str], principal: NamedDependency[Principal], receipt_service: NamedDependency[ReceiptService]
) -> Response[bytes]:
    """The original uploaded bytes, with the type sniffed at upload, as an attachment."""
    source, content = await receipt_service.open_file(principal, receipt_id(rid))
    name = safe_filename(source.filename, rid, source.media_type)
    return Response(
        content,
        media_type=source.media_type,
        headers={
            "Content-Disposition": content_disposition(name),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@get("/api/receipts/{rid:str}/pages/{page:int}", opt=_READ, tags=_TAGS, responses=problems(404))
async def get_receipt_page(
    rid: FromPath[str],
    page: FromPath[int],
    state: State,
    principal: NamedDependency[Principal],
    receipt_service: NamedDependency[ReceiptService],
) -> Response[bytes]:
    """One page of the receipt as an image: a PDF page rendered to PNG, or the image itself (page 1).
    ``X-Render-Scale`` is the image's pixels per provenance unit (PDF boxes are in points; images' in pixels)."""
    source, content = await receipt_service.open_file(principal, receipt_id(rid))
    headers = {"Cache-Control": "private, max-age=300", "Content-Security-Policy": "default-src 'none'; sandbox"}
    if source.media_type != "application/pdf":
        if page != 1:
            raise NotFound(f"an image has one page, not page {page}")
        return Response(content, media_type=source.media_type, headers={**headers, "X-Render-Scale": "1"})
    # CPU work: off the event loop (the default executor bounds how many run at once)
    rendered = await asyncio.to_thread(state[CONTAINER_KEY].page_renderer(), content, page)
    scale = f"{rendered.scale:.6g}"
    return Response(rendered.png, media_type="image/png", headers={**headers, "X-Render-Scale": scale})


@patch(
    "/api/receipts/{rid:str}",
    opt=_WRITE,
    tags=_TAGS,
    responses={**success(ReceiptOut, "The corrected receipt"), **problems(404, 409, 412, 428)},
)
async def correct_receipt(
    rid: FromPath[str],
    data: JSONBody[dict[str, Any]],
    principal: NamedDependency[Principal],
    receipt_service: NamedDependency[ReceiptService],
    if_match: _IF_MATCH = None,
) -> Response[dict[str, Any]]:
    """Correct fields (a JSON object of field → new value). Needs the current version: ``If-Match: "<version>"``
    or ``"version"`` in the body; a stale one is 412, none at all is 428."""
    changes = dict(data)
    body_version = changes.pop("version", None)
    present, version = parse_if_match(if_match)
    if not present:
        if body_version is None:
            raise HTTPException(
                status_code=428, detail='send the receipt version as If-Match: "<version>" or "version" in the body'
            )
        if isinstance(body_version, bool) or not isinstance(body_version, int):
            raise ValidationFailed("version must be an integer", errors=[{"field": "version", "message": "not int"}])
        version = body_version
    if not changes:
        raise ValidationFailed("nothing to change: send at least one field", errors=[])
    receipt = await receipt_service.correct(principal, receipt_id(rid), changes, version)
    return _receipt_response(receipt)


@post(
    "/api/receipts/{rid:str}/confirm",
    status_code=200,
    opt=_WRITE,
    tags=_TAGS,
    responses={**success(ReceiptOut, "The confirmed receipt"), **problems(404, 409, 412)},
)
async def confirm_receipt(
    rid: FromPath[str],
    principal: NamedDependency[Principal],
    receipt_service: NamedDependency[ReceiptService],
    if_match: _IF_MATCH = None,
) -> Response[dict[str, Any]]:
    """Mark a reviewed receipt confirmed (optionally only if it is still at the If-Match version)."""
    _, version = parse_if_match(if_match)
    return _receipt_response(await receipt_service.confirm(principal, receipt_id(rid), version))


@delete("/api/receipts/{rid:str}", status_code=HTTP_204_NO_CONTENT, opt=_WRITE, tags=_TAGS, responses=problems(404))
async def delete_receipt(
    rid: FromPath[str], principal: NamedDependency[Principal], receipt_service: NamedDependency[ReceiptService]
) -> None:
    """Delete a receipt and its file."""
    await receipt_service.delete(principal, receipt_id(rid))


@post(
    "/api/receipts/{rid:str}/reextract",
    status_code=HTTP_202_ACCEPTED,
    opt=_WRITE,
    tags=_TAGS,
    responses={**success(ReceiptOut, "The receipt, queued again", HTTP_202_ACCEPTED), **problems(404, 409)},
)
async def reextract_receipt(
    rid: FromPath[str], principal: NamedDependency[Principal], receipt_service: NamedDependency[ReceiptService]
) -> Response[dict[str, Any]]:
    """Queue the receipt for extraction again; earlier attempts are kept."""
    return _receipt_response(await receipt_service.reextract(principal, receipt_id(rid)), HTTP_202_ACCEPTED)


@get(
    "/api/receipts/{rid:str}/extractions",
    opt=_READ,
    tags=_TAGS,
    responses={**success(ExtractionList, "The attempts"), **problems(404)},
)
async def list_extractions(
    rid: FromPath[str], principal: NamedDependency[Principal], receipt_service: NamedDependency[ReceiptService]
) -> dict[str, Any]:
    """Every extraction attempt of the receipt, oldest first, each with the extractor's output."""
    receipt = await receipt_service.get(principal, receipt_id(rid))
    return {"items": [attempt_to_api(a, include_output=True) for a in receipt.extraction_attempts]}


async def _take(chunks: AsyncIterator[str], count: int) -> AsyncIterator[str]:
    for _ in range(count):
        chunk = await anext(chunks, None)
        if chunk is None:
            return
        yield chunk


# Litestar appends "; charset=utf-8" to text/* types itself
_EXPORT_TYPES = {"csv": "text/csv", "json": "application/json"}


@get("/api/receipts/export", opt=_READ, dependencies=_QUERY, tags=_TAGS)
async def export_receipts(
    principal: NamedDependency[Principal],
    receipt_service: NamedDependency[ReceiptService],
    receipt_query: NamedDependency[ReceiptQuery],
    export_format: Annotated[Literal["csv", "json"], QueryParameter(name="format")] = "csv",
) -> Stream:
    """Every receipt matching the filters, streamed as CSV or a JSON array."""
    # an export is everything that matches: paging parameters do not apply
    query = receipt_query.model_copy(update={"cursor": None})
    chunks = export_chunks(receipt_service.export(principal, query), export_format)
    # read the header and the first page now: an error must be a problem document, not a broken 200 stream
    head = [chunk async for chunk in _take(chunks, 2)]

    async def body() -> AsyncIterator[str]:
        for chunk in head:
            yield chunk
        async for chunk in chunks:
            yield chunk

    return Stream(
        body(),
        media_type=_EXPORT_TYPES[export_format],
        headers={"Content-Disposition": content_disposition(f"receipts.{export_format}")},
    )


@get("/api/stats", opt=_READ, dependencies=_QUERY, tags=_TAGS)
async def stats(
    principal: NamedDependency[Principal],
    receipt_service: NamedDependency[ReceiptService],
    receipt_query: NamedDependency[ReceiptQuery],
) -> dict[str, Any]:
    """Spending by month, category and merchant (per currency) over the receipts the filters select."""
    summary = await receipt_service.summary(principal, receipt_query)
    return summary.model_dump(mode="json")


RECEIPT_HANDLERS = [
    list_receipts,
    export_receipts,
    get_receipt,
    get_receipt_file,
    get_receipt_page,
    correct_receipt,
    confirm_receipt,
    delete_receipt,
    reextract_receipt,
    list_extractions,
    stats,
]
