"""JwksTokenVerifier: verifies access tokens with the auth service's published public keys (no private key here).

The receipt API of the split topology runs this instead of a ``JwtTokenIssuer``. It fetches
``{auth_url}/.well-known/jwks.json`` on first use and keeps the keys. A token whose ``kid`` it does not know makes
it fetch again, at most once per ``refetch_interval`` (a minute by default), so a flood of forged key ids costs the
auth service one request a minute; a rotated key is published by the auth service before it signs with it (see
``receiptcore keys rotate``), so a verifier learns it in time. The keys are also refreshed in the background once
they are older than ``max_age``, so a key the auth service stopped publishing stops verifying here too.

When the auth service cannot be reached the keys already held keep working; with none held yet, verification
fails with ``UpstreamUnavailable`` (503 with Retry-After), never with a 500 or a 401 that would log people out.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import logging
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from receiptcore.adapters.security.keys import thumbprint
from receiptcore.adapters.security.tokens import verify_access_token
from receiptcore.errors import UpstreamUnavailable
from receiptcore.ports import AccessClaims, TokenVerifier

logger = logging.getLogger(__name__)

JWKS_PATH = "/.well-known/jwks.json"
# With no key at all every request waits on a fetch; this spaces out the attempts while the auth service is down.
_NO_KEYS_RETRY_SECONDS = 1.0
_MAX_JWKS_BYTES = 256 * 1024


class JwksTokenVerifier(TokenVerifier):
    """The TokenVerifier port over a remote JWKS.

    Args:
        auth_url: base URL of the auth service (the JWKS is at ``/.well-known/jwks.json`` below it).
        issuer: the ``iss`` claim required.
        audience: the ``aud`` claim required.
        leeway_seconds: clock skew tolerated between instances.
        refetch_interval: least time between two fetches (an unknown ``kid`` triggers one).
        max_age: keys older than this are refreshed in the background.
        timeout: seconds one fetch may take.
        transport: an httpx transport (tests); None uses the network.
    """

    def __init__(
        self,
        auth_url: str,
        *,
        issuer: str = "receiptcore",
        audience: str = "receiptcore",
        leeway_seconds: int = 5,
        refetch_interval: float = 60.0,
        max_age: float = 600.0,
        timeout: float = 3.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = auth_url.rstrip("/") + JWKS_PATH
        self._issuer = issuer
        self._audience = audience
        self._leeway = dt.timedelta(seconds=leeway_seconds)
        self._refetch_interval = refetch_interval
        self._max_age = max_age
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False)
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._last_error = ""
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[bool] | None = None
        self.fetches = 0

    @property
    def url(self) -> str:
        """Where the keys are fetched from."""
        return self._url

    def verify(self, token: str, now: dt.datetime) -> AccessClaims:
        """Verify with the keys held. Raises UnknownSigningKey (then ``refresh_keys``) or TokenRejected."""
        self._refresh_in_background_when_old()
        return verify_access_token(
            token, self._keys, issuer=self._issuer, audience=self._audience, leeway=self._leeway, now=now
        )

    async def refresh_keys(self) -> bool:
        """Fetch the JWKS unless one was fetched less than ``refetch_interval`` ago; True if the key set changed.

        Raises:
            UpstreamUnavailable: the auth service cannot be reached (or answers nonsense) and no key is held.
        """
        async with self._lock:
            mono = time.monotonic()
            if self._attempted_at is not None:
                since = mono - self._attempted_at
                if self._keys and since < self._refetch_interval:
                    return False
                if not self._keys and since < _NO_KEYS_RETRY_SECONDS:
                    raise UpstreamUnavailable(self._last_error)
            self._attempted_at = mono
            try:
                keys = await self._fetch()
            except UpstreamUnavailable as exc:
                self._last_error = exc.detail
                if not self._keys:
                    raise
                logger.warning("%s; verifying with the %d key(s) held", exc.detail, len(self._keys))
                return False
            changed = set(keys) != set(self._keys)
            self._keys = keys
            self._fetched_at = mono
            if changed:
                logger.info("token keys from %s: %s", self._url, ", ".join(sorted(keys)))
            return changed

    async def aclose(self) -> None:
        """Close the HTTP client (and a background refresh in flight)."""
        if self._background is not None and not self._background.done():
            self._background.cancel()
        await self._client.aclose()

    async def _fetch(self) -> dict[str, Ed25519PublicKey]:
        self.fetches += 1
        try:
            response = await self._client.get(self._url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"the auth service's keys at {self._url} cannot be fetched: {exc!r}") from exc
        if response.status_code != 200:
            raise UpstreamUnavailable(
                f"the auth service's keys at {self._url} cannot be fetched: HTTP {response.status_code}"
            )
        if len(response.content) > _MAX_JWKS_BYTES:
            raise UpstreamUnavailable(f"the key set at {self._url} is implausibly large")
        try:
            document = response.json()
        except ValueError as exc:
            raise UpstreamUnavailable(f"the key set at {self._url} is not JSON") from exc
        keys = parse_jwks(document)
        if not keys:
            raise UpstreamUnavailable(f"the key set at {self._url} holds no Ed25519 signing key")
        return keys

    def _refresh_in_background_when_old(self) -> None:
        if self._fetched_at is None or time.monotonic() - self._fetched_at < self._max_age:
            return
        if self._background is not None and not self._background.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._background = loop.create_task(self._refresh_quietly(), name="receiptcore-jwks-refresh")

    async def _refresh_quietly(self) -> bool:
        try:
            return await self.refresh_keys()
        except UpstreamUnavailable:
            return False


def parse_jwks(document: Any) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 signature keys of a JWK Set by ``kid`` (a key without one gets its RFC 7638 thumbprint).

    Keys of other types or uses are skipped; a malformed document yields no keys.
    """
    entries = document.get("keys") if isinstance(document, dict) else None
    keys: dict[str, Ed25519PublicKey] = {}
    if not isinstance(entries, list):
        return keys
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", "EdDSA") != "EdDSA":
            continue
        x = entry.get("x")
        if not isinstance(x, str):
            continue
        try:
            raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
            key = Ed25519PublicKey.from_public_bytes(raw)
        except (ValueError, binascii.Error):
            continue
        kid = entry.get("kid")
        keys[kid if isinstance(kid, str) and kid else thumbprint(key)] = key
    return keys
