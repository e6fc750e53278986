"""JwtTokenIssuer: claims, pinned algorithm, issuer/audience/expiry checks, kid, JWKS, keys on disk."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import stat
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from receiptcore.adapters.security import JwtTokenIssuer, generate_key_file
from receiptcore.adapters.security.keys import thumbprint
from receiptcore.domain.users import ADMIN, MEMBER, User
from receiptcore.entrypoints.container import token_config
from receiptcore.errors import ConfigurationError, TokenRejected
from receiptcore.settings import Settings
from tests import factories

NOW = dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.UTC)


def make_user(**overrides: object) -> User:
    """A member and admin at token version 3: the claims these tests check."""
    fields: dict[str, object] = {"roles": [MEMBER, ADMIN], "token_version": 3, "created_at": NOW, "updated_at": NOW}
    return factories.make_user(**(fields | overrides))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, object], payload: dict[str, object], signature: bytes = b"") -> str:
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)])


@pytest.fixture
def issuer() -> JwtTokenIssuer:
    return JwtTokenIssuer.generate(issuer="rc-test", audience="rc-aud", ttl_seconds=300)


def test_issued_token_verifies_to_its_claims(issuer: JwtTokenIssuer) -> None:
    user = make_user()
    token, expires_in = issuer.issue(user, NOW)
    assert expires_in == 300
    claims = issuer.verify(token, NOW + dt.timedelta(seconds=10))
    assert claims.subject == user.id
    assert claims.roles == (MEMBER, ADMIN)
    assert claims.token_version == 3
    assert claims.expires_at == NOW + dt.timedelta(seconds=300)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    assert header["kid"] == issuer.key_id
    payload = jwt.decode(token, options={"verify_signature": False})
    assert {"iss", "aud", "sub", "exp", "iat", "nbf", "jti", "roles", "tv"} <= payload.keys()
    assert payload["iss"] == "rc-test"
    assert payload["aud"] == "rc-aud"


def test_each_token_has_a_unique_jti(issuer: JwtTokenIssuer) -> None:
    user = make_user()
    ids = {issuer.verify(issuer.issue(user, NOW)[0], NOW).token_id for _ in range(20)}
    assert len(ids) == 20


def test_expired_token_is_rejected(issuer: JwtTokenIssuer) -> None:
    token, _ = issuer.issue(make_user(), NOW)
    issuer.verify(token, NOW + dt.timedelta(seconds=299))
    with pytest.raises(TokenRejected, match="expired"):
        issuer.verify(token, NOW + dt.timedelta(seconds=306))


def test_token_from_the_future_is_rejected(issuer: JwtTokenIssuer) -> None:
    token, _ = issuer.issue(make_user(), NOW + dt.timedelta(minutes=2))
    with pytest.raises(TokenRejected):
        issuer.verify(token, NOW)


def test_tampered_payload_or_signature_is_rejected(issuer: JwtTokenIssuer) -> None:
    token, _ = issuer.issue(make_user(), NOW)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin", "superuser"]
    with pytest.raises(TokenRejected, match="signature"):
        issuer.verify(f"{header}.{b64(json.dumps(claims).encode())}.{signature}", NOW)
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(TokenRejected):
        issuer.verify(f"{header}.{payload}.{flipped}", NOW)


def test_alg_none_token_is_rejected(issuer: JwtTokenIssuer) -> None:
    payload = jwt.decode(issuer.issue(make_user(), NOW)[0], options={"verify_signature": False})
    with pytest.raises(TokenRejected, match="algorithm"):
        issuer.verify(forge({"alg": "none", "typ": "JWT", "kid": issuer.key_id}, payload), NOW)


def test_hs256_token_signed_with_the_public_key_is_rejected(issuer: JwtTokenIssuer) -> None:
    # The classic algorithm-confusion attack: HMAC keyed with the published public key.
    payload = jwt.decode(issuer.issue(make_user(), NOW)[0], options={"verify_signature": False})
    public_x = issuer.jwks()["keys"][0]["x"].encode()
    header = {"alg": "HS256", "typ": "JWT", "kid": issuer.key_id}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    mac = hmac.new(public_x, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(TokenRejected, match="algorithm"):
        issuer.verify(f"{signing_input}.{b64(mac)}", NOW)


def test_wrong_audience_or_issuer_is_rejected(issuer: JwtTokenIssuer) -> None:
    key = Ed25519PrivateKey.generate()
    other_aud = JwtTokenIssuer(key, issuer="rc-test", audience="someone-else")
    other_iss = JwtTokenIssuer(key, issuer="evil", audience="rc-aud")
    verifier = JwtTokenIssuer(key, issuer="rc-test", audience="rc-aud")
    with pytest.raises(TokenRejected, match="audience"):
        verifier.verify(other_aud.issue(make_user(), NOW)[0], NOW)
    with pytest.raises(TokenRejected, match="issuer"):
        verifier.verify(other_iss.issue(make_user(), NOW)[0], NOW)


def test_unknown_kid_is_rejected(issuer: JwtTokenIssuer) -> None:
    stranger = JwtTokenIssuer.generate(issuer="rc-test", audience="rc-aud")
    with pytest.raises(TokenRejected, match="unknown key"):
        issuer.verify(stranger.issue(make_user(), NOW)[0], NOW)


def test_token_signed_by_another_key_under_our_kid_is_rejected(issuer: JwtTokenIssuer) -> None:
    stranger_key = Ed25519PrivateKey.generate()
    payload = jwt.decode(issuer.issue(make_user(), NOW)[0], options={"verify_signature": False})
    token = jwt.encode(payload, stranger_key, algorithm="EdDSA", headers={"kid": issuer.key_id})
    with pytest.raises(TokenRejected, match="signature"):
        issuer.verify(token, NOW)


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "jti", "iss", "aud"])
def test_token_missing_a_required_claim_is_rejected(missing: str) -> None:
    key = Ed25519PrivateKey.generate()
    issuer = JwtTokenIssuer(key, issuer="rc-test", audience="rc-aud")
    payload = jwt.decode(issuer.issue(make_user(), NOW)[0], options={"verify_signature": False})
    del payload[missing]
    token = jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": issuer.key_id})
    with pytest.raises(TokenRejected):
        issuer.verify(token, NOW)


@given(garbage=st.text(max_size=300))
def test_garbage_is_rejected_with_token_rejected_only(garbage: str) -> None:
    issuer = JwtTokenIssuer.generate()
    with pytest.raises(TokenRejected):
        issuer.verify(garbage, NOW)


def test_jwks_publishes_okp_keys_that_verify_tokens(issuer: JwtTokenIssuer) -> None:
    token, _ = issuer.issue(make_user(), NOW)
    (jwk,) = issuer.jwks()["keys"]
    assert jwk["kty"] == "OKP"
    assert jwk["crv"] == "Ed25519"
    assert jwk["alg"] == "EdDSA"
    assert jwk["use"] == "sig"
    assert jwk["kid"] == issuer.key_id
    assert "d" not in jwk
    public = jwt.PyJWK(jwk).key
    assert isinstance(public, Ed25519PublicKey)
    decoded = jwt.decode(token, public, algorithms=["EdDSA"], audience="rc-aud", options={"verify_exp": False})
    assert decoded["tv"] == 3


def test_rfc8037_thumbprint_vector() -> None:
    # RFC 8037 appendix A.3: the thumbprint of the example Ed25519 key.
    x = base64.urlsafe_b64decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
    key = Ed25519PublicKey.from_public_bytes(x)
    assert thumbprint(key) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_from_settings_creates_a_private_key_file_once_and_reuses_it(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", jwt_issuer="iss-x", jwt_audience="aud-x", access_token_ttl_seconds=60
    )
    first = JwtTokenIssuer.from_config(token_config(settings))
    key_file = settings.keys_dir / "signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token, expires_in = first.issue(make_user(), NOW)
    assert expires_in == 60
    # A restart loads the same key, so tokens issued before it still verify.
    second = JwtTokenIssuer.from_config(token_config(settings))
    assert second.key_id == first.key_id
    assert second.verify(token, NOW).subject
    assert [p.name for p in settings.keys_dir.iterdir()] == ["signing-key.pem"]


def test_rotation_signs_with_the_newest_key_and_still_verifies_old_tokens(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    old = JwtTokenIssuer.from_config(token_config(settings))
    old_token, _ = old.issue(make_user(), NOW)
    new_file = generate_key_file(settings.keys_dir, "signing-key-2.pem")
    # activated (modification time) after the first key, and already in the past: it signs
    os.utime(settings.keys_dir / "signing-key.pem", (time.time() - 100, time.time() - 100))
    os.utime(new_file, (time.time() - 1, time.time() - 1))
    rotated = JwtTokenIssuer.from_config(token_config(settings))
    assert rotated.key_id != old.key_id
    assert rotated.verify(old_token, NOW).subject
    new_token, _ = rotated.issue(make_user(), NOW)
    assert jwt.get_unverified_header(new_token)["kid"] == rotated.key_id
    assert {k["kid"] for k in rotated.jwks()["keys"]} == {old.key_id, rotated.key_id}
    with pytest.raises(FileExistsError):
        generate_key_file(settings.keys_dir, "signing-key-2.pem")


def test_retired_public_key_file_only_verifies(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    retired = Ed25519PrivateKey.generate()
    keys_dir.mkdir()
    (keys_dir / "retired.pem").write_bytes(
        retired.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    issuer = JwtTokenIssuer.from_config(token_config(Settings(data_dir=tmp_path)))
    old_token, _ = JwtTokenIssuer(retired).issue(make_user(), NOW)
    assert issuer.verify(old_token, NOW).subject
    assert jwt.get_unverified_header(issuer.issue(make_user(), NOW)[0])["kid"] != JwtTokenIssuer(retired).key_id


def test_a_non_key_file_in_the_keys_dir_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "junk.pem").write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigurationError):
        JwtTokenIssuer.from_config(token_config(Settings(data_dir=tmp_path)))


def test_memory_profile_keeps_no_key_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    issuer = JwtTokenIssuer.from_config(token_config(Settings(profile="memory")))
    assert issuer.verify(issuer.issue(make_user(), NOW)[0], NOW).subject
    assert list(tmp_path.iterdir()) == []
