"""AuthService.login: credentials, constant work for unknown emails, rehash on login, throttling."""

from __future__ import annotations

import pytest

from receiptcore.adapters.security import Argon2PasswordHasher
from receiptcore.domain.users import MEMBER
from receiptcore.errors import InvalidCredentials, RateLimited
from receiptcore.services.auth import AuthConfig
from tests.unit.auth.support import GOOD_PASSWORD, World, make_world


async def test_login_returns_a_session_with_working_tokens(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    assert session.user.id == user.id
    assert session.expires_in == 300
    assert len(session.refresh_token) >= 43
    assert session.refresh_expires_at == world.clock.now() + world.config.refresh_idle_ttl
    principal = await world.auth.authenticate(session.access_token)
    assert principal.user_id == user.id
    assert principal.roles == frozenset({MEMBER})
    assert principal.can("receipts:write")
    assert not principal.can("users:read")


async def test_refresh_token_is_stored_only_as_its_hash(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    stored = list(world.repo._tokens.values())
    assert len(stored) == 1
    assert stored[0].token_hash != session.refresh_token
    assert session.refresh_token not in repr(stored[0])


async def test_email_is_matched_case_insensitively(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(f"  {user.email.upper()} ", GOOD_PASSWORD)
    assert session.user.id == user.id


async def test_password_is_nfkc_normalised(world: World) -> None:
    composed = "caf\u00e9-" + "".join(chr(ord(c) + 0xFEE0) for c in "fullwidth") + "-42"  # é composed, full-width
    decomposed = "cafe\u0301-fullwidth-42"
    user = await world.make_user(password=composed)
    session = await world.auth.login(user.email, decomposed)
    assert session.user.id == user.id


async def test_wrong_password_unknown_email_and_disabled_user_get_the_same_error(world: World) -> None:
    user = await world.make_user()
    disabled = await world.make_user()
    await world.repo.save_user(disabled.model_copy(update={"disabled": True}))
    attempts = [
        (user.email, "not-the-password-at-all"),
        ("ghost@example.com", GOOD_PASSWORD),
        (disabled.email, GOOD_PASSWORD),
    ]
    messages = set()
    for email, password in attempts:
        with pytest.raises(InvalidCredentials) as caught:
            await world.auth.login(email, password)
        messages.add(caught.value.detail)
    assert messages == {"wrong email or password"}


async def test_unknown_email_still_verifies_a_hash(world: World) -> None:
    await world.make_user()
    before = world.hasher.verify_calls
    with pytest.raises(InvalidCredentials):
        await world.auth.login("nobody@example.com", GOOD_PASSWORD)
    assert world.hasher.verify_calls == before + 1


async def test_overlong_password_is_refused_without_hashing(world: World) -> None:
    user = await world.make_user()
    before = world.hasher.verify_calls
    with pytest.raises(InvalidCredentials):
        await world.auth.login(user.email, "x" * 5000)
    assert world.hasher.verify_calls == before


async def test_login_rehashes_a_hash_made_with_weaker_parameters(world: World) -> None:
    user = await world.make_user()
    weak = await Argon2PasswordHasher(memory_cost=32, time_cost=1).hash(GOOD_PASSWORD)
    await world.repo.save_user(user.model_copy(update={"password_hash": weak}))
    await world.auth.login(user.email, GOOD_PASSWORD)
    rehashed = (await world.repo.get_user(user.id)).password_hash
    assert rehashed != weak
    assert not world.hasher.needs_rehash(rehashed)
    assert await world.hasher.verify(rehashed, GOOD_PASSWORD)


async def test_five_failures_lock_the_email_until_the_window_passes() -> None:
    world = make_world()
    user = await world.make_user()
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await world.auth.login(user.email, "wrong password here")
        world.clock.advance(60)
    with pytest.raises(RateLimited) as caught:
        await world.auth.login(user.email, GOOD_PASSWORD)  # even the right password is refused now
    # The first failure was 5 minutes ago; the 15-minute window frees a slot 10 minutes from now.
    assert caught.value.retry_after == pytest.approx(600)
    other = await world.make_user()
    assert (await world.auth.login(other.email, GOOD_PASSWORD)).user.id == other.id  # per email only
    world.clock.advance(600)
    assert (await world.auth.login(user.email.upper(), GOOD_PASSWORD)).user.id == user.id


async def test_failures_spread_beyond_the_window_do_not_lock() -> None:
    world = make_world()
    user = await world.make_user()
    for _ in range(8):
        with pytest.raises(InvalidCredentials):
            await world.auth.login(user.email, "wrong password here")
        world.clock.advance(4 * 60)  # 5 failures never fit in one 15-minute window
    assert (await world.auth.login(user.email, GOOD_PASSWORD)).user.id == user.id


async def test_success_resets_the_failure_counter() -> None:
    world = make_world(AuthConfig(login_max_failures=3))
    user = await world.make_user()
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await world.auth.login(user.email, "wrong password here")
    await world.auth.login(user.email, GOOD_PASSWORD)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await world.auth.login(user.email, "wrong password here")
    await world.auth.login(user.email, GOOD_PASSWORD)  # would be the 5th failure-free-window attempt


async def test_unknown_emails_are_throttled_too() -> None:
    world = make_world(AuthConfig(login_max_failures=2))
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await world.auth.login("ghost@example.com", "whatever password")
    with pytest.raises(RateLimited):
        await world.auth.login("ghost@example.com", "whatever password")
