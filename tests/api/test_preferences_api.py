"""The caller's preferences (/auth/me/preferences, issue 12): a default currency per user, initially the
install's, used (and marked assumed, not a reason for review) when a receipt prints none."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from receiptcore.adapters.memory.extractor import MemoryExtractor
from receiptcore.domain.receipt import ExtractedReceipt, Merchant
from receiptcore.entrypoints.http.app import create_app
from tests.api.conftest import Api, jpeg, make_container, make_settings

PATH = "/auth/me/preferences"


@pytest.fixture
async def eur_api(tmp_path: Path, extractor: MemoryExtractor) -> AsyncIterator[Api]:
    settings = make_settings(tmp_path, default_currency="EUR")
    container = make_container(settings, extractor)
    async with AsyncTestClient(app=create_app(container)) as client:
        yield Api(client=client, container=container, settings=settings)


async def _receipt_without_currency(api: Api, extractor: MemoryExtractor, headers: dict[str, str]) -> Any:
    content = jpeg()
    output = ExtractedReceipt(
        merchant=Merchant(name="Corner Books"), purchase_date=dt.date(2026, 3, 1), total=Decimal("12.50")
    )
    extractor.script(output, sha256=hashlib.sha256(content).hexdigest())
    uploaded = await api.upload(headers, ("r.jpg", content))
    assert uploaded.status_code == 202, uploaded.text
    await api.extract_all()
    response = await api.client.get(f"/api/receipts/{uploaded.json()['receipts'][0]['id']}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_new_user_starts_with_the_install_default(eur_api: Api) -> None:
    _, headers = await eur_api.user()
    response = await eur_api.client.get(PATH, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "default_currency": "EUR",
        "default_currency_source": "install",
        "install_default_currency": "EUR",
    }


async def test_a_receipt_without_a_currency_gets_its_owners_choice_marked_assumed_and_not_reviewed(
    eur_api: Api, extractor: MemoryExtractor
) -> None:
    _, mine = await eur_api.user()
    _, theirs = await eur_api.user()
    changed = await eur_api.client.patch(PATH, json={"default_currency": "CHF"}, headers=mine)
    assert changed.status_code == 200, changed.text
    assert changed.json()["default_currency"] == "CHF"
    assert changed.json()["default_currency_source"] == "user"
    assert (await eur_api.client.get(PATH, headers=mine)).json()["default_currency"] == "CHF"

    receipt = await _receipt_without_currency(eur_api, extractor, mine)
    assert receipt["currency"] == "CHF"
    assert receipt["status"] == "extracted"
    assumed = [w for w in receipt["warnings"] if w["code"] == "currency_assumed"]
    assert len(assumed) == 1
    assert "CHF" in assumed[0]["detail"]
    # another user's choice is theirs: they still follow the install's default
    assert (await _receipt_without_currency(eur_api, extractor, theirs))["currency"] == "EUR"


async def test_null_goes_back_to_the_install_default_and_an_empty_patch_changes_nothing(eur_api: Api) -> None:
    _, headers = await eur_api.user()
    await eur_api.client.patch(PATH, json={"default_currency": "JPY"}, headers=headers)
    unchanged = await eur_api.client.patch(PATH, json={}, headers=headers)
    assert unchanged.status_code == 200
    assert unchanged.json()["default_currency"] == "JPY"
    reset = await eur_api.client.patch(PATH, json={"default_currency": None}, headers=headers)
    assert reset.status_code == 200
    assert reset.json()["default_currency"] == "EUR"
    assert reset.json()["default_currency_source"] == "install"


@pytest.mark.parametrize("code", ["usd", "XYZ", "EURO", "€", "", 42])
async def test_a_code_that_is_not_iso_4217_is_a_422_problem_and_nothing_is_stored(eur_api: Api, code: Any) -> None:
    _, headers = await eur_api.user()
    await eur_api.client.patch(PATH, json={"default_currency": "SEK"}, headers=headers)
    response = await eur_api.client.patch(PATH, json={"default_currency": code}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert any("default_currency" in error["field"] for error in problem["errors"]), problem
    assert (await eur_api.client.get(PATH, headers=headers)).json()["default_currency"] == "SEK"


async def test_an_unknown_field_is_a_422_problem(eur_api: Api) -> None:
    _, headers = await eur_api.user()
    response = await eur_api.client.patch(PATH, json={"currency": "USD"}, headers=headers)
    assert response.status_code == 422, response.text


async def test_preferences_need_a_signed_in_caller(eur_api: Api) -> None:
    assert (await eur_api.client.get(PATH)).status_code == 401
    assert (await eur_api.client.patch(PATH, json={"default_currency": "USD"})).status_code == 401


async def test_without_an_install_default_a_user_has_none_until_they_choose(api: Api) -> None:
    _, headers = await api.user()
    assert (await api.client.get(PATH, headers=headers)).json() == {
        "default_currency": None,
        "default_currency_source": None,
        "install_default_currency": None,
    }
    chosen = await api.client.patch(PATH, json={"default_currency": "USD"}, headers=headers)
    assert chosen.json()["default_currency"] == "USD"
