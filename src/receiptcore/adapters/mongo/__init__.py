"""MongoDB adapters (the ``mongo`` extra, PyMongo's ``AsyncMongoClient``): receipts and their original files.

Importing this package without PyMongo installed raises ConfigurationError naming the extra to install.
"""

try:
    import pymongo  # noqa: F401 - only to turn a missing extra into a one-line message
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test without pymongo on the path
    from receiptcore.errors import ConfigurationError

    raise ConfigurationError("RECEIPTCORE_MONGO_URL needs the mongo extra: pip install 'receiptcore[mongo]'") from exc

from receiptcore.adapters.mongo.connection import MongoConfig, MongoConnection
from receiptcore.adapters.mongo.receipt_store import MongoReceiptStore

__all__ = ["MongoConfig", "MongoConnection", "MongoReceiptStore"]
