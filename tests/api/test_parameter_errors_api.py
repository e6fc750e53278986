"""Every bad parameter value reads like the receipt filters' errors: what was wrong and what is accepted.

Stumble 9 of issue 11: ``?date_from=yesterday`` answered with the validator's own text (``Expected `str` matching
regex ...``). The mapping in ``entrypoints/http/errors.py`` now describes every declared parameter; the sweep below
sends a bad value to every query parameter of every route, so a new parameter cannot bring the old text back.
"""

from __future__ import annotations

import re

import pytest
from litestar.params import ParameterKwarg
from litestar.routes import HTTPRoute

from tests.api.conftest import Api

MISSING_ID = "01900000-0000-7000-8000-000000000000"
FRAMEWORK_TEXT = re.compile(r"Expected `|regex|ParamType|Validation failed for")


def _assert_friendly(body: dict[str, object], field: str, value: str) -> None:
    text = str(body)
    assert not FRAMEWORK_TEXT.search(text), text
    errors = body["errors"]
    assert isinstance(errors, list)
    mine = [e for e in errors if e["field"] == field]
    assert mine, body
    assert f"'{value}' is not accepted; expected " in mine[0]["message"], mine
    assert mine[0]["source"] == "query"
    assert field in str(body["detail"])


async def test_a_bad_date_says_what_was_wrong_and_what_is_accepted(api: Api) -> None:
    headers = await api.admin()
    response = await api.client.get("/api/receipts", params={"date_from": "yesterday"}, headers=headers)
    assert response.status_code == 422
    body = response.json()
    _assert_friendly(body, "date_from", "yesterday")
    assert "YYYY-MM-DD" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("path", "field", "value", "accepted"),
    [
        ("/users", "limit", "0", "a whole number from 1 to 500"),
        ("/users", "limit", "many", "a whole number from 1 to 500"),
        ("/users", "after", "zz", "a user id"),
        ("/api/receipts", "min_total", "ten", "an amount such as 12.50"),
        ("/api/receipts", "limit", "abc", "a whole number from 1 to 500"),
        ("/api/receipts/export", "format", "xml", "one of 'csv', 'json'"),
    ],
)
async def test_each_kind_of_parameter_is_described(api: Api, path: str, field: str, value: str, accepted: str) -> None:
    response = await api.client.get(path, params={field: value}, headers=await api.admin())
    assert response.status_code == 422, response.text
    _assert_friendly(response.json(), field, value)
    assert accepted in response.json()["errors"][0]["message"]


async def test_a_long_or_hostile_value_is_quoted_short(api: Api) -> None:
    value = "<script>" + "x" * 500
    response = await api.client.get("/users", params={"limit": value}, headers=await api.admin())
    assert response.status_code == 422
    message = response.json()["errors"][0]["message"]
    assert len(message) < 200
    assert "x" * 100 not in message


async def test_every_query_parameter_of_every_route_answers_a_bad_value_in_words(api: Api) -> None:
    headers = await api.admin()
    app = api.client.app
    checked = 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        handler = next((h for h in route.route_handlers if "GET" in h.http_methods), None)
        if handler is None:
            continue
        signatures = [handler.parsed_fn_signature] + [
            p.parsed_fn_signature for p in handler.resolve_dependencies().values() if hasattr(p, "parsed_fn_signature")
        ]
        path = re.sub(r"\{[^}]+\}", MISSING_ID, route.path_format)
        for signature in signatures:
            for name, field in signature.parameters.items():
                kwarg = field.kwarg_definition
                if not isinstance(kwarg, ParameterKwarg) or kwarg.param_type.value != "query":
                    continue
                constrained = kwarg.pattern or kwarg.ge is not None or "Literal" in str(field.annotation)
                if not constrained:
                    continue
                key = kwarg.name or name
                bad = "not valid!"
                response = await api.client.get(path, params={key: bad}, headers=headers)
                if response.status_code == 404:
                    continue  # the route looked up its path id before reading the parameter
                assert response.status_code == 422, (route.path_format, key, response.text)
                _assert_friendly(response.json(), key, bad)
                checked += 1
    assert checked >= 8
