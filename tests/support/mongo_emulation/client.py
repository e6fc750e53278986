"""Stand-ins for ``AsyncMongoClient`` and ``AsyncDatabase``: databases by name, collections by name, ``command``
for ``ping`` and ``collMod``, ``drop_database``, ``close``; a ``clock`` the TTL emulation reads (tests may move it)
and an ``unreachable`` switch that makes every operation fail like a server that cannot be selected."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

from bson.codec_options import CodecOptions
from pymongo.errors import InvalidOperation, OperationFailure, ServerSelectionTimeoutError

from tests.support.mongo_emulation.collection import EmulatedCollection
from tests.support.mongo_emulation.semantics import UnsupportedByEmulation


class EmulatedMongoClient:
    """An in-process stand-in for ``AsyncMongoClient(..., tz_aware=True)``."""

    def __init__(self, *, tz_aware: bool = True, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.codec_options: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=tz_aware, tzinfo=dt.UTC)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.unreachable = False
        self.closed = False
        self._databases: dict[str, EmulatedDatabase] = {}

    def get_database(self, name: str) -> EmulatedDatabase:
        if self.closed:
            raise InvalidOperation("Cannot use AsyncMongoClient after close")
        return self._databases.setdefault(name, EmulatedDatabase(self, name))

    def __getitem__(self, name: str) -> EmulatedDatabase:
        return self.get_database(name)

    async def drop_database(self, name: str) -> None:
        await asyncio.sleep(0)
        self._databases.pop(name, None)

    async def close(self) -> None:
        self.closed = True


class EmulatedDatabase:
    """An in-process stand-in for ``AsyncDatabase``."""

    def __init__(self, client: EmulatedMongoClient, name: str) -> None:
        self.client = client
        self.name = name
        self._collections: dict[str, EmulatedCollection] = {}

    def get_collection(self, name: str) -> EmulatedCollection:
        return self._collections.setdefault(name, EmulatedCollection(self, name))

    def __getitem__(self, name: str) -> EmulatedCollection:
        return self.get_collection(name)

    async def list_collection_names(self) -> list[str]:
        await asyncio.sleep(0)
        return sorted(self._collections)

    async def command(self, name: str, value: Any = 1, **fields: Any) -> dict[str, Any]:
        await asyncio.sleep(0)
        if self.client.unreachable:
            raise ServerSelectionTimeoutError("emulated MongoDB is unreachable (test switch), Timeout: 0.2s")
        if name == "ping":
            return {"ok": 1.0}
        if name == "collMod":
            index = fields.get("index") or {}
            if value not in self._collections:
                raise OperationFailure(f"ns does not exist: {self.name}.{value}", code=26)
            self._collections[value].modify_index(index["name"], index["expireAfterSeconds"])
            return {"ok": 1.0}
        raise UnsupportedByEmulation(f"command {name}")
