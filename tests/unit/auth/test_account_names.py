"""One rule for what an account name is (``receiptcore.domain.users``), the same in the API, the CLI and the
first-start banner: ``admin@localhost``, the address ``serve`` creates, is as valid as ``ann@example.org``."""

from __future__ import annotations

import re

import pytest

from receiptcore.domain.users import ACCOUNT_NAME_PATTERN, normalise_email
from receiptcore.entrypoints.http.schemas import UserCreateRequest
from tests.unit.auth.support import GOOD_PASSWORD, World

VALID = ["admin@localhost", "Root@NAS", "ann@example.org", "a.b+tag@mail.example.co.uk", "x@xn--bcher-kva.example"]
INVALID = ["admin", "@localhost", "admin@", "a@b.", "a@.b", "a@b..c", "two@@example.com", "sp ace@example.com", ""]


@pytest.mark.parametrize("name", VALID)
def test_valid_account_names_are_normalised_to_lower_case(name: str) -> None:
    assert normalise_email(f"  {name} ") == name.lower()


@pytest.mark.parametrize("name", INVALID)
def test_invalid_account_names_say_what_is_expected(name: str) -> None:
    with pytest.raises(ValueError, match="admin@localhost"):
        normalise_email(name)


@pytest.mark.parametrize("name", VALID + INVALID)
def test_the_http_schema_accepts_exactly_what_the_domain_accepts(name: str) -> None:
    try:
        normalise_email(name)
        domain_ok = True
    except ValueError:
        domain_ok = False
    try:
        UserCreateRequest(email=name, password=GOOD_PASSWORD)
        schema_ok = True
    except ValueError:
        schema_ok = False
    assert schema_ok == domain_ok, name
    assert bool(re.match(ACCOUNT_NAME_PATTERN, name.lower())) == domain_ok


async def test_the_first_admin_follows_the_same_rule_and_can_be_found_again(world: World) -> None:
    created = await world.users.ensure_first_admin()
    assert created is not None
    user, _ = created
    assert user.email == normalise_email("admin@localhost")
    found = await world.repo.find_user_by_email(normalise_email("ADMIN@localhost"))
    assert found is not None
    assert found.id == user.id
