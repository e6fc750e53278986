"""MongoConfig: the settings of the MongoDB adapter, and nothing else (no ``Settings`` in here).

Kept free of the driver import so that the composition root can build it without the ``mongo`` extra.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_DATABASE = "receiptcore"


@dataclass(frozen=True, slots=True)
class MongoConfig:
    """What the MongoDB adapter needs, and nothing else.

    Attributes:
        url: the ``mongodb://`` or ``mongodb+srv://`` connection string (credentials, replica set, TLS options).
        database: the database holding the receipts; None: the one named in the URL path, else ``receiptcore``.
        timeout_seconds: how long one operation waits for a usable server (server selection) and for a new
            connection before it fails with StorageUnavailable (503 + Retry-After at the HTTP layer).
        idempotency_ttl_seconds: how long an ``Idempotency-Key`` outcome is remembered (a TTL index removes
            older records; MongoDB's TTL monitor runs about once a minute, so a record may outlive it briefly).
    """

    url: str
    database: str | None = None
    timeout_seconds: float = 5.0
    idempotency_ttl_seconds: int = 7 * 86400
