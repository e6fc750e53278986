"""SQLite adapters of the embedded profile: users, roles, refresh tokens and receipts in one database file."""

from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.receipt_store import SqliteReceiptStore
from receiptcore.adapters.sqlite.throttle_store import SqliteThrottleStore
from receiptcore.adapters.sqlite.user_repo import SqliteUserRepo

__all__ = ["SqliteDatabase", "SqliteReceiptStore", "SqliteThrottleStore", "SqliteUserRepo"]
