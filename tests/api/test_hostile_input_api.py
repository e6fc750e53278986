"""Hostile and malformed input: always a 4xx problem document, never a 500 or a stack trace."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from receiptcore.settings import Settings
from tests.api.conftest import ADMIN_EMAIL, MAX_FILES, MAX_UPLOAD, Api, image_bytes, jpeg, make_settings
from tests.api.streaming import streaming_api

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


# ---- multipart bodies that used to be buffered whole or answered with a 500 (issue 9, holes 1 and 5) ------------

BOUNDARY = "hostile-boundary-7f3a"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
MIB = 1024 * 1024


def _part_head(disposition: str, extra: bytes = b"") -> bytes:
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode() + extra + b"\r\n"


def _closing() -> bytes:
    return f"\r\n--{BOUNDARY}--\r\n".encode()


class _Pulled:
    """A request body produced on demand, counting the bytes the server actually asked for."""

    def __init__(self, head: bytes, filler_chunks: int, chunk: bytes = b"a" * MIB, tail: bytes = b"") -> None:
        self.head, self.filler_chunks, self.chunk, self.tail = head, filler_chunks, chunk, tail
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces():
            self.pulled += len(piece)
            yield piece

    def _pieces(self) -> Iterator[bytes]:
        yield self.head
        for _ in range(self.filler_chunks):
            yield self.chunk
        yield self.tail


@pytest.fixture
async def streamed(tmp_path: Path) -> AsyncIterator[Api]:
    """An API whose client the app pulls request bodies from chunk by chunk (``tests/api/streaming.py``)."""
    async with streaming_api(make_settings(tmp_path)) as api:
        yield api


async def test_a_300_mib_text_part_is_refused_by_name_before_its_body_is_read(
    streamed: Api,
) -> None:
    api = streamed
    _, headers = await api.user()
    body = _Pulled(_part_head('form-data; name="comment"'), filler_chunks=300, tail=_closing())
    response = await api.client.post("/api/receipts", content=body, headers=headers | MULTIPART)
    problem = _assert_problem(response)
    assert problem["status"] == 422
    assert "'comment'" in problem["detail"]
    assert problem["errors"][0]["field"] == "comment"
    assert body.pulled < 2 * MIB, f"the server read {body.pulled} bytes of a part it refuses"


async def test_a_file_part_over_the_cap_is_413_as_soon_as_it_passes_the_cap(
    streamed: Api,
) -> None:
    api = streamed
    _, headers = await api.user()
    head = _part_head('form-data; name="file"; filename="big.jpg"', b"Content-Type: image/jpeg\r\n")
    body = _Pulled(head, filler_chunks=300, chunk=b"\xff" * (64 * 1024), tail=_closing())
    response = await api.client.post("/api/receipts", content=body, headers=headers | MULTIPART)
    assert _assert_problem(response)["status"] == 413
    assert body.pulled < MAX_UPLOAD + 2 * 64 * 1024 + len(head)


async def test_thousands_of_parts_are_413_when_the_first_one_too_many_starts(
    streamed: Api,
) -> None:
    api = streamed
    _, headers = await api.user()
    one = _part_head('form-data; name="file"; filename="x.jpg"') + b"x\r\n"
    body = _Pulled(b"", filler_chunks=5000, chunk=one, tail=_closing())
    response = await api.client.post("/api/receipts", content=body, headers=headers | MULTIPART)
    assert _assert_problem(response)["status"] == 413
    assert body.pulled < (MAX_FILES + 3) * len(one)


async def test_huge_part_headers_are_413(streamed: Api) -> None:
    api = streamed
    _, headers = await api.user()
    head = f"--{BOUNDARY}\r\nX-Padding: ".encode()
    body = _Pulled(head, filler_chunks=100, tail=_closing())
    response = await api.client.post("/api/receipts", content=body, headers=headers | MULTIPART)
    assert _assert_problem(response)["status"] == 413
    assert body.pulled < 2 * MIB


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("non-UTF-8 text part", _part_head('form-data; name="note"') + b"\xff\xfe\xe9t\xe9\r\n"),
        (
            "non-UTF-8 file name",
            _part_head('form-data; name="file"; filename="ete.jpg"').replace(b"ete", b"\xe9t\xe9") + b"x\r\n",
        ),
        ("CR/LF in a file name", _part_head('form-data; name="file"; filename="a\r\nb.jpg"') + b"x\r\n"),
        ("a file part without a filename", _part_head('form-data; name="file"') + b"x\r\n"),
        ("a part without a disposition", f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n".encode()),
        ("a header line without a colon", f"--{BOUNDARY}\r\nnonsense\r\n\r\nx\r\n".encode()),
        ("no closing boundary", _part_head('form-data; name="file"; filename="a.jpg"') + b"abc"),
        ("garbage after a boundary", f"--{BOUNDARY}garbage\r\n".encode()),
    ],
)
async def test_malformed_or_hostile_parts_are_a_4xx_problem_never_a_500(api: Api, name: str, part: bytes) -> None:
    _, headers = await api.user()
    body = part if name == "no closing boundary" else part + _closing()
    response = await api.client.post("/api/receipts", content=body, headers=headers | MULTIPART)
    _assert_problem(response)
    listing = await api.client.get("/api/receipts", headers=headers)
    assert listing.json()["items"] == []


async def test_a_crlf_file_name_is_a_400_malformed_request(api: Api) -> None:
    _, headers = await api.user()
    body = _part_head('form-data; name="file"; filename="a\r\nb.jpg"') + jpeg() + _closing()
    response = await api.client.post("/api/receipts", content=body, headers=headers | MULTIPART)
    problem = _assert_problem(response)
    assert (problem["status"], problem["type"].rsplit("/", 1)[1]) == (400, "malformed-request")


async def test_an_rfc5987_file_name_is_accepted(api: Api) -> None:
    _, headers = await api.user()
    head = _part_head("form-data; name=\"file\"; filename*=UTF-8''re%C3%A7u.jpg")
    response = await api.client.post("/api/receipts", content=head + jpeg() + _closing(), headers=headers | MULTIPART)
    assert response.status_code == 202, response.text
    assert response.json()["receipts"][0]["source"]["filename"] == "reçu.jpg"


@pytest.fixture
def slow_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, upload_idle_timeout_seconds=0.3, upload_body_timeout_seconds=1.5)


async def test_a_body_that_stops_arriving_is_408(slow_settings: Settings) -> None:
    async with streaming_api(slow_settings) as api:
        _, headers = await api.user()

        async def stalled() -> AsyncIterator[bytes]:
            yield _part_head('form-data; name="file"; filename="a.jpg"')
            await asyncio.sleep(30)  # far past the idle timeout; the server answers first
            yield _closing()

        response = await asyncio.wait_for(
            api.client.post("/api/receipts", content=stalled(), headers=headers | MULTIPART), 10
        )
        problem = _assert_problem(response)
        assert (problem["status"], problem["type"].rsplit("/", 1)[1]) == (408, "request-timeout")


async def test_a_slowloris_body_that_trickles_is_408_at_the_whole_body_limit(slow_settings: Settings) -> None:
    async with streaming_api(slow_settings) as api:
        _, headers = await api.user()
        sent = 0

        async def trickle() -> AsyncIterator[bytes]:
            nonlocal sent
            yield _part_head('form-data; name="file"; filename="a.jpg"')
            for _ in range(300):  # one byte every 0.1 s: never idle for 0.3 s, but 30 s in all
                await asyncio.sleep(0.1)
                sent += 1
                yield b"\xff"
            yield _closing()

        response = await asyncio.wait_for(
            api.client.post("/api/receipts", content=trickle(), headers=headers | MULTIPART), 20
        )
        assert _assert_problem(response)["status"] == 408
        assert sent < 100, f"the trickle ran {sent} chunks before the 1.5 s body limit answered"


# ---- forged cursors (issue 9, hole 5): the MAC key was a constant in the source ----------------------------------


def _forged(payload: str, key: bytes = b"receiptcore-cursor-v1", mac_bytes: int = 6) -> str:
    raw = payload.encode()
    digest = hashlib.blake2b(raw, digest_size=mac_bytes, key=key).digest()
    return base64.urlsafe_b64encode(digest + raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "payload"),
    [
        ("-total", '[1,"-total",' + str(2**80) + ',"x"]'),  # OverflowError binding it in SQLite
        ("-created_at", '[1,"-created_at","2026-01-01T00:00:00.000000Z","\\ud800"]'),  # lone surrogate
        ("-created_at", '[1,"-created_at","\\udfff","01900000-0000-7000-8000-000000000000"]'),
    ],
)
async def test_cursors_forged_with_the_old_constant_key_are_422(api: Api, sort: str, payload: str) -> None:
    _, headers = await api.user()
    response = await api.client.get("/api/receipts", params={"cursor": _forged(payload), "sort": sort}, headers=headers)
    assert _assert_problem(response)["status"] == 422


async def test_a_cursor_of_one_install_is_refused_by_another(tmp_path: Path) -> None:
    pages: list[str] = []
    for install in ("one", "two"):
        settings = make_settings(tmp_path / install)
        async with streaming_api(settings) as api:
            _, headers = await api.user()
            for i in range(2):
                assert (await api.upload(headers, (f"{i}.png", image_bytes("PNG", (40 + i, 30))))).status_code == 202
            if pages:
                response = await api.client.get("/api/receipts", params={"cursor": pages[0]}, headers=headers)
                assert _assert_problem(response)["status"] == 422
            first = await api.client.get("/api/receipts", params={"limit": 1}, headers=headers)
            pages.append(first.json()["next_cursor"])
            again = await api.client.get("/api/receipts", params={"cursor": pages[-1]}, headers=headers)
            assert again.status_code == 200
    key_file = tmp_path / "one" / "cursor.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


# ---- storage failures are 503 without server paths or errno (issue 9, hole 6) ------------------------------------


async def test_a_storage_failure_is_503_without_paths_or_errno(api: Api) -> None:
    _, headers = await api.user()
    files_dir = api.settings.files_dir
    files_dir.mkdir(parents=True, exist_ok=True)
    # a file where the store wants the two-letter directory: every write fails with an OSError naming the path
    content = image_bytes("PNG", (33, 21))
    shard = files_dir / hashlib.sha256(content).hexdigest()[:2]
    shard.write_text("not a directory")
    response = await api.upload(headers, ("a.png", content))
    problem = _assert_problem(response, 503, 503)
    assert response.headers["Retry-After"]
    for leak in (str(api.settings.data_dir), "Errno", "errno", "/"):
        assert leak not in problem["detail"], problem["detail"]
