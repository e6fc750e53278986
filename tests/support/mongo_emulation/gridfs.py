"""A stand-in for ``AsyncGridFSBucket`` that keeps the GridFS layout of the spec in emulated collections:
``<bucket>.chunks`` (``files_id``, ``n``, ``data``) written first, chunk by chunk, then the ``<bucket>.files``
document (``length``, ``chunkSize``, ``uploadDate``, ``filename``, ``metadata``). A failure between chunks leaves
the written chunks behind without a files document, exactly what a real interrupted upload leaves; ``delete``
removes the files document and every chunk and raises NoFile when there was no files document."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bson import ObjectId
from bson.int64 import Int64
from gridfs.errors import CorruptGridFile, FileExists, NoFile

from tests.support.mongo_emulation.client import EmulatedDatabase

DEFAULT_CHUNK_SIZE = 255 * 1024


class EmulatedGridOut:
    """The part of ``AsyncGridOut`` in use: the file document's fields and ``read``."""

    def __init__(self, bucket: EmulatedGridFSBucket, file: dict[str, Any]) -> None:
        self._bucket = bucket
        self._file = file
        self._id = file["_id"]
        self.length = int(file["length"])
        self.metadata = file.get("metadata")
        self.filename = file.get("filename")

    async def read(self, size: int = -1) -> bytes:
        chunks = await self._bucket.chunks.find({"files_id": self._id}, sort=[("n", 1)]).to_list(None)
        expected = -(-self.length // int(self._file["chunkSize"]))
        if [c["n"] for c in chunks] != list(range(expected)):
            raise CorruptGridFile(f"missing chunk of file {self._id!r}")
        data = b"".join(bytes(c["data"]) for c in chunks)
        if len(data) != self.length:
            raise CorruptGridFile(f"file {self._id!r} has {len(data)} bytes, not {self.length}")
        return data if size < 0 else data[:size]


class EmulatedGridFSBucket:
    """An in-process stand-in for ``AsyncGridFSBucket(database, bucket_name=...)``."""

    def __init__(
        self, database: EmulatedDatabase, bucket_name: str = "fs", chunk_size_bytes: int = DEFAULT_CHUNK_SIZE
    ) -> None:
        self.files = database[f"{bucket_name}.files"]
        self.chunks = database[f"{bucket_name}.chunks"]
        self._chunk_size = chunk_size_bytes

    async def upload_from_stream_with_id(
        self,
        file_id: Any,
        filename: str,
        source: Any,
        chunk_size_bytes: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        data = source if isinstance(source, bytes | bytearray) else source.read()
        size = chunk_size_bytes or self._chunk_size
        if await self.files.find_one({"_id": file_id}, projection={"_id": 1}) is not None:
            raise FileExists(f"file with _id {file_id!r} already exists")
        for n, start in enumerate(range(0, len(data), size)):
            await self.chunks.insert_one({"files_id": file_id, "n": n, "data": bytes(data[start : start + size])})
        document: dict[str, Any] = {
            "_id": file_id,
            "length": Int64(len(data)),
            "chunkSize": size,
            "uploadDate": dt.datetime.now(dt.UTC),
            "filename": filename,
        }
        if metadata is not None:
            document["metadata"] = metadata
        await self.files.insert_one(document)

    async def upload_from_stream(
        self, filename: str, source: Any, chunk_size_bytes: int | None = None, metadata: dict[str, Any] | None = None
    ) -> ObjectId:
        file_id = ObjectId()
        await self.upload_from_stream_with_id(file_id, filename, source, chunk_size_bytes, metadata)
        return file_id

    async def open_download_stream(self, file_id: Any) -> EmulatedGridOut:
        file = await self.files.find_one({"_id": file_id})
        if file is None:
            raise NoFile(f"no file in gridfs collection {self.files.full_name!r} with _id {file_id!r}")
        return EmulatedGridOut(self, file)

    async def delete(self, file_id: Any) -> None:
        result = await self.files.delete_one({"_id": file_id})
        await self.chunks.delete_many({"files_id": file_id})
        if not result.deleted_count:
            raise NoFile(f"no file could be deleted because none matched {file_id}")
