"""The OpenAPI document, made to say what the API really does.

Litestar documents each handler's success response from its signature and a generic 400 ``ValidationException``
body. Our answers differ: every error is an RFC 9457 problem document (``application/problem+json``), bad values
are 422, and handlers that read their body themselves (uploads) or stream (export, events, files) need their
media types spelled out. Handlers declare their route-specific error statuses with ``responses=problems(...)``;
``finish_openapi`` then adds what holds for every route of a kind (401/403 on protected routes, 400/415/422 where
a body or parameters are read, 503 where a store is asked), drops Litestar's 400 schema and fixes media types.
``tests/api/test_fuzz_api.py`` holds the document to the responses by fuzzing every operation.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, Operation, Reference, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.routes import HTTPRoute
from pydantic import BaseModel

from receiptcore.domain.receipt import Receipt
from receiptcore.entrypoints.http import schemas
from receiptcore.entrypoints.http.errors import PROBLEM_MEDIA_TYPE
from receiptcore.entrypoints.http.security import is_public
from receiptcore.services.corrections import CORRECTABLE_FIELDS

_REF = "#/components/schemas/"


class FieldProblem(BaseModel):
    """One invalid field of a 422 problem."""

    field: str | None
    message: str
    source: str | None = None


class Problem(BaseModel):
    """An RFC 9457 problem document, the body of every error response."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None


_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request: the JSON or multipart body cannot be parsed.",
    401: "No valid access token (missing, malformed, expired or revoked); `WWW-Authenticate: Bearer`.",
    403: "The caller lacks the permission this action needs.",
    404: "No such resource, or not one the caller may see.",
    408: "The request body did not arrive in time (a gap between chunks, or the whole body, too slow).",
    409: "The action conflicts with the resource's current state.",
    412: "If-Match does not match the current version (re-read it and retry).",
    413: "The request, a file in it, or an image's pixel count is too large, or the caller's storage quota is full.",
    415: "Unsupported media type (of the request body, or of an uploaded file's sniffed content).",
    422: "A parameter or a body field is invalid; `errors` lists them.",
    428: 'A version is required: send `If-Match: "<version>"` or `"version"` in the body.',
    429: "Too many failed attempts, uploads or password checks in progress; retry after `Retry-After` seconds.",
    503: "A store is unavailable; retry after `Retry-After` seconds.",
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Problem-document responses for a handler's ``responses=`` (route-specific statuses only).

    Args:
        *statuses: HTTP statuses this route can answer with a problem document.

    Returns:
        Litestar response specs keyed by status.
    """
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS[status],
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status in statuses
    }


def success(model: Any, description: str, status: int = 200) -> dict[int, ResponseSpec]:
    """A success response documented by ``model`` (for handlers that build their ``Response`` from a dict).

    Args:
        model: the pydantic model that describes the body.
        description: what the response means.
        status: its status code.

    Returns:
        A response spec keyed by status (it replaces the one Litestar derives from the signature).
    """
    return {status: ResponseSpec(data_container=model, description=description, generate_examples=False)}


_BINARY = Schema(type=OpenAPIType.STRING, format="binary")  # type: ignore[arg-type]


def _upload_body(max_files: int | None = None) -> RequestBody:
    files = Schema(type=OpenAPIType.ARRAY, items=_BINARY, min_items=1, max_items=max_files)
    return RequestBody(
        required=True,
        description="One or more parts named `file` (JPEG, PNG, WebP or PDF; the content is sniffed).",
        content={
            "multipart/form-data": OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.OBJECT, required=["file"], properties={"file": files})
            )
        },
    )


# Success bodies that are not JSON, by "METHOD /path/template".
_CONTENT: dict[str, dict[str, OpenAPIMediaType]] = {
    "GET /api/receipts/export": {
        "text/csv; charset=utf-8": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
        "application/json": OpenAPIMediaType(
            schema=Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.OBJECT))
        ),
    },
    "GET /api/events": {"text/event-stream": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))},
    "GET /api/receipts/{rid}/pages/{page}": {
        media: OpenAPIMediaType(schema=_BINARY) for media in ("image/png", "image/jpeg", "image/webp")
    },
    "GET /api/receipts/{rid}/file": {
        media: OpenAPIMediaType(schema=_BINARY)
        for media in ("image/jpeg", "image/png", "image/webp", "application/pdf")
    },
}

# Operations that ask no store (everything else may answer 503 while one is down).
_STORELESS = frozenset({"GET /health/live", "GET /health/ready", "GET /.well-known/jwks.json"})


def _problem_response(schema: Reference, status: int) -> OpenAPIResponse:
    content = {PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=schema)}
    return OpenAPIResponse(description=_DESCRIPTIONS[status], content=content)


def _handlers(app: Litestar) -> dict[str, HTTPRouteHandler]:
    """Every documented handler by "METHOD /path/template" (templates as OpenAPI writes them)."""
    found: dict[str, HTTPRouteHandler] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (handler, _) in route.route_handler_map.items():
            found[f"{method} {route.path_format}"] = handler
    return found


def finish_openapi(app: Litestar, *, max_files: int | None = None) -> None:
    """Complete the app's (cached) OpenAPI document: problem responses, request and response media types.

    Call once, after the app is built with all its routes.

    Args:
        app: the application whose ``openapi_schema`` is completed in place.
        max_files: the most ``file`` parts one upload may have (``Settings.max_files_per_upload``).
    """
    document = app.openapi_schema
    handlers = _handlers(app)
    problem = _find_problem_schema(document)
    _forbid_unknown_fields(document)
    for path, item in (document.paths or {}).items():
        for method in ("get", "put", "post", "patch", "delete"):
            operation: Operation | None = getattr(item, method)
            if operation is not None:
                key = f"{method.upper()} {path}"
                _finish_operation(document, key, operation, handlers.get(key), problem=problem, max_files=max_files)


def _finish_operation(
    document: OpenAPI,
    key: str,
    operation: Operation,
    handler: HTTPRouteHandler | None,
    *,
    problem: Reference,
    max_files: int | None,
) -> None:
    method, path = key.split(" ", 1)
    if key == "POST /api/receipts":
        operation.request_body = _upload_body(max_files)
    if key == "PATCH /api/receipts/{rid}":
        operation.request_body = _correction_body(document)
    if isinstance(operation.request_body, RequestBody) and handler is not None:
        data = handler.parsed_fn_signature.parameters.get("data")
        if data is not None and data.has_default:
            operation.request_body.required = False
    wanted: set[int] = set()
    if operation.request_body is not None:
        wanted |= {400, 413, 415, 422}
    if any(getattr(p, "param_in", "path") != "path" for p in operation.parameters or ()):
        wanted.add(422)
    if not is_public(method, path):
        wanted |= {401, 403}
    if key not in _STORELESS:
        wanted.add(503)
    responses = operation.responses or {}
    # Litestar's own 400 schema ({"status_code", "detail"}) is never what we send
    responses.pop("400", None)
    for status in sorted(wanted):
        responses.setdefault(str(status), _problem_response(problem, status))
    for code, response in responses.items():
        if code == "204" and isinstance(response, OpenAPIResponse):
            response.content = None
    ok = responses.get("200")
    if key in _CONTENT and isinstance(ok, OpenAPIResponse):
        ok.content = _CONTENT[key]
    operation.responses = dict(sorted(responses.items()))


def _forbid_unknown_fields(document: OpenAPI) -> None:
    """Request models refuse unknown fields (422); say so, as ``additionalProperties: false``."""
    for name, schema in (document.components.schemas or {}).items():
        model = getattr(schemas, name, None)
        if isinstance(model, type) and issubclass(model, BaseModel) and model.model_config.get("extra") == "forbid":
            schema.additional_properties = False


def _correction_body(document: OpenAPI) -> RequestBody:
    """``PATCH /api/receipts/{rid}``: the correctable fields as the Receipt model validates them (the handler takes
    the raw object, so that a partial ``merchant`` changes only the keys it names), plus ``version``."""
    model = Receipt.model_json_schema(ref_template=_REF + "{model}")
    properties: dict[str, Any] = {name: model["properties"][name] for name in sorted(CORRECTABLE_FIELDS)}
    properties["version"] = {"type": "integer", "description": "The version read (instead of If-Match)."}
    components = document.components.schemas if document.components.schemas is not None else {}
    wanted = _refs(properties)
    while wanted:
        name = wanted.pop()
        if name not in components:
            definition = model["$defs"][name]
            components[name] = definition
            wanted |= _refs(definition)
    schema = {"type": "object", "properties": properties, "additionalProperties": False, "minProperties": 1}
    return RequestBody(
        required=True,
        description="The fields to change; `null` clears one. Each change is kept as a correction.",
        content={"application/json": OpenAPIMediaType(schema=schema)},  # type: ignore[arg-type]
    )


def _refs(value: Any) -> set[str]:
    """Component names referenced anywhere in a JSON schema fragment."""
    if isinstance(value, dict):
        found = {value["$ref"].removeprefix(_REF)} if isinstance(value.get("$ref"), str) else set()
        for item in value.values():
            found |= _refs(item)
        return found
    if isinstance(value, list):
        return set().union(*(_refs(item) for item in value)) if value else set()
    return set()


def _find_problem_schema(document: OpenAPI) -> Reference:
    """The ``Problem`` component reference, wherever a handler's ``problems(...)`` registered it."""
    schemas = document.components.schemas or {}
    for name in schemas:
        if name == "Problem" or name.endswith("_Problem"):
            return Reference(ref=f"#/components/schemas/{name}")
    msg = "no route declares problems(...): the Problem schema is missing"
    raise RuntimeError(msg)
