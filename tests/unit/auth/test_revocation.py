"""Sessions end at once: logout and refresh-token reuse refuse the session's access tokens on the next request,
on this instance and (through ``session.revoked``) on every other; a change counter makes writes by another
process visible on the next request; a token newer than the cached state is never refused for being new."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from receiptcore.adapters.caching_cachetools import CachetoolsCacheFactory
from receiptcore.domain.events import Event
from receiptcore.domain.users import AUDITOR, MEMBER, Role, User
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


class CountingRepo:
    """The world's repo, counting the reads an authentication makes, and able to hold ``get_user`` until
    ``release`` is set (a store read in progress)."""

    def __init__(self, world: World) -> None:
        self._repo = world.repo
        self.reads: list[str] = []
        self.hold: asyncio.Event | None = None
        self.release = asyncio.Event()

    async def get_user(self, user_id: str) -> User:
        self.reads.append("user")
        user = await self._repo.get_user(user_id)
        if self.hold is not None:  # read, not yet answered
            self.hold.set()
            await self.release.wait()
        return user

    async def session_revoked(self, session_id: str) -> bool:
        self.reads.append("session")
        return await self._repo.session_revoked(session_id)

    async def list_roles(self) -> list[Role]:
        self.reads.append("roles")
        return await self._repo.list_roles()


def counted_instance(world: World, repo: CountingRepo, counter: FakeCounter) -> Authenticator:
    return Authenticator(
        repo,  # type: ignore[arg-type]  # the reads authenticate makes
        world.issuer,
        world.clock,
        access_cache_config(world.config),
        caches=CachetoolsCacheFactory(world.clock),
        changes=counter,
    )


async def test_a_checked_token_reads_only_the_counter_until_a_state_it_came_from_expires(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    repo, counter = CountingRepo(world), FakeCounter()
    elsewhere = counted_instance(world, repo, counter)
    first = await elsewhere.authenticate(session.access_token)
    assert repo.reads == ["user", "session", "roles"]
    for _ in range(3):
        assert await elsewhere.authenticate(session.access_token) is first
    assert (repo.reads, counter.reads, world.issuer.verify_calls) == (["user", "session", "roles"], 4, 1)
    world.clock.advance(world.config.state_cache_ttl.total_seconds())  # the user and session states expire
    await elsewhere.authenticate(session.access_token)
    assert repo.reads[3:] == ["user", "session"]  # checked again from the store (the roles live 30 s)


async def test_an_event_heard_while_a_state_is_read_is_not_undone_by_that_read(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    repo, counter = CountingRepo(world), FakeCounter()
    elsewhere = counted_instance(world, repo, counter)
    repo.hold = asyncio.Event()
    checking = asyncio.create_task(elsewhere.authenticate(session.access_token))
    await repo.hold.wait()  # the check has read the user as it was before this change:
    await world.repo.save_user(user.model_copy(update={"disabled": True}))
    await elsewhere.handle_event(Event(type="user.disabled", payload={"user_id": user.id}))  # heard meanwhile
    repo.hold = None
    repo.release.set()
    await checking  # it answers from what it read (the request began before the change)
    with pytest.raises(TokenRejected, match="disabled"):
        await elsewhere.authenticate(session.access_token)  # but the next request is checked again


def _drops() -> list[Any]:
    def event(kind: str) -> Any:
        return lambda auth, _user, _sid: auth.handle_event(Event(type=kind, payload={}))

    return [
        pytest.param(event("user.disabled"), id="any user"),
        pytest.param(lambda auth, user, _sid: auth.forget_user(user), id="forget user"),
        pytest.param(lambda auth, _user, sid: auth.forget_session(sid), id="forget session"),
        pytest.param(event("session.revoked"), id="any session"),
        pytest.param(event("role.changed"), id="roles"),
        pytest.param(lambda auth, _user, _sid: auth.reset_caches(), id="reset"),
    ]


@pytest.mark.parametrize("drop", _drops())
async def test_every_dropped_state_makes_checked_tokens_be_checked_again(world: World, drop: Any) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    sid = world.issuer.verify(session.access_token, world.clock.now()).session_id
    repo, counter = CountingRepo(world), FakeCounter()
    elsewhere = counted_instance(world, repo, counter)
    await elsewhere.authenticate(session.access_token)
    await elsewhere.authenticate(session.access_token)
    reads = len(repo.reads)
    outcome = drop(elsewhere, user.id, sid)
    if asyncio.iscoroutine(outcome):
        await outcome
    await elsewhere.authenticate(session.access_token)
    assert len(repo.reads) > reads  # at least the dropped state was read again


@pytest.mark.parametrize("drop", [*_drops(), pytest.param("counter", id="moved counter")])
async def test_changes_seen_moves_with_every_dropped_state_and_stands_still_otherwise(world: World, drop: Any) -> None:
    # what GET /auth/me keeps its answer on (entrypoints/http/fastpath.py): unchanged only while nothing was dropped
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    sid = world.issuer.verify(session.access_token, world.clock.now()).session_id
    counter = FakeCounter()
    elsewhere = counted_instance(world, CountingRepo(world), counter)
    await elsewhere.authenticate(session.access_token)
    seen = elsewhere.changes_seen
    assert seen is not None
    for _ in range(3):
        await elsewhere.authenticate(session.access_token)
    assert elsewhere.changes_seen == seen
    if drop == "counter":
        counter.count += 1  # a commit by another process
    else:
        outcome = drop(elsewhere, user.id, sid)
        if asyncio.iscoroutine(outcome):
            await outcome
    await elsewhere.authenticate(session.access_token)
    assert elsewhere.changes_seen != seen


async def test_without_a_change_counter_nothing_may_be_kept_on_changes_seen(world: World) -> None:
    user = await world.make_user()
    session = await world.auth.login(user.email, GOOD_PASSWORD)
    elsewhere = other_instance(world)  # no counter: a write elsewhere is learnt from events and TTLs only
    await elsewhere.authenticate(session.access_token)
    assert elsewhere.changes_seen is None
