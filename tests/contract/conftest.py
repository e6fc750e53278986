"""The adapters every contract test runs against: each fixture yields one per parameter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from receiptcore.adapters.memory.receipt_store import MemoryReceiptStore
from receiptcore.adapters.memory.user_repo import MemoryUserRepo
from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.receipt_store import SqliteReceiptStore
from receiptcore.adapters.sqlite.user_repo import SqliteUserRepo
from receiptcore.ports import ReceiptStore, UserRepo


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ReceiptStore]:
    if request.param == "memory":
        yield MemoryReceiptStore()
        return
    db = SqliteDatabase(tmp_path / "receipts.sqlite3")
    yield SqliteReceiptStore(db, tmp_path / "files")
    await db.aclose()


@pytest.fixture(params=["memory", "sqlite"])
async def repo(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UserRepo]:
    if request.param == "memory":
        yield MemoryUserRepo()
        return
    db = SqliteDatabase(tmp_path / "users.sqlite3")
    yield SqliteUserRepo(db)
    await db.aclose()
