"""AuthService.authenticate: revocation by token version, disabled users, role changes, caches."""

from __future__ import annotations

import datetime as dt

import pytest

from receiptcore.domain.events import Event
from receiptcore.domain.users import RECEIPTS_READ_ANY, USERS_READ
from receiptcore.errors import InvalidCredentials, RateLimited, TokenRejected, WeakPassword
from receiptcore.services.auth import AuthConfig
from tests.unit.auth.support import GOOD_PASSWORD, World, make_world, root


async def test_principal_carries_current_permissions(world: World) -> None:
    user = await world.make_user(roles=["auditor"])
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    principal = await world.auth.authenticate(session.access_token)
    assert principal.email == user.email
    assert principal.can(RECEIPTS_READ_ANY)
    assert not principal.can("receipts:write")


async def test_change_password_rejects_old_access_tokens_at_once(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    principal = await world.auth.authenticate(session.access_token)
    await world.auth.change_password(principal, GOOD_PASSWORD, "a-brand-new-passphrase-9")
    with pytest.raises(TokenRejected, match="revoked"):
        await world.auth.authenticate(session.access_token)
    with pytest.raises(TokenRejected):
        await world.auth.refresh(session.refresh_token)
    assert world.bus.types()[-1] == "user.tokens_revoked"
    assert world.bus.events[-1].payload == {"user_id": user.id, "token_version": 2}
    with pytest.raises(InvalidCredentials):
        await world.auth.login(user.email, GOOD_PASSWORD)
    fresh = await world.auth.login(user.email, "a-brand-new-passphrase-9")
    assert (await world.auth.authenticate(fresh.access_token)).token_version == 2


async def test_change_password_checks_current_and_policy(world: World) -> None:
    user = await world.make_user()
    principal = world.principal_of(user)
    with pytest.raises(InvalidCredentials):
        await world.auth.change_password(principal, "not-my-password!", "a-brand-new-passphrase-9")
    with pytest.raises(WeakPassword):
        await world.auth.change_password(principal, GOOD_PASSWORD, "short")
    with pytest.raises(WeakPassword):
        await world.auth.change_password(principal, GOOD_PASSWORD, user.email)
    assert (await world.repo.get_user(user.id)).token_version == 1


async def test_guessing_the_current_password_with_a_stolen_token_is_throttled(world: World) -> None:
    user = await world.make_user()
    principal = world.principal_of(user)
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await world.auth.change_password(principal, "not-my-password!", "a-brand-new-passphrase-9")
    with pytest.raises(RateLimited) as refused:
        await world.auth.change_password(principal, GOOD_PASSWORD, "a-brand-new-passphrase-9")
    assert refused.value.retry_after > 0
    assert (await world.repo.get_user(user.id)).token_version == 1
    world.clock.advance(15 * 60 + 1)
    await world.auth.change_password(principal, GOOD_PASSWORD, "a-brand-new-passphrase-9")
    assert (await world.repo.get_user(user.id)).token_version == 2


async def test_token_version_bump_elsewhere_is_seen_after_the_event(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    await world.auth.authenticate(session.access_token)  # caches the user state
    # Another instance bumps the version in the shared store; this instance hears the event.
    stored = await world.repo.get_user(user.id)
    stored.token_version += 1
    await world.repo.save_user(stored)
    await world.auth.authenticate(session.access_token)  # still cached: the event has not arrived
    await world.auth.handle_event(Event(type="user.tokens_revoked", payload={"user_id": user.id}))
    with pytest.raises(TokenRejected, match="revoked"):
        await world.auth.authenticate(session.access_token)


async def test_missed_event_is_covered_by_the_state_ttl() -> None:
    world = make_world(AuthConfig(state_cache_ttl=dt.timedelta(seconds=5)))
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    await world.auth.authenticate(session.access_token)
    await world.repo.save_user(user.model_copy(update={"disabled": True}))
    world.clock.advance(4)
    await world.auth.authenticate(session.access_token)
    world.clock.advance(1)
    with pytest.raises(TokenRejected, match="disabled"):
        await world.auth.authenticate(session.access_token)


async def test_disabled_user_is_rejected(world: World) -> None:
    admin = await world.make_user(roles=["admin"])
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    await world.auth.authenticate(session.access_token)
    await world.users.set_disabled(world.principal_of(admin), user.id, True)
    for event in world.bus.events:
        await world.auth.handle_event(event)
    with pytest.raises(TokenRejected):
        await world.auth.authenticate(session.access_token)


async def test_role_change_takes_effect_with_a_new_token(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    assert not (await world.auth.authenticate(session.access_token)).can(USERS_READ)
    await world.users.set_roles(root(), user.id, ["member", "auditor"])
    for event in world.bus.events:
        await world.auth.handle_event(event)
    with pytest.raises(TokenRejected):
        await world.auth.authenticate(session.access_token)
    refreshed = await world.auth.refresh(session.refresh_token)
    principal = await world.auth.authenticate(refreshed.access_token)
    assert principal.can(USERS_READ)
    assert principal.roles == frozenset({"member", "auditor"})


async def test_custom_role_permission_change_applies_to_existing_tokens(world: World) -> None:
    await world.roles.create_role(root(), "bookkeeper", ["receipts:read"])
    user = await world.make_user(roles=["bookkeeper"])
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    assert not (await world.auth.authenticate(session.access_token)).can(RECEIPTS_READ_ANY)
    await world.roles.update_role(root(), "bookkeeper", permissions=["receipts:read", RECEIPTS_READ_ANY])
    assert world.bus.types()[-1] == "role.changed"
    await world.auth.handle_event(world.bus.events[-1])
    assert (await world.auth.authenticate(session.access_token)).can(RECEIPTS_READ_ANY)


async def test_role_cache_ttl_covers_a_missed_role_event() -> None:
    world = make_world(AuthConfig(role_cache_ttl=dt.timedelta(seconds=30)))
    await world.roles.create_role(root(), "bookkeeper", ["receipts:read"])
    user = await world.make_user(roles=["bookkeeper"])
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    await world.auth.authenticate(session.access_token)
    await world.roles.update_role(root(), "bookkeeper", permissions=[USERS_READ])
    assert not (await world.auth.authenticate(session.access_token)).can(USERS_READ)
    world.clock.advance(30)
    assert (await world.auth.authenticate(session.access_token)).can(USERS_READ)


async def test_deleted_user_is_rejected(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    del world.repo._users[user.id]
    del world.repo._ids_by_email[user.email]
    with pytest.raises(TokenRejected, match="no longer exists"):
        await world.auth.authenticate(session.access_token)


async def test_verified_tokens_are_cached_but_expire_with_the_token(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    for _ in range(5):
        await world.auth.authenticate(session.access_token)
    assert world.issuer.verify_calls == 1
    world.clock.advance(session.expires_in + 5)  # the issuer tolerates 5 s of clock skew between instances
    with pytest.raises(TokenRejected, match="expired"):
        await world.auth.authenticate(session.access_token)
    world.clock.advance(3600)
    with pytest.raises(TokenRejected, match="expired"):
        await world.auth.authenticate(session.access_token)


async def test_verified_token_cache_is_bounded() -> None:
    world = make_world(AuthConfig(verified_token_cache_size=2))
    user = await world.make_user()
    tokens = [(await world.auth.login(user.email, GOOD_PASSWORD)).access_token for _ in range(3)]
    for token in tokens:
        await world.auth.authenticate(token)
    assert len(world.auth._authenticator._verified) == 2
    await world.auth.authenticate(tokens[0])  # evicted first, so verified again
    assert world.issuer.verify_calls == 4


async def test_tampered_or_foreign_tokens_are_rejected(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    with pytest.raises(TokenRejected):
        await world.auth.authenticate(session.access_token[:-3] + "abc")
    with pytest.raises(TokenRejected):
        await world.auth.authenticate("Bearer nonsense")


async def test_me_returns_the_callers_record(world: World) -> None:
    user = await world.make_user()
    assert (await world.auth.me(world.principal_of(user))).id == user.id


async def test_reset_caches_forgets_state(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    await world.auth.authenticate(session.access_token)
    await world.repo.save_user(user.model_copy(update={"disabled": True}))
    world.auth.reset_caches()
    with pytest.raises(TokenRejected):
        await world.auth.authenticate(session.access_token)
