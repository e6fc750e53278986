"""The merchant API: list, read, rename (or re-address, re-categorise) and merge the caller's merchants.

The directory is per owner (ADR 0012): a member sees and changes only their own merchants; ``receipts:read:any``
and ``receipts:write:any`` reach every owner's, as for receipts. A foreign merchant is "not found". Renaming and
merging relabel the owner's receipts that carry the merchant's spellings (audited as corrections).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from litestar import Response, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from pydantic import BaseModel, ConfigDict, Field

from receiptcore.domain.ids import is_id
from receiptcore.domain.merchants import MerchantEntry
from receiptcore.domain.policy import Principal
from receiptcore.domain.users import RECEIPTS_READ, RECEIPTS_WRITE
from receiptcore.entrypoints.http.deps import container_of
from receiptcore.entrypoints.http.openapi import problems, success
from receiptcore.entrypoints.http.receipt_params import ID_DESCRIPTION, ID_PATTERN, etag, parse_if_match
from receiptcore.entrypoints.http.security import PERMISSION_OPT
from receiptcore.errors import NotFound, ValidationFailed
from receiptcore.services.merchants import MerchantFigures, MerchantService, MergeOutcome

_TAGS = ["merchants"]
_READ = {PERMISSION_OPT: RECEIPTS_READ}
_WRITE = {PERMISSION_OPT: RECEIPTS_WRITE}
_IF_MATCH = Annotated[str | None, HeaderParameter(name="If-Match", required=False, max_length=100)]


def provide_merchant_service(state: State) -> MerchantService:
    """The MerchantService singleton."""
    service: MerchantService = container_of(state).merchant_service()
    return service


_SERVICE = {"merchant_service": Provide(provide_merchant_service, sync_to_thread=False)}


class MerchantSpend(BaseModel):
    """What the owner spent at a merchant in one currency (receipts with a total; currency null: none read)."""

    currency: str | None
    total: Decimal
    count: int


class MerchantOut(BaseModel):
    """A merchant of the caller's directory: canonical name, known spellings, address, the owner's category;
    listed and read ones also with the owner's receipts of it (with a total or without) and spend per currency."""

    id: str
    owner_id: str
    name: str
    variants: list[str]
    address: str | None
    category: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    receipts: int | None = None
    spend: list[MerchantSpend] | None = None

    @classmethod
    def of(cls, entry: MerchantEntry, figures: MerchantFigures | None = None) -> MerchantOut:
        """The API representation of ``entry`` (with its figures when given)."""
        out = cls.model_validate(entry.model_dump())
        if figures is None:
            return out
        spend = [MerchantSpend(currency=b.currency, total=b.total, count=b.count) for b in figures.spend]
        return out.model_copy(update={"receipts": figures.receipts, "spend": spend})


class CategoryOut(BaseModel):
    """A category to suggest: ``bundled`` when the bundled map has it, ``yours`` when you use or taught it."""

    name: str
    bundled: bool
    yours: bool


class CategoryList(BaseModel):
    """Every category of the bundled map and the caller's own, by name."""

    items: list[CategoryOut]


class MerchantPage(BaseModel):
    """Merchants ordered by id; ``next_cursor`` is the ``after`` value of the next page."""

    items: list[MerchantOut]
    next_cursor: str | None


class MerchantChanged(BaseModel):
    """The merchant after a rename or merge, and how many of the owner's receipts now carry its name."""

    merchant: MerchantOut
    receipts_updated: int


class MerchantUpdate(BaseModel):
    """Fields to change: a new canonical name (the old one stays a known spelling), address, category."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    category: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class MerchantMerge(BaseModel):
    """The ids of merchants to merge into the one in the path (each once, not the target itself)."""

    model_config = ConfigDict(extra="forbid")

    merge: Annotated[list[str], Field(min_length=1, max_length=100)]


def _merchant_id(value: str, field: str = "id") -> str:
    if not is_id(value):
        if field == "id":
            raise NotFound("no such merchant")
        raise ValidationFailed(
            f"{value[:40]!r} is not a merchant id", errors=[{"field": field, "message": "not an id"}]
        )
    return value


def _changed(outcome: MergeOutcome) -> Response[dict[str, Any]]:
    body = MerchantChanged(merchant=MerchantOut.of(outcome.entry), receipts_updated=outcome.receipts_updated)
    return Response(body.model_dump(mode="json"), headers={"ETag": etag(outcome.entry.version)})


@get("/api/merchants", opt=_READ, dependencies=_SERVICE, tags=_TAGS, responses=problems(422))
async def list_merchants(
    principal: NamedDependency[Principal],
    merchant_service: NamedDependency[MerchantService],
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    after: Annotated[str | None, QueryParameter(max_length=36, pattern=ID_PATTERN, description=ID_DESCRIPTION)] = None,
) -> MerchantPage:
    """The caller's merchants (every owner's with receipts:read:any), ordered by id, a page at a time, each with
    its owner's receipts of it and their spend per currency."""
    if after is not None:
        _merchant_id(after, "after")
    entries = await merchant_service.list(principal, limit=limit, after=after)
    next_cursor = entries[-1].id if len(entries) == limit else None
    figures = await merchant_service.figures(principal, entries)
    return MerchantPage(items=[MerchantOut.of(e, figures.get(e.id)) for e in entries], next_cursor=next_cursor)


@get(
    "/api/merchants/{mid:str}",
    opt=_READ,
    dependencies=_SERVICE,
    tags=_TAGS,
    responses={**success(MerchantOut, "The merchant"), **problems(404)},
)
async def get_merchant(
    mid: FromPath[str], principal: NamedDependency[Principal], merchant_service: NamedDependency[MerchantService]
) -> Response[dict[str, Any]]:
    """One merchant, with its receipts and spend; the ETag is its version."""
    entry = await merchant_service.get(principal, _merchant_id(mid))
    figures = (await merchant_service.figures(principal, [entry])).get(entry.id)
    return Response(MerchantOut.of(entry, figures).model_dump(mode="json"), headers={"ETag": etag(entry.version)})


@patch(
    "/api/merchants/{mid:str}",
    opt=_WRITE,
    dependencies=_SERVICE,
    tags=_TAGS,
    responses={**success(MerchantChanged, "The changed merchant"), **problems(404, 409, 412, 422)},
)
async def update_merchant(
    mid: FromPath[str],
    data: JSONBody[MerchantUpdate],
    principal: NamedDependency[Principal],
    merchant_service: NamedDependency[MerchantService],
    if_match: _IF_MATCH = None,
) -> Response[dict[str, Any]]:
    """Rename a merchant (relabelling the owner's receipts), or set its address or category. A name another of
    the owner's merchants has is 409: merge them instead. ``If-Match: "<version>"`` guards against lost updates."""
    changes = data.model_dump(exclude_unset=True)
    _, version = parse_if_match(if_match)
    return _changed(await merchant_service.update(principal, _merchant_id(mid), changes, version))


@post(
    "/api/merchants/{mid:str}/merge",
    status_code=200,
    opt=_WRITE,
    dependencies=_SERVICE,
    tags=_TAGS,
    responses={**success(MerchantChanged, "The merchant that absorbed the others"), **problems(404, 412, 422)},
)
async def merge_merchants(
    mid: FromPath[str],
    data: JSONBody[MerchantMerge],
    principal: NamedDependency[Principal],
    merchant_service: NamedDependency[MerchantService],
    if_match: _IF_MATCH = None,
) -> Response[dict[str, Any]]:
    """Merge other merchants of the same owner into this one: their spellings become its variants, they are
    deleted, and the owner's receipts that carry them get this merchant's name."""
    sources = [_merchant_id(sid, "merge") for sid in data.merge]
    _, version = parse_if_match(if_match)
    return _changed(await merchant_service.merge(principal, _merchant_id(mid), sources, version))


@get("/api/categories", opt=_READ, dependencies=_SERVICE, tags=["categories"])
async def list_categories(
    principal: NamedDependency[Principal], merchant_service: NamedDependency[MerchantService]
) -> CategoryList:
    """The categories to offer when filing a receipt: the bundled map's (what extraction assigns) and your own
    (learned by your merchants, or on your receipts). Any other category may still be typed."""
    names = await merchant_service.categories(principal)
    return CategoryList(items=[CategoryOut(name=c.name, bundled=c.bundled, yours=c.yours) for c in names])


MERCHANT_HANDLERS = [list_merchants, get_merchant, update_merchant, merge_merchants, list_categories]
