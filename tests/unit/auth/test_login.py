"""AuthService.login: credentials, constant work for unknown emails, rehash on login, throttling."""

from __future__ import annotations

import pytest

from receiptcore.adapters.security import Argon2PasswordHasher
from receiptcore.domain.users import MEMBER
from receiptcore.errors import InvalidCredentials, RateLimited
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


async def test_failures_past_the_free_ones_back_off_exponentially_and_the_right_password_then_passes() -> None:
    world = make_world()
    user = await world.make_user()
    for _ in range(5):  # the free attempts
        with pytest.raises(InvalidCredentials):
            await world.auth.login(user.email, "wrong password here")
    waits = []
    for _ in range(4):
        with pytest.raises(RateLimited) as caught:
            await world.auth.login(user.email, GOOD_PASSWORD)  # refused unread during the wait
        waits.append(caught.value.retry_after)
        world.clock.advance(caught.value.retry_after)
        with pytest.raises(InvalidCredentials):
            await world.auth.login(user.email, "wrong password here")
    assert waits == [1.0, 2.0, 4.0, 8.0]
    with pytest.raises(RateLimited) as caught:
        await world.auth.login(user.email, GOOD_PASSWORD)
    world.clock.advance(caught.value.retry_after)
    assert (await world.auth.login(user.email.upper(), GOOD_PASSWORD)).user.id == user.id
    # the success started the account over: five free attempts again
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await world.auth.login(user.email, "wrong password here")


async def test_the_wait_is_capped_and_never_becomes_a_lockout() -> None:
    world = make_world()
    user = await world.make_user()
    for _ in range(40):
        wait = 0.0
        try:
            await world.auth.login(user.email, "wrong password here")
        except RateLimited as refused:
            wait = refused.retry_after
        except InvalidCredentials:
            pass
        assert wait <= 900
        world.clock.advance(wait)
    world.clock.advance(900)
    assert (await world.auth.login(user.email, GOOD_PASSWORD)).user.id == user.id


async def test_a_throttled_account_does_not_slow_other_accounts() -> None:
    world = make_world()
    user, other = await world.make_user(), await world.make_user()
    for _ in range(6):
        with pytest.raises((InvalidCredentials, RateLimited)):
            await world.auth.login(user.email, "wrong password here")
    with pytest.raises(RateLimited):
        await world.auth.login(user.email, GOOD_PASSWORD)
    assert (await world.auth.login(other.email, GOOD_PASSWORD)).user.id == other.id


async def test_throttled_tries_are_refused_without_hashing(world: World) -> None:
    user = await world.make_user()
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await world.auth.login(user.email, "wrong password here")
    before = world.hasher.verify_calls
    for _ in range(50):
        with pytest.raises(RateLimited):
            await world.auth.login(user.email, "wrong password here")
    assert world.hasher.verify_calls == before


async def test_unknown_emails_are_throttled_too() -> None:
    world = make_world()
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await world.auth.login("ghost@example.com", "whatever password")
    with pytest.raises(RateLimited):
        await world.auth.login("ghost@example.com", "whatever password")


async def test_one_client_spraying_many_accounts_is_slowed() -> None:
    world = make_world()
    for n in range(20):  # the client's free attempts, one per account
        with pytest.raises(InvalidCredentials):
            await world.auth.login(f"victim{n}@example.com", "Summer2026!!!", client="203.0.113.9")
    with pytest.raises(RateLimited) as caught:
        await world.auth.login("victim-next@example.com", "Summer2026!!!", client="203.0.113.9")
    assert caught.value.extra["key"] == "client"
    user = await world.make_user()
    assert (await world.auth.login(user.email, GOOD_PASSWORD, client="198.51.100.1")).user.id == user.id


async def test_successful_logins_do_not_count_against_their_client() -> None:
    world = make_world()
    user = await world.make_user()
    for _ in range(100):
        await world.auth.login(user.email, GOOD_PASSWORD, client="192.0.2.7")
    assert await world.throttle_store.count() == 0


async def test_unlock_clears_an_account_at_once() -> None:
    world = make_world()
    user = await world.make_user()
    for _ in range(6):
        with pytest.raises((InvalidCredentials, RateLimited)):
            await world.auth.login(user.email, "wrong password here")
    state = await world.throttle.account_state(user.email)
    assert state is not None
    assert state.attempts == 5  # the sixth was refused unread, so not counted
    assert await world.throttle.unlock_account(user.email) == 5
    assert await world.throttle.account_state(user.email) is None
    assert (await world.auth.login(user.email, GOOD_PASSWORD)).user.id == user.id
