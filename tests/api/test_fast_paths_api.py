"""The answers given before (or instead of) Litestar's routing are the ones Litestar gives, header for header.

``entrypoints/http/shedding.py`` refuses a login while the admission is full without routing it;
``entrypoints/http/fastpath.py`` answers ``GET /auth/me`` and ``GET /api/receipts/{rid}`` without routing. The
tests put the same request through both ways and compare status, headers (all but the request id) and body
bytes, and pin that the fast path still refuses a revoked token, a disabled user and another owner's receipt on
the very next request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from dependency_injector import providers
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.datastructures import MutableScopeHeaders

from receiptcore.adapters.clock import ManualClock
from receiptcore.domain.ids import is_id
from receiptcore.entrypoints.http import fastpath
from receiptcore.entrypoints.http.app import create_app
from receiptcore.entrypoints.http.raw import API_SECURITY_HEADERS, with_security_headers
from receiptcore.entrypoints.http.security import API_CSP, SCHEMA_CSP
from receiptcore.entrypoints.http.shedding import REPEAT_PAUSE_SECONDS, RepeatOffenders, shed_logins
from receiptcore.errors import Overloaded
from receiptcore.services.admission import OVERLOADED_DETAIL, LoginAdmission
from receiptcore.settings import Settings
from tests.api.asgi_direct import asgi_call, bearer, comparable, served_directly
from tests.api.conftest import PASSWORD, Api, jpeg, make_container, make_settings
from tests.api.streaming import _lifespan
from tests.support.held_hasher import until


class _RouteOnly(LoginAdmission):
    """Lets the layer in front of routing take its place, refuses at the route's ticket: Litestar answers."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.tickets = 0

    @property
    def full(self) -> bool:
        return False

    @contextmanager
    def ticket(self) -> Iterator[None]:
        self.tickets += 1
        if self.tickets > 1:  # the route's
            raise Overloaded(OVERLOADED_DETAIL, retry_after=1.0, key="overloaded")
        yield


async def _login_answer(tmp_path: Any, admission: LoginAdmission) -> tuple[int, dict[bytes, bytes], bytes]:
    container = make_container(make_settings(tmp_path))
    container.login_admission.override(providers.Object(admission))
    app = create_app(container)
    async with _lifespan(app):
        body = b'{"email": "someone@example.com", "password": "whatever it is"}'
        return comparable(await asgi_call(app, "POST", "/auth/login", body, [(b"content-type", b"application/json")]))


async def test_a_login_shed_before_routing_gets_the_answer_the_route_gives(tmp_path: Any) -> None:
    full = LoginAdmission(1)
    full.in_progress = 1
    early = await _login_answer(tmp_path / "early", full)
    routed = await _login_answer(tmp_path / "routed", _RouteOnly(1))
    assert early == routed
    status, headers, _ = early
    assert status == 429
    assert headers[b"retry-after"] == b"1"
    assert headers[b"content-type"] == b"application/problem+json"


async def test_the_early_refusal_reads_no_body_and_a_free_admission_lets_the_login_through(tmp_path: Any) -> None:
    container = make_container(make_settings(tmp_path))
    app = create_app(container)
    admission = container.login_admission()
    async with _lifespan(app):
        admission.in_progress = admission.limit
        sent = await asgi_call(app, "POST", "/auth/login", b"not even json", [(b"content-type", b"application/json")])
        assert sent[0]["status"] == 429  # answered from the layer: a routed request would get a 400 for this body
        admission.in_progress = 0
        sent = await asgi_call(app, "POST", "/auth/login", b"not even json", [(b"content-type", b"application/json")])
        assert sent[0]["status"] == 400
        # other methods and paths are never shed
        admission.in_progress = admission.limit
        sent = await asgi_call(app, "GET", "/auth/login", b"", [])
        assert sent[0]["status"] == 405
        sent = await asgi_call(app, "POST", "/auth/refresh", b"{}", [(b"content-type", b"application/json")])
        assert sent[0]["status"] == 401


async def test_a_repeat_offender_waits_a_moment_for_its_refusal_and_nobody_else_does() -> None:
    now = [100.0]
    pauses: list[float] = []
    routed: list[str] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    async def behind(scope: Any, receive: Any, send: Any) -> None:
        routed.append(scope["client"][0])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    admission = LoginAdmission(1)
    offenders = RepeatOffenders(window=1.0, size=2, clock=lambda: now[0])
    app = shed_logins(behind, lambda: admission, offenders=offenders, pause=pause)

    async def login(address: str) -> int:
        scope = {"type": "http", "method": "POST", "path": "/auth/login", "client": (address, 1), "headers": []}
        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        await app(scope, None, send)
        return int(sent[0]["status"])

    admission.in_progress = 1
    assert await login("10.0.0.1") == 429
    assert pauses == []  # the first refusal of an address is immediate
    assert await login("10.0.0.1") == 429
    assert pauses == [REPEAT_PAUSE_SECONDS]  # refused again within Retry-After: paused, still refused
    assert await login("10.0.0.2") == 429
    assert pauses == [REPEAT_PAUSE_SECONDS]  # another address is not
    now[0] += 1.5
    assert await login("10.0.0.1") == 429
    assert pauses == [REPEAT_PAUSE_SECONDS]  # past the window: immediate again
    admission.in_progress = 0
    assert await login("10.0.0.1") == 200  # a free place: let through at once, whatever came before
    assert routed == ["10.0.0.1"]
    assert pauses == [REPEAT_PAUSE_SECONDS]
    # bounded: a third address pushes the oldest out
    admission.in_progress = 1
    for address in ("10.0.0.3", "10.0.0.4"):
        assert await login(address) == 429
    assert await login("10.0.0.1") == 429
    assert pauses == [REPEAT_PAUSE_SECONDS]
    assert REPEAT_PAUSE_SECONDS < 0.05  # inside the 50 ms a refusal may take


async def test_a_login_takes_its_place_before_routing_so_logins_arriving_meanwhile_are_shed_unrouted() -> None:
    admission = LoginAdmission(1)
    routed: list[int] = []
    release = asyncio.Event()

    async def behind(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(0)  # routing reads the body first: other logins arrive meanwhile
        # what the route does: its own ticket, inside the one the layer took (the same place)
        with admission.ticket():
            routed.append(admission.in_progress)
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    app = shed_logins(behind, lambda: admission, pause=lambda _s: asyncio.sleep(0))

    async def login(address: str) -> int:
        scope = {"type": "http", "method": "POST", "path": "/auth/login", "client": (address, 1), "headers": []}
        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        await app(scope, None, send)
        return int(sent[0]["status"])

    # six at once, one place: the first takes it in front of routing, the other five are refused there
    tasks = [asyncio.create_task(login(f"10.0.1.{n}")) for n in range(6)]
    await until(lambda: routed == [1] and sum(task.done() for task in tasks) == 5)
    assert [task.result() for task in tasks[1:]] == [429] * 5
    release.set()
    assert await tasks[0] == 200
    assert admission.in_progress == 0  # the place is given back with the response
    assert await login("10.0.0.2") == 200
    assert routed == [1, 1]


# ---- GET /auth/me and GET /api/receipts/{rid} without routing (entrypoints/http/fastpath.py) --------------------


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with served_directly(settings) as served:
        yield served


async def _both(api: Api, path: str, auth: list[tuple[bytes, bytes]]) -> tuple[Any, Any]:
    """The same GET through the app as served (fast paths on) and through Litestar's routing alone."""
    fast = comparable(await asgi_call(api.app, "GET", path, b"", auth))  # type: ignore[attr-defined]
    routed = comparable(await asgi_call(create_app(api.container, fast_paths=False), "GET", path, b"", auth))
    return fast, routed


@pytest.fixture
async def people(api: Api) -> dict[str, Any]:
    """Alice with an extracted receipt, Bob with one of his own, Carol who may read no receipt, Dan the auditor."""
    alice_id, alice = await api.user()
    _, bob = await api.user()
    receipt = (await api.upload(alice, ("alice.jpg", jpeg()))).json()["receipts"][0]
    assert (await api.upload(bob, ("bob.jpg", jpeg()))).status_code == 202
    await api.extract_all()
    role = {"name": "directory", "description": "", "permissions": ["users:read"]}
    assert (await api.client.post("/roles", json=role, headers=await api.admin())).status_code == 201
    _, carol = await api.user(roles=["directory"])
    _, dan = await api.user(roles=["auditor"])
    return {"alice": alice, "alice_id": alice_id, "bob": bob, "carol": carol, "dan": dan, "id": receipt["id"]}


async def test_the_fast_answers_are_the_routed_answers_byte_for_byte(
    api: Api, people: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    alice = bearer(people["alice"])
    for path in ("/auth/me", f"/api/receipts/{people['id']}"):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="receiptcore.http"):
            fast, routed = await _both(api, path, alice)
        assert fast == routed, path
        assert fast[0] == 200
        # one access line each, naming the same route (the metrics' label too)
        fast_line, routed_line = [r for r in caplog.records if r.name == "receiptcore.http"]
        assert fast_line.route == routed_line.route != "<unmatched>"  # type: ignore[attr-defined]
    assert b"etag" in fast[1]


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("bob", "/api/receipts/{id}", 404),  # another owner's receipt: not found, inside the caller's scope
        ("alice", "/api/receipts/{missing}", 404),
        ("alice", "/api/receipts/not-an-id", 404),
        ("carol", "/api/receipts/{id}", 403),  # no receipts:read
        ("dan", "/api/receipts/{id}", 200),  # an auditor reads everyone's (receipts:read:any)
        ("dan", "/auth/me", 200),
        ("carol", "/auth/me", 200),
        (None, "/auth/me", 401),
        (None, "/api/receipts/{id}", 401),
        ("garbage", "/auth/me", 401),
        ("garbage", "/api/receipts/{id}", 401),
    ],
)
async def test_every_refusal_is_the_routed_problem_document(
    api: Api, people: dict[str, Any], who: str | None, path: str, status: int
) -> None:
    auth: list[tuple[bytes, bytes]] = []
    if who == "garbage":
        auth = [(b"authorization", b"Bearer not.a.token")]
    elif who is not None:
        auth = bearer(people[who])
    url = path.format(id=people["id"], missing="0b5d8f4e-2a4c-4c55-9d87-4e5b8d1c2f30")
    fast, routed = await _both(api, url, auth)
    assert fast == routed
    assert fast[0] == status


async def test_a_revoked_session_is_refused_on_the_next_fast_request(api: Api, people: dict[str, Any]) -> None:
    response = await api.client.post("/auth/login", json={"email": await _email(api, people), "password": PASSWORD})
    session = {"Authorization": f"Bearer {response.json()['access_token']}"}
    url = f"/api/receipts/{people['id']}"
    assert (await api.client.get(url, headers=session)).status_code == 200
    assert (await api.client.get("/auth/me", headers=session)).status_code == 200  # the token is cached now
    logout = await api.client.post("/auth/logout", json={"refresh_token": response.cookies["receiptcore_refresh"]})
    assert logout.status_code == 204
    for path in (url, "/auth/me"):
        refused = await api.client.get(path, headers=session)
        assert refused.status_code == 401, path
        assert refused.json()["type"].endswith("/token-rejected") or refused.json()["status"] == 401


async def test_a_disabled_user_is_refused_on_the_next_fast_request(api: Api, people: dict[str, Any]) -> None:
    url = f"/api/receipts/{people['id']}"
    assert (await api.client.get(url, headers=people["alice"])).status_code == 200
    disabled = await api.client.post(f"/users/{people['alice_id']}/disable", headers=await api.admin())
    assert disabled.status_code == 200, disabled.text
    for path in (url, "/auth/me"):
        assert (await api.client.get(path, headers=people["alice"])).status_code == 401, path


async def test_a_change_written_by_another_process_is_seen_on_the_next_fast_request(
    api: Api, people: dict[str, Any]
) -> None:
    # what `receiptcore users disable` does from another process: a write to the SQLite file, no event on this bus
    url = f"/api/receipts/{people['id']}"
    assert (await api.client.get(url, headers=people["alice"])).status_code == 200
    for path in (url, "/auth/me", "/auth/me"):  # the second /auth/me is answered from the answer kept for it
        assert (await api.client.get(path, headers=people["alice"])).status_code == 200
    with sqlite3.connect(api.settings.data_dir / "receiptcore.sqlite3") as other:
        other.execute("UPDATE users SET disabled = 1 WHERE id = ?", (people["alice_id"],))
    for path in (url, "/auth/me"):
        assert (await api.client.get(path, headers=people["alice"])).status_code == 401, path


async def _email(api: Api, people: dict[str, Any]) -> str:
    user = await api.container.user_repo().get_user(people["alice_id"])
    return user.email


async def test_an_unexpected_error_on_the_fast_path_is_the_routed_500(api: Api, people: dict[str, Any]) -> None:
    class Broken:
        async def get(self, principal: Any, receipt_id: str) -> Any:
            raise RuntimeError("the store fell over")

    api.container.receipt_service.override(providers.Object(Broken()))
    try:
        fast, routed = await _both(api, f"/api/receipts/{people['id']}", bearer(people["alice"]))
    finally:
        api.container.receipt_service.reset_override()
    assert fast == routed
    assert fast[0] == 500
    assert b"the store fell over" not in fast[2]


def _reference_security_headers(headers: list[tuple[bytes, bytes]], path: str) -> list[tuple[bytes, bytes]]:
    """What ``app._security_headers`` did through Litestar's MutableScopeHeaders before it worked on the pairs."""
    message: dict[str, Any] = {"type": "http.response.start", "status": 200, "headers": list(headers)}
    mutable = MutableScopeHeaders.from_message(message)  # type: ignore[arg-type]
    for name, value in API_SECURITY_HEADERS[:3]:
        mutable[name] = value
    if path.startswith("/schema"):
        mutable["Content-Security-Policy"] = SCHEMA_CSP
    else:
        if "content-security-policy" not in mutable:
            mutable["Content-Security-Policy"] = API_CSP
        if "cache-control" not in mutable:
            mutable["Cache-Control"] = "no-store"
    return list(message["headers"])


@pytest.mark.parametrize("path", ["/auth/me", "/schema/swagger", "/static/app.js", "/api/receipts/x/file"])
@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"content-type", b"application/json"), (b"content-length", b"2")],
        [(b"cache-control", b"private, max-age=300"), (b"content-security-policy", b"default-src 'none'; sandbox")],
        [(b"x-frame-options", b"SAMEORIGIN"), (b"x-frame-options", b"ALLOW"), (b"referrer-policy", b"origin")],
        [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2"), (b"x-content-type-options", b"nosniff")],
    ],
)
def test_the_security_headers_are_the_ones_litestars_headers_object_gave(
    headers: list[tuple[bytes, bytes]], path: str
) -> None:
    assert sorted(with_security_headers(headers, path)) == sorted(_reference_security_headers(headers, path))


async def test_the_verified_token_cache_never_serves_an_expired_token_on_the_fast_path(settings: Settings) -> None:
    clock = ManualClock(dt.datetime.now(dt.UTC))  # tokens, their expiry and the caches all read this clock
    container = make_container(settings)
    container.clock.override(providers.Object(clock))
    async with served_directly(settings, container) as api:
        app = api.app  # type: ignore[attr-defined]
        _, alice = await api.user()
        receipt = (await api.upload(alice, ("alice.jpg", jpeg()))).json()["receipts"][0]
        auth = bearer(alice)
        paths = ("/auth/me", f"/api/receipts/{receipt['id']}")
        for path in paths:  # verified once, then answered from the cache of verified tokens
            for _ in range(2):
                assert (await asgi_call(app, "GET", path, b"", auth))[0]["status"] == 200, path
        clock.advance(settings.access_token_ttl_seconds - 1)
        for path in paths:
            assert (await asgi_call(app, "GET", path, b"", auth))[0]["status"] == 200, path
        clock.advance(1 + 5 + 1)  # past exp and the 5 s of clock skew the verifier allows
        for path in paths:
            assert (await asgi_call(app, "GET", path, b"", auth))[0]["status"] == 401, path


async def test_the_fast_me_follows_every_field_of_the_user_on_the_next_request(
    api: Api, people: dict[str, Any]
) -> None:
    # the rendering of /auth/me is kept per user state: a change of any field it shows, even one written by another
    # process (no event), is in the very next answer, which is still the routed one
    alice = bearer(people["alice"])
    before, _ = await _both(api, "/auth/me", alice)
    changes = [
        "display_name = 'Alice Renamed'",
        "email = 'alice.renamed@example.com'",
        "updated_at = '2031-02-03T04:05:06.789000+00:00'",
        "updated_at = '2031-02-03T05:05:06.789000+01:00'",  # the same instant, shown with its offset
        "created_at = '2020-02-03T04:05:06+00:00'",
    ]
    for change in changes:
        with sqlite3.connect(api.settings.data_dir / "receiptcore.sqlite3") as other:
            other.execute(f"UPDATE users SET {change} WHERE id = ?", (people["alice_id"],))  # noqa: S608 - constants
        fast, routed = await _both(api, "/auth/me", alice)
        assert fast == routed, change
        assert fast[2] != before[2], change
        before = fast


def _count_user_reads(api: Api, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids the user store is asked for from now on (``get_user``, what ``AuthService.me`` reads)."""
    repo = api.container.user_repo()
    read = repo.get_user
    reads: list[str] = []

    async def counted(user_id: str) -> Any:
        reads.append(user_id)
        return await read(user_id)

    monkeypatch.setattr(repo, "get_user", counted)
    return reads


def _write_elsewhere(api: Api, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """Statements committed by another connection to the SQLite file (another process: no event on this bus)."""
    with sqlite3.connect(api.settings.data_dir / "receiptcore.sqlite3") as other:
        for sql, params in statements:
            other.execute(sql, params)


async def test_the_fast_me_reads_the_user_once_while_the_change_counter_stands_still(
    api: Api, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = bearer(people["alice"])
    first, routed = await _both(api, "/auth/me", alice)
    assert first == routed
    reads = _count_user_reads(api, monkeypatch)
    for _ in range(3):  # the token checked and the counter read each time; the answer kept, the user not read
        assert comparable(await asgi_call(api.app, "GET", "/auth/me", b"", alice)) == first  # type: ignore[attr-defined]
    assert reads == []
    # another process renames her: the counter moves, the next answer reads her again and shows the new name
    _write_elsewhere(api, ("UPDATE users SET display_name = 'Alice Elsewhere' WHERE id = ?", (people["alice_id"],)))
    fast, routed = await _both(api, "/auth/me", alice)
    assert fast == routed
    assert b"Alice Elsewhere" in fast[2]
    # read again: by the token's check (the moved counter dropped every cached state), the fast answer, the routed one
    assert reads == [people["alice_id"]] * 3


async def test_a_kept_me_answer_is_never_given_to_a_session_revoked_by_another_process(
    api: Api, people: dict[str, Any]
) -> None:
    alice = bearer(people["alice"])
    for _ in range(2):
        assert (await asgi_call(api.app, "GET", "/auth/me", b"", alice))[0]["status"] == 200  # type: ignore[attr-defined]
    # `receiptcore users revoke`-like: every refresh token of hers revoked in the file, no event here
    revoked = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    _write_elsewhere(api, ("UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ?", (revoked, people["alice_id"])))
    fast, routed = await _both(api, "/auth/me", alice)
    assert fast == routed
    assert fast[0] == 401


async def test_a_write_that_slips_past_the_counter_is_shown_once_the_kept_answer_expires(
    api: Api, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1_000.0]
    monkeypatch.setattr(fastpath, "monotonic", lambda: now[0])
    alice = bearer(people["alice"])
    kept = comparable(await asgi_call(api.app, "GET", "/auth/me", b"", alice))  # type: ignore[attr-defined]
    # the row changes and the counter does not (as if the file were put back from a copy under a running server)
    _write_elsewhere(
        api,
        ("UPDATE users SET display_name = 'Alice Restored' WHERE id = ?", (people["alice_id"],)),
        ("UPDATE auth_changes SET count = count - 1 WHERE id = 1", ()),
    )
    now[0] += fastpath.ME_KEPT_SECONDS - 0.001
    assert comparable(await asgi_call(api.app, "GET", "/auth/me", b"", alice)) == kept  # type: ignore[attr-defined]
    now[0] += 0.001  # the bound: never kept longer than this
    fast, routed = await _both(api, "/auth/me", alice)
    assert fast == routed
    assert b"Alice Restored" in fast[2]


async def test_without_a_change_counter_the_fast_me_reads_the_user_on_every_request(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the memory profile (and PostgreSQL) has no counter that moves with every user write: nothing is kept
    async with served_directly(make_settings(tmp_path, profile="memory")) as api:
        alice_id, alice_headers = await api.user()
        alice = bearer(alice_headers)
        assert (await asgi_call(api.app, "GET", "/auth/me", b"", alice))[0]["status"] == 200  # type: ignore[attr-defined]
        reads = _count_user_reads(api, monkeypatch)
        repo = api.container.user_repo()
        user = await repo.get_user(alice_id)
        await repo.save_user(user.model_copy(update={"display_name": "Alice Quietly"}))  # no event published
        fast, routed = await _both(api, "/auth/me", alice)
        assert fast == routed
        assert b"Alice Quietly" in fast[2]
        assert len(reads) == 3  # this test's own read, then the fast answer's and the routed one's


@given(
    st.one_of(
        st.uuids().map(str),
        st.uuids().map(lambda u: str(u).upper()),
        st.uuids().map(lambda u: str(u).replace("-", "")),
        st.uuids().map(lambda u: "{" + str(u) + "}"),
        st.uuids().map(lambda u: str(u) + "\n"),
        st.text(alphabet="0123456789abcdefABCDEF-{}:urnid\u0663\u212a\uff21 \n", min_size=30, max_size=40),
    )
)
@settings(max_examples=500, deadline=None)
def test_is_id_which_the_fast_path_asks_accepts_exactly_the_canonical_uuid_strings(text: str) -> None:
    try:
        canonical = str(uuid.UUID(text)) == text.lower()
    except ValueError:
        canonical = False
    assert is_id(text) == canonical


@pytest.mark.parametrize(
    "change",
    [
        "listing_key = 'api-older'",  # rendered by an older representation: not served
        "listing = NULL, listing_key = NULL",  # written before renderings were kept
    ],
)
async def test_a_receipt_without_a_current_rendering_is_still_the_routed_answer(
    api: Api, people: dict[str, Any], change: str
) -> None:
    url = f"/api/receipts/{people['id']}"
    with sqlite3.connect(api.settings.data_dir / "receiptcore.sqlite3") as other:
        other.execute(f"UPDATE receipts SET {change} WHERE id = ?", (people["id"],))  # noqa: S608 - constants
    fast, routed = await _both(api, url, bearer(people["alice"]))
    assert fast == routed
    assert fast[0] == 200
