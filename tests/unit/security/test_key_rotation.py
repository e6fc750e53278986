"""Key rotation with overlap: a rotated key is published before it signs, running issuers pick it up without a
restart, old tokens keep verifying until they expire, and prune deletes only keys no valid token needs."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import jwt
import pytest

from receiptcore.adapters.security import tokens as tokens_module
from receiptcore.adapters.security.keys import describe_keys, load_key_ring, prune_keys, rotate_key
from receiptcore.adapters.security.tokens import JwtTokenIssuer
from receiptcore.entrypoints.container import token_config
from receiptcore.settings import Settings
from tests.factories import make_user


@pytest.fixture(autouse=True)
def reload_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # the once-a-second directory check would make these tests sleep
    monkeypatch.setattr(tokens_module, "RELOAD_CHECK_SECONDS", 0.0)


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def test_a_pending_key_is_published_at_once_but_signs_only_from_its_activation(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    issuer = JwtTokenIssuer.from_config(token_config(settings))
    old_kid = issuer.key_id
    now = dt.datetime.now(dt.UTC)
    rotate_key(settings.keys_dir, now + dt.timedelta(hours=1))
    published = {key["kid"] for key in issuer.jwks()["keys"]}  # the running issuer, no restart
    assert len(published) == 2
    assert old_kid in published
    token, _ = issuer.issue(make_user(), now)
    assert kid_of(token) == old_kid  # not active yet


def test_an_activated_key_signs_and_tokens_of_the_old_key_still_verify(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    issuer = JwtTokenIssuer.from_config(token_config(settings))
    now = dt.datetime.now(dt.UTC)
    old_token, _ = issuer.issue(make_user(), now)
    first = settings.keys_dir / "signing-key.pem"
    os.utime(first, (time.time() - 100, time.time() - 100))  # created a while ago
    rotate_key(settings.keys_dir, now - dt.timedelta(seconds=1))  # activation already reached
    new_token, _ = issuer.issue(make_user(), now)
    assert kid_of(new_token) != kid_of(old_token)
    assert issuer.verify(old_token, now).subject
    assert issuer.verify(new_token, now).subject
    # a second instance sharing the directory signs with the same new key
    other = JwtTokenIssuer.from_config(token_config(settings))
    assert kid_of(other.issue(make_user(), now)[0]) == kid_of(new_token)
    assert other.verify(old_token, now).subject


def test_a_pending_key_starts_signing_when_its_time_comes_without_a_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    issuer = JwtTokenIssuer.from_config(token_config(settings))
    old_kid = issuer.key_id
    start = time.time()
    rotate_key(settings.keys_dir, dt.datetime.fromtimestamp(int(start) + 60, dt.UTC))
    assert issuer.key_id == old_kid
    monkeypatch.setattr(tokens_module.time, "time", lambda: start + 61)
    assert issuer.key_id != old_kid


def test_prune_deletes_only_keys_superseded_longer_than_a_token_lives(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    load_key_ring(keys_dir)  # signing-key.pem, activated now (its modification time)
    now = time.time()
    recent = rotate_key(keys_dir, dt.datetime.fromtimestamp(int(now) + 10, dt.UTC))
    assert prune_keys(keys_dir, token_lifetime_seconds=300, now=now + 200) == []  # old tokens may still be valid
    removed = prune_keys(keys_dir, token_lifetime_seconds=300, now=now + 400)
    assert [info.path.name for info in removed] == ["signing-key.pem"]
    assert [info.path for info in describe_keys(keys_dir)] == [recent]
    # the last key is never pruned: nothing supersedes it
    assert prune_keys(keys_dir, token_lifetime_seconds=300, now=now + 10**6) == []


def test_a_rotated_key_always_activates_after_the_existing_ones(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    load_key_ring(keys_dir)
    existing = describe_keys(keys_dir)[0].activation
    path = rotate_key(keys_dir, dt.datetime.fromtimestamp(existing - 3600, dt.UTC))
    added = next(info for info in describe_keys(keys_dir) if info.path == path)
    assert added.activation > existing


def test_key_states_follow_the_activation_times(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    load_key_ring(keys_dir)
    now = time.time()
    rotate_key(keys_dir, dt.datetime.fromtimestamp(int(now) + 100, dt.UTC))
    states = [info.state(now) for info in describe_keys(keys_dir)]
    assert states == ["signing", "pending"]
    assert [info.state(now + 200) for info in describe_keys(keys_dir)] == ["verifying", "signing"]
