"""``receiptcore move``: an embedded data dir into PostgreSQL + MongoDB (issue 7, "outgrowing one machine").

PostgreSQL is this machine's real server, a fresh database per test (tests/servers.py). MongoDB is a real server
when RECEIPTCORE_TEST_MONGO_URL is set, else the in-process emulation of ``AsyncMongoClient``
(tests/support/mongo_emulation, a stand-in): the parameter id, ``mongo:server`` or ``mongo:emulated``, puts which in
every test's name. The source is a real data dir (SQLite file and content-addressed files) filled through the
adapters; after every run its files are compared byte for byte with a listing taken before.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from pymongo.errors import AutoReconnect

from receiptcore.adapters.mongo import connection as mongo_connection
from receiptcore.adapters.mongo import receipt_store as mongo_store
from receiptcore.adapters.mongo.receipt_documents import FILES_BUCKET
from receiptcore.adapters.mongo.receipt_documents import RECEIPTS as RECEIPTS_COLLECTION
from receiptcore.adapters.sqlite.checkpoints import Checkpointer
from receiptcore.domain.policy import Scope
from receiptcore.domain.queries import ReceiptQuery
from receiptcore.domain.users import ADMIN, Role
from receiptcore.entrypoints import cli_move
from receiptcore.entrypoints.cli_common import open_container
from receiptcore.settings import Settings
from tests.cli.conftest import Invoke, assert_one_line_error
from tests.factories import make_user, unique_png
from tests.servers import postgres_url
from tests.support.mongo_emulation import EmulatedGridFSBucket, EmulatedMongoClient
from tests.support.mongo_fixtures import MONGO_ID, MONGO_URL, requires_emulation
from tests.unit.move.builders import rich_receipt

__all__ = ["postgres_url"]  # the fixture, imported for pytest

RECEIPTS = 7
EVERYONE = Scope.everyone()


class _EmulatedConnection:
    """What ``MongoConnection`` needs of an ``AsyncMongoClient``, on one emulated server shared by every run of a
    test (each run opens and closes its own client, as separate processes would)."""

    def __init__(self, server: EmulatedMongoClient, url: str) -> None:
        self._server = server
        self._url = url
        self._closed = False

    def get_default_database(self, default: str) -> Any:
        return self._server.get_database(urlsplit(self._url).path.lstrip("/") or default)

    def get_database(self, name: str) -> Any:
        return self._server.get_database(name)

    async def close(self) -> None:
        self._closed = True


@dataclass
class Mongo:
    """The Mongo target of one test: its URL and, on the emulation, the emulated server (for fault injection)."""

    url: str
    database: str
    emulated: EmulatedMongoClient | None


@pytest.fixture(params=[MONGO_ID])
def mongo(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mongo]:
    name = f"rc_move_{uuid.uuid4().hex[:12]}"
    if MONGO_URL:
        parts = urlsplit(MONGO_URL)
        yield Mongo(urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, "")), name, None)
        _drop_real_database(name)
        return
    server = EmulatedMongoClient()
    monkeypatch.setattr(mongo_connection, "AsyncMongoClient", lambda url, **_options: _EmulatedConnection(server, url))
    monkeypatch.setattr(
        mongo_store,
        "AsyncGridFSBucket",
        lambda database, bucket_name: EmulatedGridFSBucket(database, bucket_name=bucket_name, chunk_size_bytes=1024),
    )
    yield Mongo(f"mongodb://mongo.emulated:27017/{name}", name, server)


def _drop_real_database(name: str) -> None:
    from pymongo import MongoClient

    assert MONGO_URL is not None
    with MongoClient(MONGO_URL, serverSelectionTimeoutMS=5000) as client:
        client.drop_database(name)


@dataclass
class Source:
    """The embedded install to move: its data dir and what was put in it."""

    data_dir: Path
    user_emails: list[str]
    receipt_ids: list[str]
    sha256: dict[str, str]


def _fill(data_dir: Path) -> Source:
    """Two users, a custom role, RECEIPTS receipts (attempts, outputs, corrections) with real PNG files, one file
    shared by two owners (the SQLite store keeps it once; MongoDB once per receipt)."""

    async def fill() -> Source:
        async with open_container(Settings(data_dir=data_dir), require_store=False) as container:
            users, store = container.user_repo(), container.receipt_store()
            admin, member = make_user("admin@localhost", roles=[ADMIN]), make_user("member@example.org")
            for user in (admin, member):
                await users.add_user(user)
            await users.add_role(Role(name="bookkeeper", permissions=frozenset({"receipts:read:any"})))
            ids, shas = [], {}
            for seed in range(RECEIPTS):
                owner = (admin, member)[seed % 2]
                # the last receipt (the admin's) has the bytes of the member's second one
                content = unique_png(1000 + seed if seed < RECEIPTS - 1 else 1001)
                receipt, content = rich_receipt(owner.id, seed, content)
                stored, created = await store.add(receipt, content)
                assert created, "the source must hold every receipt"
                ids.append(stored.id)
                shas[stored.id] = hashlib.sha256(content).hexdigest()
            return Source(data_dir, [admin.email, member.email], ids, shas)

    return asyncio.run(fill())


def _listing(directory: Path) -> dict[str, str]:
    """Every file below ``directory`` (links as their target) with its SHA-256: the "byte-identical" check."""
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def source(data_dir: Path) -> Source:
    return _fill(data_dir)


def _move(invoke: Invoke, postgres: str, mongo: Mongo, *extra: str) -> Any:
    return invoke("move", "--to-postgres", postgres, "--to-mongo", mongo.url, *extra)


async def _target_counts(postgres: str, mongo: Mongo) -> dict[str, int]:
    settings = Settings(data_dir=Path("unused"), postgres_url=postgres, mongo_url=mongo.url)
    async with open_container(settings) as container:
        users, store = container.user_repo(), container.receipt_store()
        listed = await store.list(ReceiptQuery(limit=100), EVERYONE)
        database = container.mongo().database
        return {
            "users": await users.count_users(),
            "roles": len(await users.list_roles()),
            "receipts": len(listed.items),
            "receipt_documents": await database[RECEIPTS_COLLECTION].count_documents({}),
            "gridfs_files": await database[f"{FILES_BUCKET}.files"].count_documents({}),
        }


async def _target_receipt(postgres: str, mongo: Mongo, receipt_id: str) -> tuple[Any, bytes]:
    settings = Settings(data_dir=Path("unused"), postgres_url=postgres, mongo_url=mongo.url)
    async with open_container(settings) as container:
        store = container.receipt_store()
        receipt = await store.get(receipt_id, EVERYONE)
        _meta, content = await store.open_file(receipt_id, EVERYONE)
        return receipt, content


def test_a_full_move_copies_users_roles_receipts_and_files_and_verifies_every_sha256(
    invoke: Invoke, source: Source, postgres_url: str, mongo: Mongo
) -> None:
    before = _listing(source.data_dir)
    moved = _move(invoke, postgres_url, mongo)
    assert moved.exit_code == 0, moved.output
    assert f"copied 2 users, 1 role, {RECEIPTS} receipts (0 already there)" in moved.stdout
    assert f"users 2/2, roles 1/1, receipts {RECEIPTS}/{RECEIPTS}" in moved.stdout
    assert f"{RECEIPTS} files' SHA-256 match" in moved.stdout
    assert "receipts and files" in moved.stderr  # the progress bar's phase, on stderr
    assert "signs in again" in moved.stderr
    assert "mongo.emulated" in moved.stdout or mongo.emulated is None
    assert mongo.database in moved.stdout
    counts = asyncio.run(_target_counts(postgres_url, mongo))
    assert counts == {
        "users": 2,
        "roles": 1,
        "receipts": RECEIPTS,
        "receipt_documents": RECEIPTS,
        "gridfs_files": RECEIPTS,  # the shared bytes once per receipt in MongoDB
    }
    receipt, content = asyncio.run(_target_receipt(postgres_url, mongo, source.receipt_ids[3]))
    assert hashlib.sha256(content).hexdigest() == source.sha256[receipt.id]
    assert receipt.extraction_attempts[-1].output is not None  # whole, not the listing's summary
    assert receipt.extracted is not None
    assert receipt.corrections
    # the users sign in on PostgreSQL with their old password hashes: the same accounts
    listed = invoke("users", "list", "--json")
    assert listed.exit_code == 0, listed.output  # still the data dir (nothing in the environment changed)
    assert _listing(source.data_dir) == before


def test_after_the_move_a_person_signs_in_on_postgresql_with_the_old_password_and_finds_their_receipts(
    invoke: Invoke, source: Source, postgres_url: str, mongo: Mongo, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "an old password of 30 characters"
    created = invoke("users", "create", "late@example.org", "--password-stdin", input=password)
    assert created.exit_code == 0, created.output
    assert _move(invoke, postgres_url, mongo).exit_code == 0

    async def sign_in_on_the_new_stores() -> tuple[str, int]:
        settings = Settings(data_dir=Path("unused"), postgres_url=postgres_url, mongo_url=mongo.url)
        async with open_container(settings) as container:
            session = await container.auth_service().login("late@example.org", password)
            member = await container.user_repo().find_user_by_email("member@example.org")
            assert member is not None
            owned = await container.receipt_store().list(ReceiptQuery(limit=100), Scope.only(member.id))
            return session.user.email, len(owned.items)

    email, owned = asyncio.run(sign_in_on_the_new_stores())
    assert email == "late@example.org"
    assert owned == RECEIPTS // 2  # the member owns every second receipt
    # `users list` on the new profile shows the moved accounts
    monkeypatch.setenv("RECEIPTCORE_POSTGRES_URL", postgres_url)
    listed = invoke("users", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert sorted(u["email"] for u in json.loads(listed.stdout)) == sorted([*source.user_emails, "late@example.org"])


def test_running_the_move_again_copies_nothing_and_still_verifies(
    invoke: Invoke, source: Source, postgres_url: str, mongo: Mongo
) -> None:
    before = _listing(source.data_dir)
    assert _move(invoke, postgres_url, mongo).exit_code == 0
    again = _move(invoke, postgres_url, mongo)
    assert again.exit_code == 0, again.output
    assert f"copied 0 users, 0 roles, 0 receipts ({2 + 1 + RECEIPTS} already there)" in again.stdout
    assert f"receipts {RECEIPTS}/{RECEIPTS}" in again.stdout
    verified = _move(invoke, postgres_url, mongo, "--verify-only")
    assert verified.exit_code == 0, verified.output
    assert "copied" not in verified.stdout
    assert asyncio.run(_target_counts(postgres_url, mongo))["gridfs_files"] == RECEIPTS
    assert _listing(source.data_dir) == before


@requires_emulation
def test_writes_still_in_the_wal_of_an_open_database_are_moved_and_the_wal_is_left_as_it_was(
    invoke: Invoke, source: Source, postgres_url: str, mongo: Mongo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a running server's recent writes are in receiptcore.sqlite3-wal, not yet in the main file (its checkpoint
    # thread copies them back only past CHECKPOINT_PAGES). Here another connection holds the database open, so
    # SQLite does not checkpoint when the writing container closes, and that container's last checkpoint (the
    # one its checkpoint thread takes on close) is left out: what it wrote stays in the WAL, as a server's does
    monkeypatch.setattr(Checkpointer, "_final", Checkpointer._drop)
    holder = sqlite3.connect(source.data_dir / "receiptcore.sqlite3")
    try:
        holder.execute("SELECT COUNT(*) FROM schema_migrations").fetchall()

        async def write_late() -> str:
            async with open_container(Settings(data_dir=source.data_dir)) as container:
                owner = await container.user_repo().find_user_by_email("member@example.org")
                assert owner is not None
                await container.user_repo().add_role(Role(name="late", permissions=frozenset({"receipts:read"})))
                receipt, content = rich_receipt(owner.id, 99, unique_png(99))
                await container.receipt_store().add(receipt, content)
                return receipt.id

        late = asyncio.run(write_late())
        assert (source.data_dir / "receiptcore.sqlite3-wal").stat().st_size > 0
        before = _listing(source.data_dir)
        moved = _move(invoke, postgres_url, mongo)
        assert moved.exit_code == 0, moved.output
        assert f"roles 2/2, receipts {RECEIPTS + 1}/{RECEIPTS + 1}" in moved.stdout
        copied, _content = asyncio.run(_target_receipt(postgres_url, mongo, late))
        assert copied.id == late
        assert _listing(source.data_dir) == before
    finally:
        holder.close()


def test_a_database_that_keeps_changing_while_it_is_copied_is_refused(
    invoke: Invoke, source: Source, postgres_url: str, mongo: Mongo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_move, "_copy_database", lambda _data_dir, _root: False)  # a writer at every try
    refused = _move(invoke, postgres_url, mongo)
    assert_one_line_error(refused, contains="kept changing while it was read: stop `receiptcore serve`")
    assert asyncio.run(_target_counts(postgres_url, mongo))["users"] == 0


def test_a_move_interrupted_by_a_lost_mongodb_connection_resumes_with_no_duplicate_on_mongo_emulation(
    invoke: Invoke, source: Source, postgres_url: str, mongo: Mongo
) -> None:
    before = _listing(source.data_dir)
    assert mongo.emulated is not None
    receipts = mongo.emulated.get_database(mongo.database)[RECEIPTS_COLLECTION]
    receipts.fail_next("insert_one", AutoReconnect("connection reset by peer"), after_calls=3)
    broken = _move(invoke, postgres_url, mongo)
    assert_one_line_error(broken, contains="MongoDB cannot be reached")
    assert "run the same command again" in broken.output
    partial = asyncio.run(_target_counts(postgres_url, mongo))
    assert partial["users"] == 2
    assert partial["receipts"] == 3
    assert partial["gridfs_files"] == 3  # the fourth file's upload was taken back: both or neither
    resumed = _move(invoke, postgres_url, mongo)
    assert resumed.exit_code == 0, resumed.output
    assert f"copied 0 users, 0 roles, {RECEIPTS - 3} receipts (6 already there)" in resumed.stdout
    counts = asyncio.run(_target_counts(postgres_url, mongo))
    assert counts["receipts"] == counts["receipt_documents"] == counts["gridfs_files"] == RECEIPTS
    again = _move(invoke, postgres_url, mongo)
    assert "copied 0 users, 0 roles, 0 receipts" in again.stdout
    assert _listing(source.data_dir) == before


def test_a_move_stopped_with_ctrl_c_after_two_receipts_resumes_where_it_stopped(
    invoke: Invoke, source: Source, postgres_url: str, mongo: Mongo, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _listing(source.data_dir)
    shown = cli_move._Bar.__call__

    def ctrl_c_after_two(bar: Any, phase: str, done: int, total: int) -> None:
        shown(bar, phase, done, total)
        if phase == "receipts" and done == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli_move._Bar, "__call__", ctrl_c_after_two)
    stopped = _move(invoke, postgres_url, mongo)
    assert_one_line_error(stopped, contains="interrupted; run the same command again")
    assert asyncio.run(_target_counts(postgres_url, mongo))["receipts"] == 2
    monkeypatch.setattr(cli_move._Bar, "__call__", shown)
    resumed = _move(invoke, postgres_url, mongo)
    assert resumed.exit_code == 0, resumed.output
    assert f"{RECEIPTS - 2} receipts (5 already there)" in resumed.stdout
    counts = asyncio.run(_target_counts(postgres_url, mongo))
    assert counts["receipts"] == counts["gridfs_files"] == RECEIPTS
    assert _listing(source.data_dir) == before


def test_a_receipt_changed_in_the_data_dir_after_it_was_moved_is_reported_not_overwritten(
    invoke: Invoke, source: Source, postgres_url: str, mongo: Mongo
) -> None:
    assert _move(invoke, postgres_url, mongo).exit_code == 0
    changed_id = source.receipt_ids[2]

    async def use_the_old_server_again() -> None:
        async with open_container(Settings(data_dir=source.data_dir)) as container:
            store = container.receipt_store()
            receipt = await store.get(changed_id, EVERYONE)
            await store.update(receipt.model_copy(update={"notes": "changed after the move"}), receipt.version)

    asyncio.run(use_the_old_server_again())
    again = _move(invoke, postgres_url, mongo)
    assert_one_line_error(again, contains="the targets do not match data dir")
    assert f"problem: receipt {changed_id} differs in the target" in again.stderr
    moved, _content = asyncio.run(_target_receipt(postgres_url, mongo, changed_id))
    assert moved.notes != "changed after the move"  # the target's copy is left alone


def test_a_target_holding_another_install_is_refused_before_anything_is_written(
    invoke: Invoke, source: Source, postgres_url: str, mongo: Mongo
) -> None:
    async def start_new_services_first() -> None:
        # what a first start of the new auth service does: it creates its own admin@localhost
        settings = Settings(data_dir=Path("unused"), postgres_url=postgres_url, mongo_url=mongo.url)
        async with open_container(settings) as container:
            await container.user_repo().add_user(make_user("admin@localhost", roles=[ADMIN]))

    asyncio.run(start_new_services_first())
    refused = _move(invoke, postgres_url, mongo)
    assert_one_line_error(refused, contains="the target is not empty: it holds 1 user (admin@localhost)")
    counts = asyncio.run(_target_counts(postgres_url, mongo))
    assert (counts["users"], counts["roles"], counts["receipts"], counts["gridfs_files"]) == (1, 0, 0, 0)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to-mongo", "mongodb://127.0.0.1:1/x"], "move needs both targets: pass --to-postgres"),
        (["--to-postgres", "postgresql://127.0.0.1/x"], "move needs both targets: pass --to-mongo"),
        (["--to-postgres", "mysql://db/x", "--to-mongo", "mongodb://h/x"], "--to-postgres is not a postgresql://"),
        (["--to-postgres", "postgresql://h:port/x", "--to-mongo", "mongodb://h/x"], "--to-postgres is not a valid"),
        (["--to-postgres", "postgresql://h/x", "--to-mongo", "http://h/x"], "--to-mongo is not a mongodb://"),
        (["--to-postgres", "postgresql://h/x", "--to-mongo", "mongodb:///x"], "--to-mongo is not a mongodb://"),
    ],
)
def test_bad_or_missing_urls_are_one_line_errors(invoke: Invoke, source: Source, args: list[str], message: str) -> None:
    before = _listing(source.data_dir)
    assert_one_line_error(invoke("move", *args), contains=message)
    assert _listing(source.data_dir) == before


def test_an_unreachable_postgresql_is_one_line_naming_host_and_port_without_the_password(
    invoke: Invoke, source: Source, mongo: Mongo
) -> None:
    port = _closed_port()
    result = invoke(
        "move", "--to-postgres", f"postgresql://rc:s3cret-pw@127.0.0.1:{port}/vault", "--to-mongo", mongo.url
    )
    assert_one_line_error(result, contains=f"PostgreSQL at 127.0.0.1:{port}/vault is unavailable")
    assert "s3cret-pw" not in result.output


def test_an_unreachable_mongodb_is_one_line_after_a_short_wait(
    invoke: Invoke, source: Source, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECEIPTCORE_MONGO_TIMEOUT_SECONDS", "0.3")
    url = f"mongodb://127.0.0.1:{_closed_port()}/vault?directConnection=true"
    result = invoke("move", "--to-postgres", postgres_url, "--to-mongo", url)
    assert_one_line_error(result, contains="MongoDB cannot be reached")


def test_the_urls_come_from_the_settings_when_no_option_names_them_and_no_extractor_is_built(
    invoke: Invoke, source: Source, postgres_url: str, mongo: Mongo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECEIPTCORE_POSTGRES_URL", postgres_url)
    monkeypatch.setenv("RECEIPTCORE_MONGO_URL", mongo.url)
    # the settings of the new topology may name an LLM extractor whose key only the workers hold
    monkeypatch.setenv("RECEIPTCORE_EXTRACTOR", "anthropic")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    moved = invoke("move")
    assert moved.exit_code == 0, moved.output
    assert f"receipts {RECEIPTS}/{RECEIPTS}" in moved.stdout


def test_a_data_dir_without_a_store_is_one_line_naming_it(invoke: Invoke, data_dir: Path, postgres_url: str) -> None:
    result = invoke("move", "--to-postgres", postgres_url, "--to-mongo", "mongodb://127.0.0.1:1/x")
    assert_one_line_error(result, contains=f"no receiptcore database in data dir {data_dir.resolve()}")
    assert not data_dir.exists()


def test_the_summary_names_no_password(invoke: Invoke, source: Source, postgres_url: str, mongo: Mongo) -> None:
    parts = urlsplit(postgres_url)
    with_password = urlunsplit((parts.scheme, f"postgres:unused-pw@{parts.netloc.split('@')[-1]}", parts.path, "", ""))
    moved = _move(invoke, with_password, mongo)
    assert moved.exit_code == 0, moved.output
    assert "unused-pw" not in moved.output
