"""An in-process emulation of the part of PyMongo's async API that MongoReceiptStore uses: a **stand-in** for a
MongoDB server, used by the test suites only when ``RECEIPTCORE_TEST_MONGO_URL`` names no real server (none can be
installed on the development machines).

Why our own and not mongomock: mongomock is synchronous (every call and cursor would need an async facade), has no
``AsyncGridFSBucket``, and its last release predates PyMongo's async API; the store uses a small, fixed set of
operations, and an emulation of exactly those can be kept faithful where it matters here (BSON round trips,
Decimal128 comparison and ``$sum``, null-versus-missing, type-bracketed range operators, unique indexes raising
``DuplicateKeyError``, ``find_one_and_update`` atomicity, the GridFS chunk layout). What it cannot check is listed
in docs/operations.md (MongoDB section): query plans and index use, write concerns, replica-set failover, the
TTL monitor's timing, server-side regex dialect differences beyond escaped literals.
"""

from tests.support.mongo_emulation.client import EmulatedDatabase, EmulatedMongoClient
from tests.support.mongo_emulation.collection import EmulatedCollection, EmulatedCursor
from tests.support.mongo_emulation.gridfs import EmulatedGridFSBucket
from tests.support.mongo_emulation.semantics import UnsupportedByEmulation

__all__ = [
    "EmulatedCollection",
    "EmulatedCursor",
    "EmulatedDatabase",
    "EmulatedGridFSBucket",
    "EmulatedMongoClient",
    "UnsupportedByEmulation",
]
