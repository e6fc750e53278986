"""JwtTokenIssuer: short-lived EdDSA (Ed25519) access tokens with pyjwt, and the JWKS that verifies them.

An issuer built from a keys directory notices keys added by ``receiptcore keys rotate`` (or removed by ``keys
prune``) while it runs: it looks at the directory at most once a second, when it signs, publishes or meets an
unknown key id, so every instance sharing the directory publishes a new key at once and signs with it from its
activation time, without a restart.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from receiptcore.adapters.security.keys import KeyRing, key_dir_fingerprint, load_key_ring, public_jwk, thumbprint
from receiptcore.domain.ids import new_id
from receiptcore.domain.users import User
from receiptcore.errors import ConfigurationError, TokenRejected, UnknownSigningKey
from receiptcore.ports import AccessClaims, TokenIssuer

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "iss", "aud"]
# How often a running issuer looks at its keys directory for rotated or pruned keys.
RELOAD_CHECK_SECONDS = 1.0

logger = logging.getLogger(__name__)

# Why these details are generic: a verifier must not teach a forger which check failed beyond what a
# legitimate client needs to know (re-login vs. fix the configuration).
_REASONS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.InvalidAudienceError, "token is for another audience"),
    (jwt.InvalidIssuerError, "token is from another issuer"),
    (jwt.MissingRequiredClaimError, "token lacks a required claim"),
    (jwt.InvalidSignatureError, "token signature is invalid"),
    (jwt.InvalidAlgorithmError, "token algorithm is not allowed"),
)


@dataclass(frozen=True, slots=True)
class TokenConfig:
    """The token issuer's own configuration (built by the composition root).

    Attributes:
        issuer: the ``iss`` claim. audience: the ``aud`` claim. ttl_seconds: access token lifetime.
        keys_dir: the signing keys directory shared by every auth instance; None in the memory profile, where
            a key is generated in memory (its tokens die with the process anyway).
    """

    issuer: str
    audience: str
    ttl_seconds: int
    keys_dir: Path | None


class JwtTokenIssuer(TokenIssuer):
    """The TokenIssuer port: signs with one Ed25519 key, verifies with any known key (rotation).

    Args:
        signing_key: the private key that signs new tokens.
        issuer: the ``iss`` claim written and required.
        audience: the ``aud`` claim written and required.
        ttl_seconds: access token lifetime.
        verify_keys: extra public keys that still verify (older, rotated-out keys).
        leeway_seconds: clock skew tolerated on ``exp``, ``nbf`` and ``iat`` between instances.
        keys_dir: the directory the keys came from; when given, keys added or removed there are picked up.
        ring: the key ring loaded from ``keys_dir`` (its activation times decide which key signs when).
    """

    def __init__(
        self,
        signing_key: Ed25519PrivateKey,
        *,
        issuer: str = "receiptcore",
        audience: str = "receiptcore",
        ttl_seconds: int = 300,
        verify_keys: Sequence[Ed25519PublicKey] = (),
        leeway_seconds: int = 5,
        keys_dir: Path | None = None,
        ring: KeyRing | None = None,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl_seconds
        self._leeway = dt.timedelta(seconds=leeway_seconds)
        self._keys_dir = keys_dir
        self._fingerprint = key_dir_fingerprint(keys_dir) if keys_dir is not None else ()
        self._next_check = time.monotonic() + RELOAD_CHECK_SECONDS
        self._next_activation = ring.next_change_after(time.time()) if ring is not None else None
        self._signing_key = signing_key
        self._kid = thumbprint(signing_key.public_key())
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._set_keys(signing_key, verify_keys)

    def _set_keys(self, signing_key: Ed25519PrivateKey, verify_keys: Sequence[Ed25519PublicKey]) -> None:
        keys = {thumbprint(signing_key.public_key()): signing_key.public_key()}
        for key in verify_keys:
            keys.setdefault(thumbprint(key), key)
        self._signing_key = signing_key
        self._kid = thumbprint(signing_key.public_key())
        self._keys = keys

    @classmethod
    def generate(cls, **kwargs: Any) -> JwtTokenIssuer:
        """An issuer with a fresh in-memory key (tests, throwaway instances); kwargs as for the constructor."""
        return cls(Ed25519PrivateKey.generate(), **kwargs)

    @classmethod
    def from_config(cls, config: TokenConfig) -> JwtTokenIssuer:
        """An issuer whose keys live in ``config.keys_dir`` (created with a new key, mode 0600, on first use, so
        tokens survive restarts), or with a key generated in memory when it is None. Raises ConfigurationError."""
        if config.keys_dir is None:
            return cls.generate(issuer=config.issuer, audience=config.audience, ttl_seconds=config.ttl_seconds)
        ring = load_key_ring(config.keys_dir)
        return cls(
            ring.signing_key,
            issuer=config.issuer,
            audience=config.audience,
            ttl_seconds=config.ttl_seconds,
            verify_keys=ring.verify_keys,
            keys_dir=config.keys_dir,
            ring=ring,
        )

    @property
    def key_id(self) -> str:
        """The ``kid`` of the current signing key."""
        self._maybe_reload()
        return self._kid

    async def refresh_keys(self) -> bool:
        """Look at the keys directory now (at most once a second); True if the key set changed."""
        return self._maybe_reload()

    def _maybe_reload(self) -> bool:
        """Reload the keys directory if it changed or a pending key's activation came; True if keys changed."""
        if self._keys_dir is None:
            return False
        mono = time.monotonic()
        if mono < self._next_check:
            return False
        self._next_check = mono + RELOAD_CHECK_SECONDS
        fingerprint = key_dir_fingerprint(self._keys_dir)
        wall = time.time()
        due = self._next_activation is not None and wall >= self._next_activation
        if fingerprint == self._fingerprint and not due:
            return False
        try:
            ring = load_key_ring(self._keys_dir, create=False)
        except ConfigurationError as exc:
            # a half-copied or foreign file must not take signing down: keep the keys we have
            logger.warning("token keys not reloaded: %s", exc.detail)
            self._fingerprint = fingerprint
            return False
        before = set(self._keys)
        self._fingerprint = fingerprint
        self._next_activation = ring.next_change_after(wall)
        self._set_keys(ring.signing_key_at(wall), ring.verify_keys)
        return set(self._keys) != before

    def issue(self, user: User, now: dt.datetime, session_id: str | None = None) -> tuple[str, int]:
        """Return ``(token, expires_in_seconds)`` for ``user``; ``session_id`` becomes the ``sid`` claim."""
        self._maybe_reload()
        issued_at = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": user.id,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + self._ttl,
            "jti": new_id(),
            "roles": list(user.roles),
            "tv": user.token_version,
        }
        if session_id is not None:
            claims["sid"] = session_id
        token = jwt.encode(claims, self._signing_key, algorithm=ALGORITHM, headers={"kid": self._kid})
        return token, self._ttl

    def verify(self, token: str, now: dt.datetime) -> AccessClaims:
        """Verify algorithm (EdDSA only), key id, signature, issuer, audience and the time window at ``now``.

        Raises:
            UnknownSigningKey: the key id is not one of ours (``refresh_keys`` may learn a rotated one).
            TokenRejected: with a short, safe reason.
        """
        return verify_access_token(
            token, self._keys, issuer=self._issuer, audience=self._audience, leeway=self._leeway, now=now
        )

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set of every verifying public key, current key first."""
        self._maybe_reload()
        return {"keys": [public_jwk(key) for key in self._keys.values()]}


def verify_access_token(
    token: str,
    keys: Mapping[str, Ed25519PublicKey],
    *,
    issuer: str,
    audience: str,
    leeway: dt.timedelta,
    now: dt.datetime,
) -> AccessClaims:
    """Verify an access token against ``keys`` (by ``kid``): EdDSA only, signature, issuer, audience, time window.

    Raises:
        UnknownSigningKey: the token's ``kid`` is not in ``keys``.
        TokenRejected: with a short, safe reason.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise TokenRejected("token is malformed") from exc
    if header.get("alg") != ALGORITHM:
        raise TokenRejected("token algorithm is not allowed")
    key = keys.get(str(header.get("kid", "")))
    if key is None:
        raise UnknownSigningKey("token was signed by an unknown key")
    try:
        # Time claims are checked below against the injected clock, not pyjwt's wall clock.
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={
                "require": REQUIRED_CLAIMS,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidTokenError as exc:
        raise TokenRejected(_reason(exc)) from exc
    return _claims(payload, now, leeway)


def _claims(payload: dict[str, Any], now: dt.datetime, leeway: dt.timedelta) -> AccessClaims:
    exp, iat, nbf = payload.get("exp"), payload.get("iat"), payload.get("nbf", payload.get("iat"))
    sub, jti, roles, tv = payload.get("sub"), payload.get("jti"), payload.get("roles", []), payload.get("tv", 1)
    if not (isinstance(exp, int | float) and isinstance(iat, int | float) and isinstance(nbf, int | float)):
        raise TokenRejected("token time claims are malformed")
    if not (isinstance(sub, str) and sub and isinstance(jti, str) and jti):
        raise TokenRejected("token subject or id is malformed")
    if not (isinstance(roles, list) and all(isinstance(r, str) for r in roles)):
        raise TokenRejected("token roles are malformed")
    if not (isinstance(tv, int) and not isinstance(tv, bool)):
        raise TokenRejected("token version is malformed")
    sid = payload.get("sid")
    if sid is not None and not (isinstance(sid, str) and sid):
        raise TokenRejected("token session is malformed")
    expires_at = dt.datetime.fromtimestamp(exp, dt.UTC)
    if now >= expires_at + leeway:
        raise TokenRejected("token has expired")
    if now + leeway < dt.datetime.fromtimestamp(nbf, dt.UTC):
        raise TokenRejected("token is not valid yet")
    if now + leeway < dt.datetime.fromtimestamp(iat, dt.UTC):
        raise TokenRejected("token was issued in the future")
    return AccessClaims(
        subject=sub, roles=tuple(roles), token_version=tv, token_id=jti, expires_at=expires_at, session_id=sid
    )


def _reason(exc: jwt.InvalidTokenError) -> str:
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    return "token is malformed"
