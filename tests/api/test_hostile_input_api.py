"""Hostile and malformed input: always a 4xx problem document, never a 500 or a stack trace."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import ADMIN_EMAIL, Api, jpeg

PROBLEM = "application/problem+json"


def _assert_problem(response: object, low: int = 400, high: int = 499) -> dict:
    status = response.status_code  # type: ignore[attr-defined]
    assert low <= status <= high, (status, response.text)  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith(PROBLEM)  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["status"] == status
    assert body["type"].startswith("https://receiptcore.dev/problems/")
    assert body["title"]
    assert "Traceback" not in response.text  # type: ignore[attr-defined]
    return body


async def test_huge_json_body_is_413(api: Api) -> None:
    body = json.dumps({"email": "a@b.cd", "password": "x" * (2 * 1024 * 1024)})
    response = await api.client.post("/auth/login", content=body, headers={"Content-Type": "application/json"})
    assert _assert_problem(response)["status"] == 413


@pytest.mark.parametrize("depth", [100, 5000])
async def test_deeply_nested_json_is_refused(api: Api, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    login = await api.client.post(
        "/auth/login",
        content='{"email": ' + nested + ', "password": "x"}',
        headers={"Content-Type": "application/json"},
    )
    _assert_problem(login)
    admin = await api.admin()
    response = await api.client.patch(
        "/api/receipts/01900000-0000-7000-8000-000000000000",
        content='{"notes": ' + nested + ', "version": 1}',
        headers=admin | {"Content-Type": "application/json"},
    )
    _assert_problem(response)


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"",
        b"null",
        b'"a string"',
        b"\xff\xfe\x00garbage",
        b'{"email": "a@b.cd", "password": "x", "password": "y", "__proto__": {}}',
        b'{"email": 1e999, "password": true}',
        b'{"email": "\xe9@x.io", "password": "x"}',  # Latin-1, not UTF-8, inside valid JSON syntax (was a 500)
        b'{"email": "\\ud800@x.io", "password": "\\udfff"}',  # lone surrogate escapes
    ],
)
async def test_malformed_json_is_a_4xx_problem(api: Api, raw: bytes) -> None:
    response = await api.client.post("/auth/login", content=raw, headers={"Content-Type": "application/json"})
    _assert_problem(response)


async def test_json_body_that_is_not_utf8_is_400(api: Api) -> None:
    raw = '{"email": "é@x.io", "password": "x"}'.encode("latin-1")
    response = await api.client.post("/auth/login", content=raw, headers={"Content-Type": "application/json"})
    assert _assert_problem(response)["status"] == 400


@pytest.mark.parametrize("media_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
async def test_json_routes_refuse_other_media_types_with_415(api: Api, media_type: str) -> None:
    # a text/plain post skips the browser's CORS preflight: it must not pass for JSON
    body = json.dumps({"email": ADMIN_EMAIL, "password": "x"})
    response = await api.client.post("/auth/login", content=body, headers={"Content-Type": media_type})
    assert _assert_problem(response)["status"] == 415


@pytest.mark.parametrize(
    "email",
    [
        "' OR '1'='1' --@x.com",
        "admin@example.com'; DROP TABLE users; --",
        "ådmin@exämple.com",
        "\u202eadmin@example.com",
        "admin@example.com\x00",
        "🧾@🧾.🧾",
        "a" * 300 + "@example.com",
    ],
)
async def test_sql_ish_and_unicode_logins_are_401_or_422(api: Api, email: str) -> None:
    await api.admin()
    response = await api.client.post("/auth/login", json={"email": email, "password": "' OR 1=1 --"})
    assert response.status_code in (401, 422)
    _assert_problem(response)


@pytest.mark.parametrize("q", ["' OR 1=1 --", "%", "_", "\\", "🧾 收据", "a%' UNION SELECT * FROM users --", "[a-z]*"])
async def test_sql_ish_and_unicode_search_text_is_just_text(api: Api, q: str) -> None:
    _, headers = await api.user()
    await api.upload(headers, ("a.jpg", jpeg()))
    response = await api.client.get("/api/receipts", params={"q": q}, headers=headers)
    assert response.status_code in (200, 422)
    if response.status_code == 200:
        assert response.json()["items"] == []  # no wildcard or injection matches the (empty) receipt


async def test_control_characters_in_search_text_are_not_a_server_error(api: Api) -> None:
    _, headers = await api.user()
    for q in ("\x00", "\x1b[31m", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")):
        response = await api.client.get("/api/receipts", params={"q": q}, headers=headers)
        assert response.status_code in (200, 422), q


@pytest.mark.parametrize(
    "cursor", ["abc", "eyJ4IjoxfQ", "=" * 40, "A" * 512, "../../", "eyJzb3J0IjoiLWNyZWF0ZWRfYXQiLCJpZCI6MX0"]
)
async def test_invalid_cursors_are_422(api: Api, cursor: str) -> None:
    _, headers = await api.user()
    response = await api.client.get("/api/receipts", params={"cursor": cursor}, headers=headers)
    assert _assert_problem(response)["status"] == 422


async def test_wrong_types_and_unknown_fields_are_422_with_field_errors(api: Api) -> None:
    admin = await api.admin()
    cases = [
        ("/users", {"email": ["x"], "password": 12}),
        ("/users", {"email": "a@b.cd", "password": "long enough pass 1", "is_admin": True}),
        ("/roles", {"name": "r1", "permissions": "receipts:read"}),
        ("/roles", {"name": None, "permissions": []}),
        ("/auth/password", {"current_password": 1, "new_password": None}),
    ]
    for path, body in cases:
        response = await api.client.post(path, json=body, headers=admin)
        problem = _assert_problem(response)
        assert problem["status"] == 422, (path, body)
        assert problem["errors"], (path, body)


async def test_unknown_route_and_wrong_method_are_problems(api: Api) -> None:
    missing = await api.client.get("/no/such/thing")
    assert _assert_problem(missing)["status"] == 404
    wrong = await api.client.put("/auth/login", json={})
    assert _assert_problem(wrong)["status"] == 405


async def test_header_injection_in_a_token_is_401(api: Api) -> None:
    for token in (b"a.b.c", b"x" * 10_000, b"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "🧾".encode()):
        response = await api.client.get("/auth/me", headers={"Authorization": b"Bearer " + token})
        assert _assert_problem(response)["status"] == 401


async def test_login_email_with_crlf_cannot_split_headers(api: Api) -> None:
    await api.admin()
    response = await api.client.post(
        "/auth/login", json={"email": ADMIN_EMAIL + "\r\nSet-Cookie: evil=1", "password": "whatever whatever"}
    )
    assert response.status_code in (401, 422)
    assert "evil" not in response.headers.get("set-cookie", "")


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    from receiptcore.entrypoints.http.limits import MAX_JSON_DEPTH, json_depth

    text_with_brackets = json.dumps({"notes": "[{" * 500, "tags": [["a"]]}).encode()
    assert json_depth(text_with_brackets) == 3
    assert json_depth(("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)).encode()) == MAX_JSON_DEPTH + 1
    assert json_depth(b'{"a": "\\"[[[["}') == 1


async def test_a_correction_with_bracket_heavy_text_is_accepted_by_the_depth_check(api: Api) -> None:
    _, headers = await api.user()
    item = (await api.upload(headers, ("a.jpg", jpeg()))).json()["receipts"][0]
    await api.extract_all()
    version = (await api.client.get(item["location"], headers=headers)).json()["version"]
    response = await api.client.patch(item["location"], json={"notes": "[" * 300, "version": version}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["notes"] == "[" * 300
