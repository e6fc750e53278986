"""Settings: one pydantic-settings class, environment prefix ``RECEIPTCORE_`` (a ``.env`` file works too).

The defaults are the embedded profile: SQLite and local files under ``data_dir``, an in-process bus, the
offline OCR extractor. Setting the PostgreSQL, MongoDB or Redis URL switches that adapter family on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable, each field documented where it is declared."""

    model_config = SettingsConfigDict(env_prefix="RECEIPTCORE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("./data"), description="SQLite file, raw receipt files and signing keys live here.")
    host: str = Field("127.0.0.1", description="Interface the HTTP server binds to.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port the HTTP server listens on.")
    service: Literal["all", "auth", "receipts", "worker"] = Field(
        "all", description="Which service this process runs: all (embedded default), auth, receipts or worker."
    )
    public_url: str | None = Field(None, description="External base URL (behind a gateway); used in Location headers.")
    extractor: str = Field("ocr", description="Extractor plugin name (entry point group receiptcore.extractors).")

    postgres_url: SecretStr | None = Field(None, description="PostgreSQL DSN; when set, users/roles/tokens live there.")
    mongo_url: SecretStr | None = Field(None, description="MongoDB URL; when set, receipts and files live there.")
    redis_url: SecretStr | None = Field(None, description="Redis URL; when set, events travel over Redis pub/sub.")

    jwt_issuer: str = Field("receiptcore", description="The iss claim of access tokens.")
    jwt_audience: str = Field("receiptcore", description="The aud claim of access tokens.")
    access_token_ttl_seconds: int = Field(300, ge=30, le=3600, description="Access token lifetime.")
    refresh_idle_ttl_seconds: int = Field(14 * 86400, ge=300, description="Refresh token idle expiry.")
    refresh_absolute_ttl_seconds: int = Field(90 * 86400, ge=300, description="Refresh family absolute expiry.")
    password_min_length: int = Field(12, ge=8, le=128, description="Minimum password length in characters.")
    cookie_secure: bool = Field(False, description="Mark the refresh cookie Secure (set true behind HTTPS).")

    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="Largest accepted file, in bytes.")
    max_files_per_upload: int = Field(20, ge=1, le=500, description="Most files in one upload request.")
    max_image_pixels: int = Field(60_000_000, ge=1_000_000, description="Largest accepted image (width × height).")
    max_pdf_pages: int = Field(20, ge=1, le=500, description="Most pages in an uploaded PDF.")

    worker_enabled: bool = Field(True, description="Run an extraction worker inside `serve` (service all).")
    worker_concurrency: int = Field(1, ge=1, le=32, description="Receipts one worker process extracts at once.")
    worker_lease_seconds: int = Field(300, ge=10, description="How long a claimed receipt stays leased.")
    worker_poll_seconds: float = Field(2.0, gt=0, description="Queue poll interval when no event wakes the worker.")
    extraction_max_attempts: int = Field(5, ge=1, description="Attempts before a receipt is marked failed.")
    extraction_retry_base_seconds: float = Field(30.0, gt=0, description="First retry delay; doubles each attempt.")

    anthropic_api_key: SecretStr | None = Field(None, description="API key for the anthropic extractor.")

    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")

    @property
    def sqlite_path(self) -> Path:
        """The SQLite database file of the embedded profile."""
        return self.data_dir / "receiptcore.sqlite3"

    @property
    def files_dir(self) -> Path:
        """Where the embedded profile keeps original receipt files."""
        return self.data_dir / "files"

    @property
    def keys_dir(self) -> Path:
        """Where the embedded profile keeps the token signing keys."""
        return self.data_dir / "keys"
