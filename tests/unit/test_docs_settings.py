"""docs/operations.md lists every Settings field with its environment variable and default, and nothing else.

Adding, removing or re-defaulting a setting without updating the table fails here, so the doc cannot drift.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from receiptcore.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
ROW = re.compile(r"^\|\s*`(RECEIPTCORE_[A-Z0-9_]+)`\s*\|(?P<default>[^|]*)\|(?P<description>.*)\|\s*$")


def env_var(name: str, field: FieldInfo) -> str:
    """The environment variable pydantic-settings reads for a field."""
    alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
    return (str(Settings.model_config.get("env_prefix", "")) + (alias or name)).upper()


def shown(value: object) -> str:
    """A default as the table writes it."""
    if value is None or (isinstance(value, SecretStr) and not value.get_secret_value()):
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        text = value.as_posix()
        return text if value.is_absolute() or text.startswith(".") else f"./{text}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def table() -> dict[str, tuple[str, str]]:
    """Rows of the settings table: variable -> (default cell, description cell). Duplicates fail."""
    rows: dict[str, tuple[str, str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match is None:
            continue
        name = match.group(1)
        assert name not in rows, f"{name} appears twice in the settings table of {DOC.name}"
        rows[name] = (match.group("default").strip(), match.group("description").strip())
    return rows


FIELDS = {env_var(name, field): field for name, field in Settings.model_fields.items()}


def test_every_setting_has_a_row() -> None:
    missing = sorted(set(FIELDS) - set(table()))
    assert not missing, f"add these settings to the table in docs/operations.md: {missing}"


def test_no_row_names_a_setting_that_does_not_exist() -> None:
    stale = sorted(set(table()) - set(FIELDS))
    assert not stale, f"docs/operations.md documents settings that do not exist: {stale}"


@pytest.mark.parametrize("variable", sorted(FIELDS))
def test_row_shows_the_default_and_a_description(variable: str) -> None:
    row = table().get(variable)
    if row is None:
        pytest.skip("missing row (reported by test_every_setting_has_a_row)")
    default_cell, description = row
    expected = shown(FIELDS[variable].get_default(call_default_factory=True))
    if expected == "unset":
        assert default_cell.startswith("unset"), f"{variable}: default is unset, the doc says {default_cell!r}"
    else:
        assert default_cell.startswith(f"`{expected}`"), (
            f"{variable}: default is {expected!r}, the doc says {default_cell!r}"
        )
    assert len(description) > 10, f"{variable}: describe what the setting does"


def test_the_table_parser_sees_the_table() -> None:
    # Guards the guard: a reformatted table that the regex no longer matches would make the tests above vacuous.
    assert len(table()) >= len(FIELDS) > 10
    assert shown(Path("data")) == "./data"
    assert shown(2.0) == "2"
    assert shown(Decimal("10")) == "10"
