"""Sessions end at once: logout and refresh-token reuse refuse the session's access tokens on the next request,
on this instance and (through ``session.revoked``) on every other; a change counter makes writes by another
process visible on the next request; a token newer than the cached state is never refused for being new."""

from __future__ import annotations

import pytest

from receiptcore.adapters.caching_cachetools import CachetoolsCacheFactory
from receiptcore.domain.users import AUDITOR, MEMBER
from receiptcore.errors import TokenRejected
from receiptcore.services.auth import access_cache_config
from receiptcore.services.authentication import Authenticator
from tests.unit.auth.support import GOOD_PASSWORD, World, root


def other_instance(world: World, counter: FakeCounter | None = None) -> Authenticator:
    """Another instance's Authenticator over the same store (it hears only the events it is handed)."""
    return Authenticator(
        world.repo,
        world.issuer,
        world.clock,
        access_cache_config(world.config),
        caches=CachetoolsCacheFactory(world.clock),
        changes=counter,
    )


class FakeCounter:
    """An AuthChangeCounter whose count a test moves (the CLI's commit in another process)."""

    def __init__(self) -> None:
        self.count = 0
        self.reads = 0

    async def auth_change_count(self) -> int:
        self.reads += 1
        return self.count


async def test_logout_ends_the_sessions_access_tokens_at_once(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    other = await world.auth.login(user.email, GOOD_PASSWORD)
    await world.auth.authenticate(session.access_token)  # cached: signature, user state, session state
    await world.auth.logout(session.refresh_token)
    with pytest.raises(TokenRejected, match="session has ended"):
        await world.auth.authenticate(session.access_token)
    assert (await world.auth.authenticate(other.access_token)).user_id == user.id  # another session lives on
    assert world.bus.types()[-1] == "session.revoked"
    sid = world.issuer.verify(session.access_token, world.clock.now()).session_id
    assert world.bus.events[-1].payload == {"user_id": user.id, "session_id": sid}


async def test_reuse_ends_both_the_owners_and_the_thiefs_access_tokens(world: World) -> None:
    user = await world.make_user()
    first = await world.auth.login(user.email, GOOD_PASSWORD)
    rotated = await world.auth.refresh(first.refresh_token)
    for session in (first, rotated):
        await world.auth.authenticate(session.access_token)
    with pytest.raises(TokenRejected, match="already used"):
        await world.auth.refresh(first.refresh_token)  # the stolen copy, replayed
    for session in (first, rotated):
        with pytest.raises(TokenRejected, match="session has ended"):
            await world.auth.authenticate(session.access_token)


async def test_another_instance_ends_the_session_on_the_event(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    elsewhere = other_instance(world)
    await elsewhere.authenticate(session.access_token)
    await world.auth.logout(session.refresh_token)
    await elsewhere.authenticate(session.access_token)  # cached until the event arrives
    await elsewhere.handle_event(world.bus.events[-1])
    with pytest.raises(TokenRejected, match="session has ended"):
        await elsewhere.authenticate(session.access_token)


async def test_a_missed_session_event_is_covered_by_the_state_ttl(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    elsewhere = other_instance(world)
    await elsewhere.authenticate(session.access_token)
    await world.auth.logout(session.refresh_token)
    world.clock.advance(world.config.state_cache_ttl.total_seconds())
    with pytest.raises(TokenRejected, match="session has ended"):
        await elsewhere.authenticate(session.access_token)


async def test_a_moved_change_counter_applies_a_change_on_the_next_request(world: World) -> None:
    counter = FakeCounter()
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    elsewhere = other_instance(world, counter)
    for _ in range(3):
        await elsewhere.authenticate(session.access_token)
    assert counter.reads == 3  # once per request
    await world.repo.save_user(user.model_copy(update={"disabled": True}))  # no event reaches `elsewhere`
    await elsewhere.authenticate(session.access_token)  # the counter did not move: still cached
    counter.count += 1
    with pytest.raises(TokenRejected, match="disabled"):
        await elsewhere.authenticate(session.access_token)


async def test_a_token_newer_than_the_cached_state_is_accepted_at_once(world: World) -> None:
    user = await world.make_user()
    old = await world.auth.login(user.email, GOOD_PASSWORD)
    elsewhere = other_instance(world)
    await elsewhere.authenticate(old.access_token)  # caches token_version 1
    await world.users.set_roles(root(), user.id, [MEMBER, AUDITOR])  # bumps it; `elsewhere` hears nothing
    fresh = await world.auth.login(user.email, GOOD_PASSWORD)
    principal = await elsewhere.authenticate(fresh.access_token)
    assert principal.roles == frozenset({MEMBER, AUDITOR})
    with pytest.raises(TokenRejected, match="revoked"):
        await elsewhere.authenticate(old.access_token)  # and the re-read state refuses the old one


async def test_tokens_carry_their_session_and_tokens_without_one_still_work(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    stored = await world.repo.get_user(user.id)
    assert world.issuer.verify(session.access_token, world.clock.now()).session_id is not None
    legacy, _ = world.issuer.issue(stored, world.clock.now())  # as issued before sessions were in tokens
    assert world.issuer.verify(legacy, world.clock.now()).session_id is None
    assert (await world.auth.authenticate(legacy)).user_id == user.id
