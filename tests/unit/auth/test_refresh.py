"""AuthService.refresh and logout: rotation, reuse detection, idle and absolute expiry, revocation."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from receiptcore.errors import TokenRejected
from receiptcore.services.auth import AuthConfig
from tests.unit.auth.support import GOOD_PASSWORD, World, make_world, root


async def test_refresh_rotates_the_token_within_the_family(world: World) -> None:
    user = await world.make_user()
    first = await world.auth.login(user.email, GOOD_PASSWORD)
    world.clock.advance(60)
    second = await world.auth.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert (await world.auth.authenticate(second.access_token)).user_id == user.id
    tokens = sorted(world.repo._tokens.values(), key=lambda t: t.created_at)
    assert len(tokens) == 2
    assert tokens[0].family_id == tokens[1].family_id
    assert tokens[0].used_at == world.clock.now()
    third = await world.auth.refresh(second.refresh_token)
    assert third.user.id == user.id


async def test_reusing_a_refresh_token_revokes_the_whole_family(world: World) -> None:
    user = await world.make_user()
    first = await world.auth.login(user.email, GOOD_PASSWORD)
    other_device = await world.auth.login(user.email, GOOD_PASSWORD)
    second = await world.auth.refresh(first.refresh_token)
    with pytest.raises(TokenRejected, match="already used"):
        await world.auth.refresh(first.refresh_token)  # the thief (or the victim) replays it
    with pytest.raises(TokenRejected, match="revoked"):
        await world.auth.refresh(second.refresh_token)  # the newest member died with its family
    # Another login (another family) is untouched.
    assert (await world.auth.refresh(other_device.refresh_token)).user.id == user.id


async def test_concurrent_presentations_of_one_token_yield_one_session_at_most() -> None:
    world = make_world()
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    results = await asyncio.gather(
        *(world.auth.refresh(session.refresh_token) for _ in range(3)), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) <= 1
    assert all(isinstance(r, TokenRejected) for r in results if isinstance(r, BaseException))


async def test_idle_refresh_token_expires(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    world.clock.advance(world.config.refresh_idle_ttl.total_seconds() + 1)
    with pytest.raises(TokenRejected, match="expired"):
        await world.auth.refresh(session.refresh_token)


async def test_regular_use_keeps_the_session_alive_until_the_absolute_expiry() -> None:
    config = AuthConfig(refresh_idle_ttl=dt.timedelta(days=2), refresh_absolute_ttl=dt.timedelta(days=5))
    world = make_world(config)
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    for _ in range(4):  # day 1, 2, 3, 4: each within the idle window
        world.clock.advance(86400)
        session = await world.auth.refresh(session.refresh_token)
    # The last member's idle expiry is capped by the family's absolute expiry (day 5).
    assert session.refresh_expires_at == world.clock.now() + dt.timedelta(days=1)
    world.clock.advance(86400)
    with pytest.raises(TokenRejected, match="expired"):
        await world.auth.refresh(session.refresh_token)


async def test_logout_revokes_the_family_and_is_idempotent(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    rotated = await world.auth.refresh(session.refresh_token)
    await world.auth.logout(rotated.refresh_token)
    await world.auth.logout(rotated.refresh_token)
    await world.auth.logout(None)
    await world.auth.logout("not-a-token")
    with pytest.raises(TokenRejected, match="revoked"):
        await world.auth.refresh(rotated.refresh_token)


@pytest.mark.parametrize("garbage", ["", "x", "A" * 43, "A" * 10_000])
async def test_unknown_refresh_tokens_are_rejected(world: World, garbage: str) -> None:
    with pytest.raises(TokenRejected):
        await world.auth.refresh(garbage)


async def test_disabled_user_cannot_refresh(world: World) -> None:
    admin = await world.make_user(roles=["admin"])
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    await world.users.set_disabled(world.principal_of(admin), user.id, True)
    with pytest.raises(TokenRejected, match="revoked"):
        await world.auth.refresh(session.refresh_token)


async def test_user_disabled_directly_in_the_store_cannot_refresh(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    await world.repo.save_user(user.model_copy(update={"disabled": True}))
    with pytest.raises(TokenRejected, match="disabled"):
        await world.auth.refresh(session.refresh_token)


async def test_password_change_revokes_refresh_tokens(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    await world.users.update_user(root(), user.id, password="another-long-passphrase-7")
    with pytest.raises(TokenRejected, match="revoked"):
        await world.auth.refresh(session.refresh_token)
