"""Friendly messages for bad query, path, header and cookie parameters.

Litestar validates declared parameters with msgspec and reports what the validator saw (``Expected `str`
matching regex '^(\\d{4}-\\d{2}-\\d{2})?$'``). A person wants to read what was wrong and what is accepted, the way
the receipt filters validated by the core say it (``Input should be 'created_at', ...``). This module finds the
parameter's declaration (in the handler's signature or in one of its dependencies) and describes it: its
``description`` when it has one, else its enum, bounds, length or pattern. ``errors.handle_http_exception`` uses
it for every ``ValidationException``, so no route needs its own wording.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from litestar import Request
from litestar.enums import ParamType
from litestar.params import ParameterKwarg
from litestar.typing import FieldDefinition

# How much of a rejected value is quoted back (it may be long or hostile; the JSON encoder escapes it).
_QUOTED_CHARS = 40
_SOURCES = {str(kind): kind.value for kind in ParamType} | {kind.value: kind.value for kind in ParamType}


def describe_parameter_errors(request: Request[Any, Any, Any], raw: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    """A detail sentence and field errors for Litestar's validation ``extra`` list.

    Parameter errors become ``{"field", "message", "source"}`` with a message saying what the value was and what
    the parameter accepts; body errors keep the validator's message (pydantic's are already readable).
    """
    declared = dict(_declared_parameters(request))
    described: list[dict[str, Any]] = []
    for item in raw[:50]:
        if not isinstance(item, dict):
            described.append({"field": None, "message": str(item)[:300]})
            continue
        key = str(item.get("key") or "") or None
        source = _SOURCES.get(str(item.get("source") or ""), str(item.get("source") or "") or None)
        message = str(item.get("message") or "invalid value")[:300]
        if key is not None and source in {"query", "path", "header", "cookie"}:
            key, field = declared.get(key, (key, None))
            message = _sentence(request, key, source, field, message)
        entry: dict[str, Any] = {"field": key, "message": message}
        if source:
            entry["source"] = source
        described.append(entry)
    first = described[0] if described else None
    if first is not None and first.get("source") in {"query", "path", "header", "cookie"}:
        detail = f"invalid {first['source']} parameter {first['field']}: {first['message']}"
    else:
        detail = "the request body is invalid" if first and first.get("source") == "body" else "the request is invalid"
    return detail[:300], described


def _sentence(
    request: Request[Any, Any, Any], key: str, source: str, field: FieldDefinition | None, validator_message: str
) -> str:
    value = _given(request, key, source)
    wrong = f"{_quote(value)} is not accepted" if value is not None else "the value is not accepted"
    accepted = _accepted(field) if field is not None else None
    if accepted is None:
        return f"{wrong} ({validator_message})"
    return f"{wrong}; expected {accepted}"


def _given(request: Request[Any, Any, Any], key: str, source: str) -> str | None:
    if source == "query":
        return request.query_params.get(key)
    if source == "path":
        value = request.path_params.get(key)
        return None if value is None else str(value)
    if source == "header":
        return request.headers.get(key)
    return request.cookies.get(key)


def _quote(value: str) -> str:
    shown = value if len(value) <= _QUOTED_CHARS else value[:_QUOTED_CHARS] + "…"
    return f"'{shown}'"


def _accepted(field: FieldDefinition) -> str | None:
    """What a parameter accepts, in words: its description, else what its schema says."""
    kwarg = field.kwarg_definition if isinstance(field.kwarg_definition, ParameterKwarg) else None
    if kwarg is not None and kwarg.description:
        return kwarg.description.rstrip(".")
    enum = _enum(field, kwarg)
    if enum:
        return "one of " + ", ".join(f"'{v}'" for v in enum if v != "")
    parts: list[str] = []
    if _is_int(field):
        parts.append(_bounds("a whole number", kwarg))
    elif kwarg is not None and kwarg.pattern:
        parts.append(f"text matching {kwarg.pattern}")
    if kwarg is not None and kwarg.max_length is not None and not _is_int(field):
        parts.append(f"at most {kwarg.max_length} characters")
    if kwarg is not None and kwarg.min_length:
        parts.append(f"at least {kwarg.min_length} characters")
    return ", ".join(parts) or None


def _enum(field: FieldDefinition, kwarg: ParameterKwarg | None) -> list[str]:
    if kwarg is not None and kwarg.schema_extra and isinstance(kwarg.schema_extra.get("enum"), list):
        return [str(v) for v in kwarg.schema_extra["enum"]]
    if kwarg is not None and kwarg.enum:
        return [str(v) for v in kwarg.enum]
    inner = field.inner_types[0] if field.is_optional and field.inner_types else field
    if inner.is_literal:
        return [str(v) for v in inner.args]
    return []


def _is_int(field: FieldDefinition) -> bool:
    inner = field.inner_types[0] if field.is_optional and field.inner_types else field
    return inner.annotation is int


def _bounds(noun: str, kwarg: ParameterKwarg | None) -> str:
    low = None if kwarg is None else (kwarg.ge if kwarg.ge is not None else kwarg.gt)
    high = None if kwarg is None else (kwarg.le if kwarg.le is not None else kwarg.lt)
    if low is not None and high is not None:
        return f"{noun} from {low:g} to {high:g}"
    if low is not None:
        return f"{noun} of at least {low:g}"
    if high is not None:
        return f"{noun} of at most {high:g}"
    return noun


def _declared_parameters(request: Request[Any, Any, Any]) -> Iterator[tuple[str, tuple[str, FieldDefinition]]]:
    """Every parameter the route reads, by Python name and by alias, with its public name (``format`` for
    ``export_format: Annotated[..., QueryParameter(name="format")]``): the handler's own and its dependencies'."""
    handler = request.route_handler
    signatures = [handler.parsed_fn_signature]
    for provide in handler.resolve_dependencies().values():
        signature = getattr(provide, "parsed_fn_signature", None)
        if signature is not None:
            signatures.append(signature)
    for signature in signatures:
        for name, field in signature.parameters.items():
            kwarg = field.kwarg_definition
            aliases = [kwarg.name, kwarg.query, kwarg.header, kwarg.cookie] if isinstance(kwarg, ParameterKwarg) else []
            public = next((alias for alias in aliases if alias), name)
            for key in {name, public, public.lower()}:
                yield key, (public, field)
