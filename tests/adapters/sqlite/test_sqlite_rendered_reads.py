"""``SqliteReceiptStore.get_rendered`` (ports.RenderedReceiptReader): the kept list item of one receipt is
``projection.render`` of the stored receipt, read inside the caller's scope, and only under the projection's key."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.receipt_store import SqliteReceiptStore
from receiptcore.domain.policy import Scope
from receiptcore.entrypoints.http.representation import API_LISTING
from receiptcore.errors import NotFound
from tests.factories import make_receipt


async def test_the_kept_rendering_is_the_rendering_of_the_stored_receipt(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "r.sqlite3")
    store = SqliteReceiptStore(db, tmp_path / "files", projection=API_LISTING)
    receipt, content = make_receipt()
    await store.add(receipt, content)
    scope = Scope.only(receipt.owner_id)
    try:
        stored = await store.get(receipt.id, scope)
        assert await store.get_rendered(receipt.id, scope, API_LISTING) == (API_LISTING.render(stored), 1)
        with pytest.raises(NotFound):  # another owner's receipt is not found, as get
            await store.get_rendered(receipt.id, Scope.only("someone-else"), API_LISTING)
        with pytest.raises(NotFound):
            await store.get_rendered("0b5d8f4e-2a4c-4c55-9d87-4e5b8d1c2f30", scope, API_LISTING)
        assert await store.get_rendered(receipt.id, Scope.everyone(), API_LISTING) is not None
    finally:
        await db.aclose()


async def test_no_rendering_under_another_key_or_none_kept(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "r.sqlite3")
    store = SqliteReceiptStore(db, tmp_path / "files", projection=API_LISTING)
    plain = SqliteReceiptStore(db, tmp_path / "files")  # keeps no renderings
    receipt, content = make_receipt()
    await plain.add(receipt, content)
    scope = Scope.only(receipt.owner_id)
    try:
        assert await store.get_rendered(receipt.id, scope, API_LISTING) is None
        await db.execute("UPDATE receipts SET listing = x'7b7d', listing_key = 'api-older' WHERE id = ?", (receipt.id,))
        assert await store.get_rendered(receipt.id, scope, API_LISTING) is None
    finally:
        await db.aclose()
