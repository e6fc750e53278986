"""Look-alike account names (issue 9, hole 7): a fullwidth ``admin@…``, zero-width and bidi characters created
separate accounts that pass for another. Names are now NFKC-normalised and case-folded, and invisible or
bidirectional control characters are refused with a precise 422 / one-line CLI error."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from litestar.testing import AsyncTestClient

from receiptcore.domain.users import normalise_email
from receiptcore.entrypoints.cli import main
from receiptcore.entrypoints.http.app import create_app
from tests.api.conftest import ADMIN_EMAIL, PASSWORD, Api, make_container, make_settings
from tests.cli.conftest import assert_one_line_error
from tests.factories import make_user
from tests.hostile.conftest import Figures

BOSS = "boss@example.com"
# Each spelling must reach the one account ``boss@example.com``.
SAME_ACCOUNT = {
    "fullwidth": "\uff42\uff4f\uff53\uff53@example.com",
    "fullwidth at sign": "boss\uff20example.com",
    "upper case": "BOSS@EXAMPLE.COM",
    "mathematical bold": "\U0001d41b\U0001d428\U0001d42c\U0001d42c@example.com",
    "circled": "\u24d1\u24de\u24e2\u24e2@example.com",
    "long s": "bo\u017f\u017f@example.com",
}
# Each must be refused, naming the character.
HIDDEN = {
    "zero-width space": ("bo\u200bss@example.com", "U+200B"),
    "zero-width joiner": ("boss\u200d@example.com", "U+200D"),
    "right-to-left override": ("\u202eboss@example.com", "U+202E"),
    "right-to-left isolate": ("boss@exa\u2067mple.com", "U+2067"),
    "left-to-right mark": ("boss\u200e@example.com", "U+200E"),
    "soft hyphen": ("bo\u00adss@example.com", "U+00AD"),
    "byte order mark": ("\ufeffboss@example.com", "U+FEFF"),
    "word joiner": ("boss@example\u2060.com", "U+2060"),
    "hangul filler": ("\u3164boss@example.com", "U+3164"),
}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = make_settings(tmp_path)
    container = make_container(settings)
    async with AsyncTestClient(app=create_app(container)) as client:
        yield Api(client=client, container=container, settings=settings)


async def _signed_in_as(api: Api, typed: str) -> str | None:
    """The email of the account that ``typed`` + the password signs in to, or None."""
    login = await api.client.post("/auth/login", json={"email": typed, "password": PASSWORD})
    if login.status_code != 200:
        return None
    me = await api.client.get("/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    return str(me.json()["email"])


def test_the_domain_folds_lookalikes_and_refuses_hidden_characters(figures: Figures) -> None:
    failed = [name for name, spelling in SAME_ACCOUNT.items() if normalise_email(spelling) != BOSS]
    for name, (spelling, code) in HIDDEN.items():
        try:
            normalise_email(spelling)
            failed.append(name)
        except ValueError as refused:
            if code not in str(refused):
                failed.append(f"{name}: {refused}")
    figures.record("lookalike/domain", tried=len(SAME_ACCOUNT) + len(HIDDEN), failed=len(failed), failures=failed)
    assert failed == []


async def test_the_api_creates_no_second_account_and_names_the_hidden_character(api: Api, figures: Figures) -> None:
    admin = await api.admin()
    created = await api.client.post("/users", json={"email": BOSS, "password": PASSWORD}, headers=admin)
    assert created.status_code == 201, created.text
    outcomes: dict[str, int] = {}
    failed: list[str] = []
    for name, spelling in SAME_ACCOUNT.items():
        answer = await api.client.post("/users", json={"email": spelling, "password": PASSWORD}, headers=admin)
        outcomes[name] = answer.status_code
        if answer.status_code not in {409, 422}:  # a fullwidth at sign breaks the schema pattern first: 422
            failed.append(f"{name}: {answer.status_code}")
        if await _signed_in_as(api, spelling) != BOSS:
            failed.append(f"{name}: did not sign in as {BOSS}")
    for name, (spelling, code) in HIDDEN.items():
        answer = await api.client.post("/users", json={"email": spelling, "password": PASSWORD}, headers=admin)
        outcomes[name] = answer.status_code
        body = answer.json()
        if answer.status_code != 422 or code not in str(body.get("errors", body)):
            failed.append(f"{name}: {answer.status_code} {body}")
    listed = await api.client.get("/users", headers=admin)
    emails = sorted(user["email"] for user in listed.json()["items"])
    figures.record(
        "lookalike/api",
        tried=2 * len(SAME_ACCOUNT) + len(HIDDEN),
        failed=len(failed),
        failures=failed,
        statuses=outcomes,
    )
    assert failed == []
    assert emails == sorted([ADMIN_EMAIL, BOSS])


async def test_an_account_stored_before_folding_still_signs_in(api: Api) -> None:
    """Rows are not rewritten: a name stored unfolded (``straße``) is found by its old form after the folded one."""
    hasher = api.container.hasher()
    legacy = make_user("straße@example.de").model_copy(update={"password_hash": await hasher.hash(PASSWORD)})
    await api.container.user_repo().add_user(legacy)
    for typed in ("straße@example.de", "Straße@Example.de"):
        assert await _signed_in_as(api, typed) == legacy.email, typed


@pytest.mark.parametrize("name", ["zero-width space", "right-to-left override"])
def test_the_cli_refuses_a_hidden_character_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    for key in [key for key in os.environ if key.startswith("RECEIPTCORE_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECEIPTCORE_DATA_DIR", str(tmp_path / "data"))
    spelling, code = HIDDEN[name]
    result = CliRunner().invoke(main, ["users", "create-admin", spelling, "--password-stdin"], input=PASSWORD + "\n")
    assert_one_line_error(result, contains=code)
