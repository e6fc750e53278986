"""The MongoDB connection of the receipt store: the client's life cycle, and the one place where driver errors
become core errors.

``AsyncMongoClient`` (PyMongo ≥ 4.10; Motor is deprecated) does no I/O when it is built: it connects in the
background on first use, so a receipt API starts while MongoDB is still down, reports itself not ready, and
recovers without a restart. ``MongoConnection.aclose`` closes the client's pools on shutdown.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bson.errors import BSONError
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    ConfigurationError as DriverConfigurationError,
)
from pymongo.errors import (
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
)

from receiptcore.adapters.mongo.config import DEFAULT_DATABASE, MongoConfig
from receiptcore.errors import ConfigurationError, StorageUnavailable


class MongoConnection:
    """One ``AsyncMongoClient`` and the receipt database, opened from a ``MongoConfig``.

    Raises ConfigurationError (one line, never the URL itself: it may hold a password) for a URL or option the
    driver refuses.
    """

    def __init__(self, config: MongoConfig) -> None:
        self.config = config
        try:
            self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
                config.url,
                serverSelectionTimeoutMS=int(config.timeout_seconds * 1000),
                connectTimeoutMS=int(config.timeout_seconds * 1000),
                tz_aware=True,
                appname="receiptcore",
            )
        except (DriverConfigurationError, ValueError, TypeError) as exc:
            raise ConfigurationError(f"RECEIPTCORE_MONGO_URL is not usable: {_first_line(exc)}") from exc
        default = self.client.get_default_database(DEFAULT_DATABASE)
        self.database: AsyncDatabase[dict[str, Any]] = (
            self.client.get_database(config.database) if config.database else default
        )

    async def aclose(self) -> None:
        """Close the client's connection pools and monitors. Safe to call twice."""
        await self.client.close()


@contextmanager
def translated(action: str, *, keep: tuple[type[PyMongoError], ...] = ()) -> Iterator[None]:
    """Turn any PyMongo error raised inside into ``StorageUnavailable`` (no driver exception leaves the adapter),
    except the types in ``keep``, which the caller catches itself (``DuplicateKeyError`` means ``Conflict``).

    An unreachable server (server selection timeout, lost connection, network timeout) and a refused operation
    (authentication, authorisation, a server-side failure) all mean the receipt store cannot serve the request:
    both are 503 + Retry-After for clients and "not ready" for the readiness probe.
    """
    try:
        yield
    except keep:
        raise
    except ConnectionFailure as exc:
        raise StorageUnavailable(f"MongoDB cannot be reached ({action})") from exc
    except OperationFailure as exc:
        raise StorageUnavailable(f"MongoDB refused to {action} (code {exc.code})") from exc
    except (PyMongoError, BSONError) as exc:
        raise StorageUnavailable(f"MongoDB failed to {action}: {type(exc).__name__}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
