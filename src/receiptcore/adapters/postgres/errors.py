"""Driver errors translated at the boundary: nothing from ``asyncpg`` leaves the PostgreSQL adapters.

``StorageUnavailable`` (503 + Retry-After at the HTTP layer) for anything that means "the database cannot do
this now": refused or dropped connections, timeouts, a server shutting down, a full pool, and any other server
error. Integrity violations are left to the calling adapter, which alone knows which ``Conflict`` they mean.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import asyncpg

from receiptcore.errors import StorageUnavailable

# What a statement or a connection attempt can raise that is not our own error. InternalClientError: what asyncpg
# raises when the server terminates a connection in the middle of an operation on it.
DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)


def unavailable(exc: BaseException, where: str = "") -> StorageUnavailable:
    """The StorageUnavailable for a driver error; the message names the error class and ``where`` (host, port,
    database), never the DSN with its credentials."""
    sqlstate = getattr(exc, "sqlstate", None)
    code = f" (SQLSTATE {sqlstate})" if sqlstate else ""
    at = f" at {where}" if where else ""
    return StorageUnavailable(f"PostgreSQL{at} is unavailable: {exc.__class__.__name__}{code}")


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Turn driver errors inside the block into StorageUnavailable; integrity violations pass through."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError:
        raise
    except DRIVER_ERRORS as exc:
        raise unavailable(exc) from exc
