"""Uploads over HTTP: accepted types, duplicates, idempotency, and every refusal leaving nothing stored."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import (
    MAX_FILES,
    MAX_UPLOAD,
    Api,
    image_bytes,
    jpeg,
    make_settings,
    png_bomb,
)
from tests.api.streaming import streaming_api


async def _nothing_stored(api: Api, headers: dict[str, str]) -> None:
    listed = await api.client.get("/api/receipts", headers=headers)
    assert listed.status_code == 200
    assert listed.json()["items"] == []
    files_dir = api.settings.files_dir
    stored = [p for p in files_dir.rglob("*") if p.is_file()] if files_dir.exists() else []
    assert stored == []


@pytest.mark.parametrize(
    ("fmt", "name", "media_type"),
    [
        ("JPEG", "a.jpg", "image/jpeg"),
        ("PNG", "b.png", "image/png"),
        ("WEBP", "c.webp", "image/webp"),
        ("PDF", "d.pdf", "application/pdf"),
    ],
)
async def test_each_accepted_type_is_stored_pending_with_a_location(
    api: Api, fmt: str, name: str, media_type: str
) -> None:
    _, headers = await api.user()
    response = await api.upload(headers, (name, image_bytes(fmt)))
    assert response.status_code == 202, response.text
    (item,) = response.json()["receipts"]
    assert item["status"] == "pending"
    assert item["duplicate"] is False
    assert item["source"]["media_type"] == media_type
    assert item["location"] == f"/api/receipts/{item['id']}"
    assert response.headers["location"] == item["location"]
    got = await api.client.get(item["location"], headers=headers)
    assert got.status_code == 200
    assert got.json()["id"] == item["id"]


async def test_several_files_in_one_request(api: Api) -> None:
    _, headers = await api.user()
    response = await api.upload(headers, ("1.jpg", jpeg()), ("2.png", image_bytes("PNG")))
    assert response.status_code == 202
    items = response.json()["receipts"]
    assert len(items) == 2
    assert response.headers["location"] == items[0]["location"]
    assert len({i["id"] for i in items}) == 2


async def test_the_same_file_again_is_200_with_the_same_receipt(api: Api) -> None:
    _, headers = await api.user()
    content = jpeg()
    first = await api.upload(headers, ("a.jpg", content))
    again = await api.upload(headers, ("renamed.jpg", content))
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["receipts"][0]["id"] == first.json()["receipts"][0]["id"]
    assert again.json()["receipts"][0]["duplicate"] is True
    listed = await api.client.get("/api/receipts", headers=headers)
    assert len(listed.json()["items"]) == 1


async def test_the_same_file_from_another_user_is_a_new_receipt(api: Api) -> None:
    _, alice = await api.user()
    _, bob = await api.user()
    content = jpeg()
    a = await api.upload(alice, ("a.jpg", content))
    b = await api.upload(bob, ("a.jpg", content))
    assert b.status_code == 202
    assert a.json()["receipts"][0]["id"] != b.json()["receipts"][0]["id"]


async def test_idempotency_key_replays_and_refuses_other_files(api: Api) -> None:
    _, headers = await api.user()
    content = jpeg()
    key = {"Idempotency-Key": "upload-7f3a"}
    first = await api.upload(headers | key, ("a.jpg", content))
    replay = await api.upload(headers | key, ("a.jpg", content))
    assert replay.json()["receipts"][0]["id"] == first.json()["receipts"][0]["id"]
    other = await api.upload(headers | key, ("b.jpg", jpeg()))
    assert other.status_code == 409
    too_long = await api.upload(headers | {"Idempotency-Key": "k" * 500}, ("c.jpg", jpeg()))
    assert too_long.status_code == 422


async def test_text_renamed_to_jpg_is_415_and_nothing_is_stored(api: Api) -> None:
    _, headers = await api.user()
    response = await api.client.post(
        "/api/receipts",
        files=[("file", ("receipt.jpg", b"just some text, not an image\n" * 10, "image/jpeg"))],
        headers=headers,
    )
    assert response.status_code == 415
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/unsupported-media-type")
    await _nothing_stored(api, headers)


async def test_truncated_jpeg_is_422_and_nothing_is_stored(api: Api) -> None:
    _, headers = await api.user()
    content = image_bytes("JPEG", (300, 200))
    response = await api.upload(headers, ("cut.jpg", content[: len(content) // 2]))
    assert response.status_code == 422
    assert response.json()["type"].endswith("/invalid-upload")
    await _nothing_stored(api, headers)


async def test_pixel_bomb_is_413_and_nothing_is_stored(api: Api) -> None:
    _, headers = await api.user()
    response = await api.upload(headers, ("bomb.png", png_bomb()))
    assert response.status_code == 413
    assert response.json()["type"].endswith("/upload-too-large")
    await _nothing_stored(api, headers)


async def test_one_bad_file_among_good_ones_stores_none_of_them(api: Api) -> None:
    _, headers = await api.user()
    response = await api.upload(headers, ("good.jpg", jpeg()), ("bad.jpg", b"%PDF-1.4 garbage that is no pdf"))
    assert 400 <= response.status_code < 500
    await _nothing_stored(api, headers)


async def test_a_part_over_the_file_cap_is_413(api: Api) -> None:
    _, headers = await api.user()
    big = b"\xff\xd8\xff\xe0" + os.urandom(MAX_UPLOAD + 10)
    response = await api.upload(headers, ("big.jpg", big))
    assert response.status_code == 413
    await _nothing_stored(api, headers)


async def test_a_body_over_the_request_cap_is_413_before_parsing(api: Api) -> None:
    _, headers = await api.user()
    huge = os.urandom(MAX_UPLOAD * MAX_FILES + 2 * 1024 * 1024)
    response = await api.upload(headers, ("huge.jpg", huge))
    assert response.status_code == 413
    assert response.json()["type"].endswith("/request-too-large")
    await _nothing_stored(api, headers)


async def test_too_many_files_is_413(api: Api) -> None:
    _, headers = await api.user()
    response = await api.upload(headers, *[(f"{i}.jpg", jpeg()) for i in range(MAX_FILES + 1)])
    assert response.status_code == 413
    await _nothing_stored(api, headers)


async def test_hundreds_of_parts_are_413(api: Api) -> None:
    _, headers = await api.user()
    parts = [("file", (f"{i}.jpg", b"x", "image/jpeg")) for i in range(200)]
    response = await api.client.post("/api/receipts", files=parts, headers=headers)
    assert response.status_code == 413
    await _nothing_stored(api, headers)


async def test_no_file_part_is_422(api: Api) -> None:
    _, headers = await api.user()
    wrong_name = await api.client.post("/api/receipts", files=[("document", ("a.jpg", jpeg()))], headers=headers)
    assert wrong_name.status_code == 422
    assert wrong_name.json()["errors"]
    not_a_file = await api.client.post(
        "/api/receipts", data={"file": "hello"}, files=[("x", ("a", b"1"))], headers=headers
    )
    assert not_a_file.status_code == 422
    await _nothing_stored(api, headers)


async def test_empty_file_is_422(api: Api) -> None:
    _, headers = await api.user()
    response = await api.upload(headers, ("empty.jpg", b""))
    assert response.status_code == 422
    await _nothing_stored(api, headers)


async def test_a_body_that_is_not_multipart_is_415(api: Api) -> None:
    _, headers = await api.user()
    as_json = await api.client.post("/api/receipts", json={"file": "aGVsbG8="}, headers=headers)
    assert as_json.status_code == 415
    raw = await api.client.post("/api/receipts", content=jpeg(), headers=headers | {"Content-Type": "image/jpeg"})
    assert raw.status_code == 415
    await _nothing_stored(api, headers)


async def test_broken_multipart_is_a_4xx_problem(api: Api) -> None:
    _, headers = await api.user()
    response = await api.client.post(
        "/api/receipts",
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\nabc',
        headers=headers | {"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")
    no_boundary = await api.client.post(
        "/api/receipts", content=b"abc", headers=headers | {"Content-Type": "multipart/form-data"}
    )
    assert 400 <= no_boundary.status_code < 500
    await _nothing_stored(api, headers)


async def test_uploading_needs_a_token_and_receipts_write(api: Api) -> None:
    assert (await api.upload({}, ("a.jpg", jpeg()))).status_code == 401
    _, auditor = await api.user(roles=["auditor"])
    response = await api.upload(auditor, ("a.jpg", jpeg()))
    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")


# ---- concurrency and quota (issue 9, hole 1) ---------------------------------------------------------------------


async def _held_upload(
    streaming: httpx.AsyncClient, headers: dict[str, str], release: asyncio.Event, started: asyncio.Event
) -> httpx.Response:
    """An upload whose body stops after its first part header until ``release`` is set."""
    boundary = "held"
    content = image_bytes("PNG", (20 + len(headers["Authorization"]) % 50, 20))

    async def body() -> AsyncIterator[bytes]:
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'.encode()
        started.set()
        await release.wait()
        yield content + f"\r\n--{boundary}--\r\n".encode()

    return await streaming.post(
        "/api/receipts",
        content=body(),
        headers=headers | {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


async def test_uploads_past_the_per_user_and_per_process_bounds_are_429_with_retry_after(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_concurrent_uploads_per_user=1, max_concurrent_uploads=2)
    async with streaming_api(settings) as api:
        (_, alice), (_, bob), (_, carol) = [await api.user() for _ in range(3)]
        release = asyncio.Event()
        held = []
        for headers in (alice, bob):
            started = asyncio.Event()
            held.append(asyncio.create_task(_held_upload(api.client, headers, release, started)))
            await asyncio.wait_for(started.wait(), 5)
        second_of_alice = await api.upload(alice, ("b.png", image_bytes("PNG", (31, 17))))
        assert second_of_alice.status_code == 429
        assert int(second_of_alice.headers["Retry-After"]) >= 1
        assert "you already have 1" in second_of_alice.json()["detail"]
        third_upload = await api.upload(carol, ("c.png", image_bytes("PNG", (32, 17))))
        assert third_upload.status_code == 429
        assert "this server already has 2" in third_upload.json()["detail"]
        release.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [202, 202]
        # slots are given back, also after a refused upload
        again = await api.upload(alice, ("b.png", image_bytes("PNG", (31, 17))))
        assert again.status_code == 202
        refused = await api.upload(carol, ("bad.jpg", b"not an image"))
        assert 400 <= refused.status_code < 500
        assert api.container.receipt_service()._slots.in_progress == 0


async def test_an_upload_past_the_storage_quota_is_413_and_stores_nothing(tmp_path: Path) -> None:
    first, second = image_bytes("PNG", (50, 40)), image_bytes("PNG", (51, 40))
    quota = len(first) + len(second) // 2
    async with streaming_api(make_settings(tmp_path, storage_quota_bytes=quota)) as api:
        _, headers = await api.user()
        assert (await api.upload(headers, ("a.png", first))).status_code == 202
        over = await api.upload(headers, ("b.png", second))
        assert over.status_code == 413
        assert over.json()["type"].endswith("/quota-exceeded")
        listed = (await api.client.get("/api/receipts", headers=headers)).json()["items"]
        assert len(listed) == 1
        # the same file again is a duplicate, not a quota breach
        assert (await api.upload(headers, ("a.png", first))).status_code == 200
