"""Settings: one pydantic-settings class, environment prefix ``RECEIPTCORE_`` (a ``.env`` file works too).

Values come from, strongest first: arguments, ``RECEIPTCORE_*`` environment variables, a ``.env`` file, files in
``/run/secrets`` named like the variable in lower case (Docker secrets, e.g. ``receiptcore_postgres_url``).
The defaults are the embedded profile: SQLite and local files under ``data_dir``, an in-process bus, the
offline OCR extractor. Setting the PostgreSQL, MongoDB or Redis URL switches that adapter family on.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from receiptcore.domain.money import is_currency
from receiptcore.services.password_hashing import OWASP_FLOORS, meets_owasp_floor

# Where container secrets are mounted; a setting is read from the file named like its environment variable.
SECRETS_DIR = "/run/secrets"


class Settings(BaseSettings):
    """Everything configurable, each field documented where it is declared."""

    model_config = SettingsConfigDict(
        env_prefix="RECEIPTCORE_",
        env_file=".env",
        extra="ignore",
        # container secrets: a file /run/secrets/receiptcore_postgres_url sets postgres_url (docker/compose.yaml)
        secrets_dir=SECRETS_DIR if os.path.isdir(SECRETS_DIR) else None,
    )

    profile: Literal["embedded", "memory"] = Field(
        "embedded",
        description="Where what has no server URL lives: embedded (SQLite, files and keys in data_dir) or memory "
        "(in this process only, gone at exit; tests and demos).",
    )
    data_dir: Path = Field(Path("./data"), description="SQLite file, raw receipt files and signing keys live here.")
    host: str = Field("127.0.0.1", description="Interface the HTTP server binds to.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port the HTTP server listens on.")
    service: Literal["all", "auth", "receipts", "worker"] = Field(
        "all", description="Which service this process runs: all (embedded default), auth, receipts or worker."
    )
    public_url: str | None = Field(None, description="External base URL (behind a gateway); used in Location headers.")
    trusted_proxies: str = Field(
        "127.0.0.1",
        description="Comma-separated addresses or networks (CIDR) of gateways whose X-Forwarded-For/-Proto headers "
        "are believed (the client address and scheme behind the gateway); '*' trusts every peer.",
    )
    auth_url: str | None = Field(
        None,
        description="Base URL of the auth service; the receipts service verifies access tokens with the public keys "
        "it publishes at /.well-known/jwks.json (required for --service receipts, which holds no signing key).",
    )
    signing_keys_dir: Path | None = Field(
        None,
        description="Where the auth service keeps its token signing keys (shared by every auth instance); "
        "default: <data_dir>/keys.",
    )
    extractor: str = Field("ocr", description="Extractor plugin name (entry point group receiptcore.extractors).")

    postgres_url: SecretStr | None = Field(None, description="PostgreSQL DSN; when set, users/roles/tokens live there.")
    mongo_url: SecretStr | None = Field(None, description="MongoDB URL; when set, receipts and files live there.")
    mongo_database: str | None = Field(
        None, description="MongoDB database of receipts and files; None: the URL's path, else receiptcore."
    )
    mongo_timeout_seconds: float = Field(
        5.0, gt=0, le=120, description="How long a MongoDB operation waits for a reachable server (then 503)."
    )
    mongo_idempotency_ttl_seconds: int = Field(
        7 * 86400, ge=60, description="How long MongoDB keeps an Idempotency-Key outcome (a TTL index removes it)."
    )
    redis_url: SecretStr | None = Field(None, description="Redis URL; when set, events travel over Redis pub/sub.")
    postgres_pool_size: int = Field(10, ge=1, le=200, description="Most PostgreSQL connections of one process.")
    postgres_migrate_on_start: bool = Field(
        True, description="Apply pending PostgreSQL migrations at start (else only `receiptcore db migrate` does)."
    )
    redis_prefix: str = Field(
        "receiptcore",
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Prefix of every Redis key and channel, so several installs can share one Redis.",
    )

    jwt_issuer: str = Field("receiptcore", description="The iss claim of access tokens.")
    jwt_audience: str = Field("receiptcore", description="The aud claim of access tokens.")
    access_token_ttl_seconds: int = Field(300, ge=30, le=3600, description="Access token lifetime.")
    refresh_idle_ttl_seconds: int = Field(14 * 86400, ge=300, description="Refresh token idle expiry.")
    refresh_absolute_ttl_seconds: int = Field(90 * 86400, ge=300, description="Refresh family absolute expiry.")
    password_min_length: int = Field(12, ge=8, le=128, description="Minimum password length in characters.")
    cookie_secure: bool = Field(False, description="Mark the refresh cookie Secure (set true behind HTTPS).")
    login_free_attempts: int = Field(
        5, ge=1, le=100, description="Failed logins of one account before each further try must wait (back-off)."
    )
    login_client_free_attempts: int = Field(
        20, ge=1, le=10_000, description="Failed logins from one client address before its tries must wait."
    )
    login_backoff_base_seconds: float = Field(
        1.0, gt=0, le=60, description="First login back-off wait; doubles with every further failure."
    )
    login_backoff_max_seconds: float = Field(
        900.0, ge=1, le=86_400, description="Longest wait between two login tries of one account or client."
    )
    login_backoff_forget_seconds: float = Field(
        86_400.0, ge=60, description="An account or client with no failed login for this long starts over."
    )
    password_hash_memory_kib: int = Field(
        7168,
        ge=8,
        le=4 * 1024 * 1024,
        description="Argon2id memory of new password hashes, in KiB; with password_hash_iterations at or above one "
        "of OWASP's floors (47104/1, 19456/2, 12288/3, 9216/4, 7168/5). Older hashes verify with their own and "
        "are rehashed at the next login.",
    )
    password_hash_iterations: int = Field(5, ge=1, le=100, description="Argon2id iterations (time cost) of new hashes.")
    password_hash_thread_niceness: int = Field(
        0,
        ge=0,
        le=19,
        description="How much lower than the server's the password-hashing threads' OS priority is (Linux), so "
        "the event loop keeps the CPU it needs while a login flood hashes; 0: the same priority.",
    )
    password_verify_slots: int = Field(
        0, ge=0, le=256, description="Password checks (Argon2id) computed at once on one instance; 0: one per CPU."
    )
    password_verify_queue_per_slot: int = Field(
        8, ge=0, le=1000, description="Password checks that may wait, per slot; past them a login gets 429 overloaded."
    )

    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="Largest accepted file, in bytes.")
    max_files_per_upload: int = Field(20, ge=1, le=500, description="Most files in one upload request.")
    max_concurrent_uploads_per_user: int = Field(
        4, ge=1, le=1000, description="Uploads one user may have in progress at once on one instance (then 429)."
    )
    max_concurrent_uploads: int = Field(
        16, ge=1, le=10_000, description="Uploads in progress at once on one instance, all users (then 429)."
    )
    storage_quota_bytes: int | None = Field(
        None, ge=1, description="Most bytes of files one user may store (then 413); None: no quota."
    )
    upload_idle_timeout_seconds: float = Field(
        30.0, gt=0, le=3600, description="Longest gap between two chunks of an upload body (then 408)."
    )
    upload_body_timeout_seconds: float = Field(
        600.0, gt=0, le=86_400, description="Longest time one upload body may take to arrive (then 408)."
    )
    cursor_secret: SecretStr | None = Field(
        None,
        description="Key of the MAC on list cursors; every receipt API instance of a deployment must share it. "
        "Default: a key generated once into <data_dir>/cursor.key.",
    )
    max_image_pixels: int = Field(60_000_000, ge=1_000_000, description="Largest accepted image (width x height).")
    max_pdf_pages: int = Field(20, ge=1, le=500, description="Most pages in an uploaded PDF.")

    worker_enabled: bool = Field(True, description="Run an extraction worker inside `serve` (service all).")
    worker_concurrency: int = Field(1, ge=1, le=32, description="Receipts one worker process extracts at once.")
    worker_lease_seconds: int = Field(300, ge=10, description="How long a claimed receipt stays leased.")
    worker_poll_seconds: float = Field(2.0, gt=0, description="Queue poll interval when no event wakes the worker.")
    extraction_max_attempts: int = Field(5, ge=1, description="Attempts before a receipt is marked failed.")
    extraction_retry_base_seconds: float = Field(30.0, gt=0, description="First retry delay; doubles each attempt.")
    extraction_timeout_seconds: float = Field(
        120.0, gt=0, description="Longest one extraction attempt may take (capped by the lease); then it fails."
    )
    default_currency: str | None = Field(
        None,
        description="ISO-4217 code assumed for a receipt that prints no currency (marked currency_assumed, not a "
        "review blocker) when its owner chose none of their own (PATCH /auth/me/preferences); unset, such a receipt "
        "goes to review as currency_unknown.",
    )

    anthropic_api_key: SecretStr | None = Field(None, description="API key for the anthropic extractor.")

    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")
    log_format: Literal["auto", "text", "json"] = Field(
        "auto", description="Log lines: text, json (one object per line), or auto (text on a terminal, else json)."
    )
    metrics_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Port of the /metrics listener of serve and worker (0: a free one); unset: off.",
    )
    metrics_host: str = Field("127.0.0.1", description="Interface the /metrics listener binds (keep it private).")
    memory_trim_seconds: float = Field(
        2.0,
        ge=0,
        description="How often serve looks whether its resident memory grew and gives freed heap back (glibc"
        " malloc_trim, entrypoints/heap.py); 0: never.",
    )

    # LLM extractors
    anthropic_model: str = Field("claude-sonnet-4-6", description="Claude model the anthropic extractor calls.")
    anthropic_max_tokens: int = Field(4096, ge=256, le=64_000, description="Output token limit per receipt (Claude).")
    anthropic_base_url: str | None = Field(None, description="Anthropic API base URL (a proxy); None: SDK default.")
    anthropic_input_usd_per_mtok: Decimal = Field(
        Decimal(3), ge=0, description="Price of a million input tokens of anthropic_model, for the spend cap."
    )
    anthropic_output_usd_per_mtok: Decimal = Field(
        Decimal(15), ge=0, description="Price of a million output tokens of anthropic_model, for the spend cap."
    )
    openai_base_url: str = Field(
        "http://127.0.0.1:11434/v1",
        description="OpenAI-compatible server base URL including /v1 (Ollama, vLLM, llama.cpp server).",
    )
    openai_api_key: SecretStr | None = Field(None, description="Bearer token for the OpenAI-compatible server.")
    openai_model: str = Field("qwen2.5vl:7b", description="Vision model name on the OpenAI-compatible server.")
    openai_max_tokens: int = Field(4096, ge=256, le=64_000, description="Output token limit per receipt (OpenAI API).")
    openai_response_format: Literal["json_schema", "json_object", "none"] = Field(
        "json_schema",
        description="How the receipt schema is requested: json_schema (constrained output), json_object (JSON mode, "
        "schema in the prompt) or none (schema in the prompt only), for servers without json_schema support.",
    )
    openai_input_usd_per_mtok: Decimal = Field(
        Decimal(0), ge=0, description="Price of a million input tokens on that server (0 for a local one)."
    )
    openai_output_usd_per_mtok: Decimal = Field(
        Decimal(0), ge=0, description="Price of a million output tokens on that server (0 for a local one)."
    )
    llm_daily_spend_cap_usd: Decimal | None = Field(
        Decimal(10),
        ge=0,
        description="Most USD all LLM extractors may spend per UTC day (ledger in data_dir, or in PostgreSQL when "
        "configured); then jobs wait until "
        "midnight UTC. None = no cap.",
    )
    llm_timeout_seconds: float = Field(120.0, gt=0, description="Timeout of one LLM API request.")
    llm_max_retries: int = Field(4, ge=0, le=10, description="Retries of one LLM request on 429, 5xx and timeouts.")
    llm_retry_base_seconds: float = Field(1.0, gt=0, description="First LLM retry delay; doubles, with jitter.")
    llm_retry_max_seconds: float = Field(60.0, gt=0, description="Longest single wait between LLM retries.")
    llm_max_image_side: int = Field(
        1568, ge=256, le=8000, description="Images are downscaled so their long side is at most this many pixels."
    )
    llm_max_pages: int = Field(5, ge=1, le=100, description="Most PDF pages sent to an LLM extractor.")

    @model_validator(mode="after")
    def _owasp_floor(self) -> Settings:
        # the setting is a trade of memory for iterations along OWASP's list, never a way below it
        if not meets_owasp_floor(self.password_hash_memory_kib, self.password_hash_iterations):
            floors = ", ".join(f"m={memory} t={iterations}" for memory, iterations in OWASP_FLOORS)
            raise ValueError(
                f"Argon2id m={self.password_hash_memory_kib} KiB t={self.password_hash_iterations} is below every "
                f"OWASP floor ({floors}; p=1): raise password_hash_memory_kib or password_hash_iterations"
            )
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        # uvicorn would take a typo for a literal host name and silently trust nobody (or the wrong peer)
        entries = [item.strip() for item in value.split(",") if item.strip()]
        for entry in entries:
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an IP address, a CIDR network or '*'") from exc
        return ",".join(entries)

    @field_validator("data_dir")
    @classmethod
    def _not_memory(cls, value: Path) -> Path:
        # ":memory:" used to switch the memory adapters on; a path that means "no path" is magic a typo or a real
        # folder of that name would trip over, so the choice is its own setting now
        if str(value) == ":memory:":
            raise ValueError(
                "':memory:' is not a data dir; to keep everything in memory set RECEIPTCORE_PROFILE=memory"
            )
        return value

    @field_validator("llm_daily_spend_cap_usd", "storage_quota_bytes", mode="before")
    @classmethod
    def _no_cap(cls, value: object) -> object:
        # an environment variable cannot be None; these spell "no cap"
        if isinstance(value, str) and value.strip().lower() in {"", "none", "off"}:
            return None
        return value

    @field_validator("default_currency", mode="before")
    @classmethod
    def _currency_code(cls, value: object) -> object:
        if isinstance(value, str):
            code = value.strip().upper()
            if not code or code in {"NONE", "OFF"}:
                return None
            if not is_currency(code):
                raise ValueError(f"{value!r} is not an ISO-4217 currency code (e.g. EUR, USD, MYR)")
            return code
        return value

    @property
    def in_memory(self) -> bool:
        """Whether the memory profile keeps everything in this process (nothing on disk)."""
        return self.profile == "memory"

    def extractor_options(self, name: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """The extractor plugin ``name``'s own options: ``RECEIPTCORE_EXTRACTOR_<NAME>_<OPTION>`` environment
        variables (NAME upper-cased, ``-`` as ``_``), keyed by OPTION in lower case."""
        prefix = f"RECEIPTCORE_EXTRACTOR_{name.upper().replace('-', '_')}_"
        found = os.environ if environ is None else environ
        return {
            key[len(prefix) :].lower(): value
            for key, value in found.items()
            if key.upper().startswith(prefix) and len(key) > len(prefix)
        }

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
        """Where the token signing keys live (``signing_keys_dir``, else ``<data_dir>/keys``)."""
        return self.signing_keys_dir if self.signing_keys_dir is not None else self.data_dir / "keys"
