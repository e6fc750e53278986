"""The transactional outbox: a role change, disable or password change commits with its event, and the relay
publishes it after commit, at least once, also when the process died between the commit and the publish."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from receiptcore.adapters.memory.event_bus import InProcessEventBus
from receiptcore.adapters.postgres.database import PostgresDatabase
from receiptcore.adapters.postgres.outbox import OutboxRelay, change_events
from receiptcore.adapters.postgres.user_repo import PostgresUserRepo
from receiptcore.domain.events import Event
from receiptcore.domain.users import ADMIN, MEMBER
from receiptcore.errors import Conflict
from tests.factories import make_user

pytestmark = pytest.mark.xdist_group("postgres")


class RecordingBus(InProcessEventBus):
    """An in-process bus that also keeps every published event, and can be told to die while publishing."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[Event] = []
        self.crash_after: int | None = None

    async def publish(self, event: Event) -> None:
        if self.crash_after is not None and len(self.published) >= self.crash_after:
            raise asyncio.CancelledError  # what a dying process does to the task in the middle of a batch
        self.published.append(event)
        await super().publish(event)


async def unsent(db: PostgresDatabase) -> int:
    async with db.connection() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))


async def test_each_change_commits_its_event_in_the_outbox(pg_db: PostgresDatabase, pg_repo: PostgresUserRepo) -> None:
    await pg_repo.add_user(make_user(roles=[ADMIN]))  # another admin, so this one may be disabled
    user = make_user()
    await pg_repo.add_user(user)
    read = await pg_repo.get_user(user.id)
    await pg_repo.save_user_keeping_admin(read.model_copy(update={"roles": [MEMBER, ADMIN], "token_version": 2}))
    await pg_repo.save_user_keeping_admin(
        (await pg_repo.get_user(user.id)).model_copy(update={"disabled": True, "token_version": 3})
    )
    await pg_repo.save_user_keeping_admin(
        (await pg_repo.get_user(user.id)).model_copy(update={"password_hash": "$argon2id$new", "token_version": 4})
    )
    await pg_repo.save_user_keeping_admin((await pg_repo.get_user(user.id)).model_copy(update={"display_name": "Bea"}))
    async with pg_db.connection() as conn:
        rows = await conn.fetch("SELECT event->>'type' AS type, event->'payload' AS payload FROM outbox ORDER BY id")
    kinds = ["user.created", "user.created", "user.roles_changed", "user.disabled", "user.tokens_revoked"]
    assert [r["type"] for r in rows] == kinds


async def test_a_refused_save_records_no_event(pg_db: PostgresDatabase, pg_repo: PostgresUserRepo) -> None:
    only = make_user(roles=[ADMIN])
    await pg_repo.add_user(only)
    with pytest.raises(Conflict):
        await pg_repo.save_user_keeping_admin(only.model_copy(update={"roles": [MEMBER], "token_version": 2}))
    assert await unsent(pg_db) == 1  # only the user.created of the add


async def test_the_relay_publishes_after_commit_and_marks_rows_sent(
    pg_db: PostgresDatabase, pg_repo: PostgresUserRepo
) -> None:
    bus = RecordingBus()
    relay = OutboxRelay(pg_db, bus)
    user = make_user()
    await pg_repo.add_user(user)
    await pg_repo.save_user_keeping_admin(user.model_copy(update={"disabled": True, "token_version": 2}))
    assert await relay.drain() == 2
    assert [e.type for e in bus.published] == ["user.created", "user.disabled"]
    assert bus.published[1].payload == {"user_id": user.id, "token_version": 2, "disabled": True}
    assert await unsent(pg_db) == 0
    assert await relay.drain() == 0  # sent rows are not published again


async def test_a_crash_between_commit_and_publish_still_publishes_on_the_next_run(
    pg_db: PostgresDatabase, pg_repo: PostgresUserRepo
) -> None:
    user = make_user()
    await pg_repo.add_user(user)
    # The change is committed, and then the process dies before anything published it (no relay ran).
    await pg_repo.save_user_keeping_admin(user.model_copy(update={"roles": [], "token_version": 2}))
    # A relay that dies half-way through its batch: the batch is rolled back, nothing is marked sent.
    dying = RecordingBus()
    dying.crash_after = 1
    with pytest.raises(asyncio.CancelledError):
        await OutboxRelay(pg_db, dying).relay_once()
    assert await unsent(pg_db) == 2
    # The next relay run (after a restart, or another instance) publishes both: at least once.
    survivor = RecordingBus()
    assert await OutboxRelay(pg_db, survivor).drain() == 2
    assert [e.type for e in survivor.published] == ["user.created", "user.roles_changed"]
    assert await unsent(pg_db) == 0


async def test_concurrent_relays_share_the_work_and_publish_each_event_once(
    pg_db: PostgresDatabase, pg_repo: PostgresUserRepo
) -> None:
    for _ in range(30):
        await pg_repo.add_user(make_user())
    buses = [RecordingBus() for _ in range(3)]
    relays = [OutboxRelay(pg_db, bus, batch_size=4) for bus in buses]
    await asyncio.gather(*(relay.drain() for relay in relays))
    ids = [e.id for bus in buses for e in bus.published]
    assert len(ids) == 30
    assert len(set(ids)) == 30


@pytest.fixture
async def running_relay(pg_db: PostgresDatabase) -> AsyncIterator[tuple[OutboxRelay, RecordingBus]]:
    bus = RecordingBus()
    relay = OutboxRelay(pg_db, bus)
    await pg_db.migrate()
    relay.start()
    yield relay, bus
    await relay.aclose()


async def test_the_background_relay_is_woken_by_the_commit(
    running_relay: tuple[OutboxRelay, RecordingBus], pg_repo: PostgresUserRepo, pg_db: PostgresDatabase
) -> None:
    _, bus = running_relay
    async with bus.subscribe() as events:
        user = make_user()
        await pg_repo.add_user(user)
        # the poll interval is 2 s; the NOTIFY of the commit wakes the relay sooner, but either way it arrives
        event = await asyncio.wait_for(anext(events), timeout=10)
    assert event.type == "user.created"
    assert event.payload["user_id"] == user.id


def test_change_events_follow_what_changed() -> None:
    user = make_user(roles=[MEMBER])
    assert [e.type for e in change_events(None, user)] == ["user.created"]
    assert change_events(user, user.model_copy(update={"display_name": "x", "password_hash": "rehash"})) == []
    both = change_events(user, user.model_copy(update={"roles": [ADMIN], "disabled": True, "token_version": 2}))
    assert [e.type for e in both] == ["user.roles_changed", "user.disabled"]
    assert both[0].payload == {"user_id": user.id, "token_version": 2, "roles": [ADMIN]}
    revoked = change_events(user, user.model_copy(update={"token_version": 5}))
    assert [(e.type, e.payload["token_version"]) for e in revoked] == [("user.tokens_revoked", 5)]
