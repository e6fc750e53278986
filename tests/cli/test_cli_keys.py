"""`receiptcore keys rotate | list | prune` on the signing keys directory."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from receiptcore.adapters.security import JwtTokenIssuer
from receiptcore.entrypoints.container import token_config
from receiptcore.settings import Settings
from tests.cli.conftest import Invoke


def test_rotate_adds_a_pending_key_that_list_shows_and_the_old_key_keeps_signing(
    invoke: Invoke, data_dir: Path
) -> None:
    result = invoke("keys", "rotate")
    assert result.exit_code == 0, result.output
    assert "signs from" in result.stdout
    listing = invoke("keys", "list")
    assert listing.exit_code == 0, listing.output
    states = [line.split()[1] for line in listing.stdout.splitlines()]
    assert states == ["signing", "pending"]  # the first key was created by rotate, the new one waits 120 s
    issuer = JwtTokenIssuer.from_config(token_config(Settings(_env_file=None, data_dir=data_dir)))  # type: ignore[call-arg]
    assert len(issuer.jwks()["keys"]) == 2


def test_rotate_now_then_prune_after_the_token_lifetime(invoke: Invoke, data_dir: Path) -> None:
    assert invoke("keys", "rotate", "--activate-in", "0").exit_code == 0
    first = data_dir / "keys" / "signing-key.pem"
    assert invoke("keys", "prune").stdout.strip().endswith("0 key(s) deleted")  # tokens of the old key may live
    # pretend the first key was superseded long ago: it was created (activated) an hour before the rotation
    for path in (data_dir / "keys").glob("*.pem"):
        if path != first:
            path.rename(
                path.with_name(time.strftime("signing-key-%Y%m%dT%H%M%SZ.pem", time.gmtime(time.time() - 3000)))
            )
    os.utime(first, (time.time() - 3600, time.time() - 3600))
    pruned = invoke("keys", "prune")
    assert pruned.exit_code == 0, pruned.output
    assert "1 key(s) deleted" in pruned.stdout
    assert not first.exists()
    assert [line.split()[1] for line in invoke("keys", "list").stdout.splitlines()] == ["signing"]


def test_list_without_keys_says_so(invoke: Invoke) -> None:
    result = invoke("keys", "list")
    assert result.exit_code == 0
    assert "no keys" in result.stdout


def test_a_foreign_file_in_the_keys_dir_is_a_one_line_error(invoke: Invoke, data_dir: Path) -> None:
    (data_dir / "keys").mkdir(parents=True)
    (data_dir / "keys" / "junk.pem").write_text("not a key")
    result = invoke("keys", "list")
    assert result.exit_code == 1
    assert "junk.pem" in result.output
    assert "Traceback" not in result.output


def test_the_memory_profile_has_no_key_files_to_manage(invoke: Invoke, data_dir: Path) -> None:
    result = invoke("--profile", "memory", "keys", "list")
    assert result.exit_code != 0
    assert "RECEIPTCORE_PROFILE=memory" in result.stderr
    assert "Traceback" not in result.output
    assert not data_dir.exists()


def test_the_old_memory_data_dir_is_refused_in_one_line_naming_the_profile(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECEIPTCORE_DATA_DIR", ":memory:")
    result = invoke("keys", "list")
    assert result.exit_code != 0
    assert "RECEIPTCORE_PROFILE=memory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
