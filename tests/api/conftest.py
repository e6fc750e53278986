"""API test fixtures: a real container (SQLite under tmp_path, or memory adapters), a scripted extractor instead
of OCR, cheap Argon2 parameters, the app behind Litestar's AsyncTestClient, and helpers to sign people in and to
make small real images and PDFs with Pillow."""

from __future__ import annotations

import io
import secrets
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient
from PIL import Image

from receiptcore.adapters.memory.extractor import MemoryExtractor
from receiptcore.adapters.security import Argon2PasswordHasher
from receiptcore.entrypoints.container import Container, build_container
from receiptcore.entrypoints.http.app import create_app
from receiptcore.settings import Settings

ADMIN_EMAIL = "admin@example.com"
PASSWORD = "correct horse battery staple 42"
MAX_UPLOAD = 64 * 1024
MAX_FILES = 3


def make_settings(data_dir: Path | str, **overrides: Any) -> Settings:
    """Test settings: small upload caps so the 413 paths are cheap to reach; no .env file."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "max_upload_bytes": MAX_UPLOAD,
        "max_files_per_upload": MAX_FILES,
        "max_image_pixels": 1_000_000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def make_container(settings: Settings, extractor: MemoryExtractor | None = None) -> Container:
    """A container with the scripted extractor and cheap password hashing."""
    container = build_container(settings)
    container.extractor.override(providers.Object(extractor or MemoryExtractor()))
    container.hasher.override(providers.Object(Argon2PasswordHasher(memory_cost=8, time_cost=1, parallelism=1)))
    return container


@dataclass
class Api:
    """The client plus the container behind it, with sign-in helpers."""

    client: AsyncTestClient[Any]
    container: Container
    settings: Settings

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, str]:
        """Log in and return the Authorization header."""
        response = await self.client.post("/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def admin(self) -> dict[str, str]:
        """Headers of the admin (created on first use)."""
        users = self.container.user_service()
        if await self.container.user_repo().find_user_by_email(ADMIN_EMAIL) is None:
            await users.create_admin(ADMIN_EMAIL, PASSWORD)
        return await self.login(ADMIN_EMAIL)

    async def user(self, roles: list[str] | None = None, email: str | None = None) -> tuple[str, dict[str, str]]:
        """Create a user through the API (as admin); return (user id, their headers)."""
        email = email or f"u-{secrets.token_hex(4)}@example.com"
        response = await self.client.post(
            "/users",
            json={"email": email, "password": PASSWORD, "roles": roles or ["member"]},
            headers=await self.admin(),
        )
        assert response.status_code == 201, response.text
        return response.json()["id"], await self.login(email)

    async def upload(self, headers: dict[str, str], *files: tuple[str, bytes], **kwargs: Any) -> Any:
        """POST /api/receipts with one part named ``file`` per (filename, bytes)."""
        parts = [("file", (name, content, "application/octet-stream")) for name, content in files]
        return await self.client.post("/api/receipts", files=parts, headers=headers, **kwargs)

    async def extract_all(self) -> None:
        """Run the extraction worker until the queue is empty."""
        service = self.container.extraction_service()
        while await service.run_once("test-worker") is not None:
            pass


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def extractor() -> MemoryExtractor:
    return MemoryExtractor()


@pytest.fixture
async def api(settings: Settings, extractor: MemoryExtractor) -> AsyncIterator[Api]:
    container = make_container(settings, extractor)
    async with AsyncTestClient(app=create_app(container)) as client:
        yield Api(client=client, container=container, settings=settings)


# ---- small real files -------------------------------------------------------------------------------------------


def _image(size: tuple[int, int] = (64, 48)) -> Image.Image:
    # random colours so that every generated file has different bytes (no accidental duplicates)
    image = Image.new("RGB", size, tuple(secrets.randbelow(256) for _ in range(3)))
    image.putpixel((1, 1), tuple(secrets.randbelow(256) for _ in range(3)))
    return image


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    """A small valid image (JPEG, PNG, WEBP) or a one-page PDF, different on every call."""
    buffer = io.BytesIO()
    _image(size).save(buffer, format=fmt)
    return buffer.getvalue()


def jpeg() -> bytes:
    return image_bytes("JPEG")


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (the data is a few bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )
