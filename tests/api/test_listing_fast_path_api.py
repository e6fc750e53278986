"""``GET /api/receipts`` answered before routing (``entrypoints/http/listing_fastpath.py``) is the routed answer.

The same request goes through the app as served and through Litestar's routing alone (``fast_paths=False``); the
status, every header but the request id, and the body bytes must be equal, for pages with and without a cursor,
every filter, encoded values, and every refusal (which the fast path hands to the router). Which answers came
from the fast path is checked too, so the comparison is not between two routed answers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest

from receiptcore.entrypoints.http import listing_fastpath
from receiptcore.entrypoints.http.app import create_app
from receiptcore.settings import Settings
from tests.api.asgi_direct import asgi_call, bearer, comparable, served_directly
from tests.api.conftest import Api, jpeg

LIST = "/api/receipts"


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async with served_directly(settings) as served:
        yield served


@pytest.fixture
async def people(api: Api) -> dict[str, Any]:
    alice_id, alice = await api.user()
    _, bob = await api.user()
    for n in range(4):
        assert (await api.upload(alice, (f"a{n}.jpg", jpeg()))).status_code == 202
    assert (await api.upload(bob, ("bob.jpg", jpeg()))).status_code == 202
    await api.extract_all()
    _, dan = await api.user(roles=["auditor"])
    return {"alice": alice, "alice_id": alice_id, "bob": bob, "dan": dan}


async def _both(
    api: Api, query: str, auth: list[tuple[bytes, bytes]], monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Any, bool]:
    """(served answer, routed answer, whether the served one came from the fast path)."""
    answered: list[bool] = []
    original = listing_fastpath.list_page_json

    def spy(items: list[bytes], next_cursor: str | None) -> bytes:
        answered.append(True)
        return original(items, next_cursor)

    monkeypatch.setattr(listing_fastpath, "list_page_json", spy)
    served = comparable(await asgi_call(api.app, "GET", LIST, b"", auth, query=query.encode()))  # type: ignore[attr-defined]
    monkeypatch.setattr(listing_fastpath, "list_page_json", original)
    routed_app = create_app(api.container, fast_paths=False)
    routed = comparable(await asgi_call(routed_app, "GET", LIST, b"", auth, query=query.encode()))
    return served, routed, bool(answered)


ANSWERED = [
    "",
    "limit=2",
    "limit=2&sort=created_at",
    "sort=-total&min_total=1&max_total=99.5",
    "status=extracted&date_from=2016-01-01&date_to=2016-12-31&sort=-purchase_date",
    "q=tauhu&limit=1",
    "q=ta&limit=3",
    "q=+TAUHU+",
    "q=" + quote("\u00e9t\u00e9 caf\u00e9"),
    "category=&tag=&q=&limit=",
    "merchant=" + quote("YAM FRESH"),
    "limit=2&sort=created_at&q=receipt&status=",  # the Link's order of parameters is the route's own
    "limit=2&tag=&sort=created_at",
    "q",  # Litestar reads a key without a value as empty: no filter
]
HANDED_ON = [
    "limit=0",
    "limit=1000",
    "limit=ten",
    "sort=password",
    "status=deleted",
    "date_from=yesterday",
    "min_total=1e3",
    "q=" + "x" * 201,
    "q=" + "x" * 199 + "%20%20",  # 201 characters before ReceiptQuery strips them
    "cursor=not-a-cursor",
    "owner_id=" + "0" * 36,
    "limit=2&limit=3",
    "unknown=1",
    "date_from=2016-07-31%0A",  # the pattern's $ matches before a final newline, in Litestar's check too: 422
]


@pytest.mark.parametrize("query", ANSWERED)
async def test_a_listing_answered_before_routing_is_the_routed_one(
    api: Api, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, query: str
) -> None:
    with caplog.at_level(logging.INFO, logger="receiptcore.http"):
        served, routed, fast = await _both(api, query, bearer(people["alice"]), monkeypatch)
    assert served == routed
    assert served[0] == 200
    assert fast, "answered before routing"
    lines = [r for r in caplog.records if r.name == "receiptcore.http"]
    assert lines[0].route == lines[1].route == "/api/receipts"  # type: ignore[attr-defined]


async def test_every_page_and_its_link_is_the_routed_one(
    api: Api, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    query, pages = "limit=1&sort=created_at&category=", 0
    while True:
        served, routed, fast = await _both(api, query, bearer(people["alice"]), monkeypatch)
        assert served == routed
        assert fast
        pages += 1
        link = served[1].get(b"link")
        if link is None:
            break
        query = link.decode().split("?", 1)[1].split(">", 1)[0]
    assert pages == 4


@pytest.mark.parametrize("query", HANDED_ON)
async def test_a_listing_the_fast_path_cannot_answer_gets_the_routed_answer(
    api: Api, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    served, routed, fast = await _both(api, query, bearer(people["alice"]), monkeypatch)
    assert served == routed
    assert not fast


CALLERS = [(None, "", 401), ("garbage", "", 401), ("dan", "", 200), ("dan", "owner_id={alice_id}", 200)]


@pytest.mark.parametrize("case", [*CALLERS, ("bob", "owner_id={alice_id}", 403)], ids=str)
async def test_every_caller_gets_the_routed_answer(
    api: Api, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch, case: tuple[str | None, str, int]
) -> None:
    who, query, status = case
    auth: list[tuple[bytes, bytes]] = []
    if who == "garbage":
        auth = [(b"authorization", b"Bearer not.a.token")]
    elif who is not None:
        auth = bearer(people[who])
    served, routed, fast = await _both(api, query.format(alice_id=people["alice_id"]), auth, monkeypatch)
    assert served == routed
    assert served[0] == status
    assert fast == (status == 200)
