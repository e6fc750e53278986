"""JwksTokenVerifier: verifies with the auth service's published keys, learns a rotated key by re-fetching (at most
once per interval), keeps working on the keys it holds when the auth service is down, and says 'unavailable' (not
'rejected') when it holds none."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from receiptcore.adapters.caching_cachetools import CachetoolsCacheFactory
from receiptcore.adapters.clock import ManualClock
from receiptcore.adapters.memory.user_repo import MemoryUserRepo
from receiptcore.adapters.security import jwks as jwks_module
from receiptcore.adapters.security.jwks import JwksTokenVerifier, parse_jwks
from receiptcore.adapters.security.tokens import JwtTokenIssuer
from receiptcore.errors import TokenRejected, UnknownSigningKey, UpstreamUnavailable
from receiptcore.services.authentication import Authenticator
from tests.factories import make_user

NOW = dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.UTC)


class FakeAuthService:
    """Serves the JWKS of some issuers over an httpx MockTransport; can be taken down."""

    def __init__(self, *issuers: JwtTokenIssuer) -> None:
        self.issuers = list(issuers)
        self.down = False
        self.requests = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        assert request.url.path == "/.well-known/jwks.json"
        keys = [key for issuer in self.issuers for key in issuer.jwks()["keys"]]
        return httpx.Response(200, json={"keys": keys})


class Clocked:
    """A monotonic clock the verifier's rate limit reads (patched into the module)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def mono(monkeypatch: pytest.MonkeyPatch) -> Clocked:
    clock = Clocked()
    monkeypatch.setattr(jwks_module.time, "monotonic", clock)
    return clock


def verifier_for(service: FakeAuthService, **kwargs: float) -> JwksTokenVerifier:
    return JwksTokenVerifier(
        "http://auth.test/", issuer="t", audience="t", transport=httpx.MockTransport(service.handler), **kwargs
    )


async def test_a_token_verifies_after_the_first_fetch(mono: Clocked) -> None:
    issuer = JwtTokenIssuer.generate(issuer="t", audience="t")
    service = FakeAuthService(issuer)
    verifier = verifier_for(service)
    token, _ = issuer.issue(make_user(), NOW)
    with pytest.raises(UnknownSigningKey):
        verifier.verify(token, NOW)  # nothing fetched yet
    assert await verifier.refresh_keys() is True
    assert verifier.verify(token, NOW).token_id
    await verifier.aclose()


async def test_unknown_key_ids_refetch_at_most_once_per_interval(mono: Clocked) -> None:
    old = JwtTokenIssuer.generate(issuer="t", audience="t")
    service = FakeAuthService(old)
    verifier = verifier_for(service, refetch_interval=60.0)
    await verifier.refresh_keys()
    rotated = JwtTokenIssuer.generate(issuer="t", audience="t")
    service.issuers.append(rotated)
    token, _ = rotated.issue(make_user(), NOW)
    mono.now += 10
    for _ in range(50):  # a flood of unknown key ids within the minute: no fetch
        assert await verifier.refresh_keys() is False
    assert service.requests == 1
    with pytest.raises(UnknownSigningKey):
        verifier.verify(token, NOW)
    mono.now += 51
    assert await verifier.refresh_keys() is True
    assert service.requests == 2
    assert verifier.verify(token, NOW).subject
    await verifier.aclose()


async def test_the_keys_held_keep_working_while_the_auth_service_is_down(mono: Clocked) -> None:
    issuer = JwtTokenIssuer.generate(issuer="t", audience="t")
    service = FakeAuthService(issuer)
    verifier = verifier_for(service)
    await verifier.refresh_keys()
    service.down = True
    mono.now += 120
    assert await verifier.refresh_keys() is False  # logged, not raised: we still hold keys
    assert verifier.verify(issuer.issue(make_user(), NOW)[0], NOW).subject
    await verifier.aclose()


async def test_with_no_keys_an_unreachable_auth_service_is_unavailable_not_a_rejection(mono: Clocked) -> None:
    service = FakeAuthService(JwtTokenIssuer.generate(issuer="t", audience="t"))
    service.down = True
    verifier = verifier_for(service)
    with pytest.raises(UpstreamUnavailable, match="cannot be fetched"):
        await verifier.refresh_keys()
    with pytest.raises(UpstreamUnavailable):  # within the retry spacing: no new request
        await verifier.refresh_keys()
    assert service.requests == 1
    mono.now += 2
    service.down = False
    assert await verifier.refresh_keys() is True
    await verifier.aclose()


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, b"oops"), (200, b"not json"), (200, json.dumps({"keys": []}).encode()), (404, b"{}")],
    ids=["5xx", "not-json", "no-keys", "404"],
)
async def test_a_broken_key_endpoint_is_unavailable(mono: Clocked, status: int, body: bytes) -> None:
    verifier = JwksTokenVerifier(
        "http://auth.test", transport=httpx.MockTransport(lambda _r: httpx.Response(status, content=body))
    )
    with pytest.raises(UpstreamUnavailable):
        await verifier.refresh_keys()
    await verifier.aclose()


async def test_a_token_of_another_issuer_is_rejected_even_with_a_known_key(mono: Clocked) -> None:
    foreign = JwtTokenIssuer.generate(issuer="someone-else", audience="t")
    verifier = verifier_for(FakeAuthService(foreign))
    await verifier.refresh_keys()
    with pytest.raises(TokenRejected, match="issuer"):
        verifier.verify(foreign.issue(make_user(), NOW)[0], NOW)
    await verifier.aclose()


def test_parse_jwks_keeps_only_ed25519_signature_keys() -> None:
    good = JwtTokenIssuer.generate().jwks()["keys"][0]
    document = {
        "keys": [
            good,
            {"kty": "RSA", "n": "x", "e": "AQAB", "kid": "rsa"},
            {**good, "kid": "enc", "use": "enc"},
            {**good, "kid": "bad-x", "x": "!!!"},
            {**good, "kid": "short", "x": "AAAA"},
            "junk",
        ]
    }
    assert list(parse_jwks(document)) == [good["kid"]]
    assert parse_jwks({"keys": "nope"}) == {}
    assert parse_jwks([]) == {}


async def test_the_authenticator_learns_a_rotated_key_through_the_verifier(mono: Clocked) -> None:
    repo = MemoryUserRepo()
    user = make_user()
    await repo.add_user(user)
    old = JwtTokenIssuer.generate(issuer="t", audience="t")
    service = FakeAuthService(old)
    clock = ManualClock(NOW)
    authenticator = Authenticator(repo, verifier_for(service), clock, caches=CachetoolsCacheFactory(clock))
    assert (await authenticator.authenticate(old.issue(user, NOW)[0])).user_id == user.id  # first fetch
    rotated = JwtTokenIssuer.generate(issuer="t", audience="t")
    service.issuers = [rotated]
    mono.now += 61
    assert (await authenticator.authenticate(rotated.issue(user, NOW)[0])).user_id == user.id
    assert service.requests == 2
