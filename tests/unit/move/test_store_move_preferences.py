"""``receiptcore move`` carries each user's preferences (issue 12: the default currency), and a preference changed
in the source after a first run is copied by the next one; verification notices a target that differs."""

from __future__ import annotations

from receiptcore.adapters.memory import MemoryReceiptStore, MemoryUserRepo
from receiptcore.services.store_move import StoreMove, Stores
from tests.factories import USER_T0, make_user


async def test_the_default_currency_moves_with_the_user_and_a_later_change_follows() -> None:
    source, target = Stores(MemoryUserRepo(), MemoryReceiptStore()), Stores(MemoryUserRepo(), MemoryReceiptStore())
    chooser, follower = make_user(default_currency="CHF"), make_user()
    for user in (chooser, follower):
        await source.users.add_user(user)
    move = StoreMove(source, target)
    await move.run()
    assert (await target.users.get_user(chooser.id)).default_currency == "CHF"
    assert (await target.users.get_user(follower.id)).default_currency is None
    assert (await move.verify()).ok

    await source.users.save_user(chooser.with_default_currency("NOK", USER_T0))
    report = await move.run()
    assert report.copied["users"] == 1
    assert (await target.users.get_user(chooser.id)).default_currency == "NOK"

    await target.users.save_user(follower.with_default_currency("USD", USER_T0))
    verification = await move.verify()
    assert not verification.ok
    assert f"user {follower.id} missing or different" in verification.problems
