"""The CLI's stored sessions: ``receiptcore login`` keeps a refresh token per server, like ``gh auth login``.

The file is ``$XDG_CONFIG_HOME/receiptcore/credentials.json`` (``~/.config/receiptcore/`` when the variable is
unset), the directory mode 0700 and the file 0600, written atomically. It holds, per server URL, the email, the
refresh token and the last access token with its expiry; never a password.

Refresh tokens rotate on every use and a reused one revokes the whole session (DESIGN.md §4), so two CLI
processes refreshing with the same stored token at once would log each other out. ``StoredSession.access_token``
therefore refreshes under an exclusive file lock and re-reads the file first: the second process finds the
token the first one just got and uses it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from receiptcore import __version__
from receiptcore.errors import AuthenticationFailed, ReceiptcoreError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; single CLI processes are still fine
    fcntl = None  # type: ignore[assignment]

REFRESH_COOKIE = "receiptcore_refresh"
# refresh a little before the access token expires, so a request never leaves with a token about to die
EXPIRY_MARGIN_SECONDS = 30
_COOKIE = re.compile(rf"(?:^|[,\s]){REFRESH_COOKIE}=([^;,\s]+)")


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/receiptcore``, else ``~/.config/receiptcore``."""
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "receiptcore"


def credentials_path() -> Path:
    """Where the stored sessions live."""
    return config_dir() / "credentials.json"


def refresh_token_of(response: httpx.Response) -> str | None:
    """The refresh token a login or refresh answer set in its cookie."""
    for header in response.headers.get_list("set-cookie"):
        match = _COOKIE.search(header)
        if match and match.group(1) not in ('""', ""):
            return match.group(1)
    return None


class CredentialStore:
    """The credentials file: read, write atomically with mode 0600, lock for a refresh."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or credentials_path()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (ValueError, OSError) as exc:
            raise ReceiptcoreError(f"cannot read {self.path}: {exc} (run `receiptcore login` again)") from exc
        return data if isinstance(data, dict) else {}

    def get(self, server: str) -> dict[str, Any] | None:
        """The stored session of ``server``, or None."""
        entry = self._read().get("servers", {}).get(server)
        return entry if isinstance(entry, dict) else None

    def servers(self) -> list[str]:
        """Every server with a stored session."""
        return sorted(self._read().get("servers", {}))

    def put(self, server: str, entry: dict[str, Any] | None) -> None:
        """Store (or with None, forget) the session of ``server``."""
        data = self._read()
        servers = data.setdefault("servers", {})
        if entry is None:
            servers.pop(server, None)
        else:
            servers[server] = entry
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.path.parent, 0o700)
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".credentials-", suffix=".tmp")  # 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        os.chmod(self.path, 0o600)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive lock across processes (a side file; the credentials file itself is replaced on write)."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.path.with_name(".credentials.lock"), "a+b") as lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _expiry(now: dt.datetime, expires_in: Any) -> str:
    seconds = int(expires_in) if isinstance(expires_in, int | float) else 300
    return (now + dt.timedelta(seconds=seconds)).isoformat()


def session_entry(email: str, response: httpx.Response, now: dt.datetime) -> dict[str, Any]:
    """What to store after a successful login or refresh answer."""
    refresh = refresh_token_of(response)
    if refresh is None:
        raise AuthenticationFailed("the server sent no refresh token (is it a receiptcore server?)")
    body = response.json()
    return {
        "email": email,
        "refresh_token": refresh,
        "access_token": str(body["access_token"]),
        "access_expires_at": _expiry(now, body.get("expires_in")),
        "updated_at": now.isoformat(),
    }


class StoredSession:
    """Fresh access tokens for one server from its stored refresh token, refreshed silently when needed."""

    def __init__(self, server: str, store: CredentialStore | None = None, http: httpx.Client | None = None) -> None:
        self.server = server.rstrip("/")
        self.store = store or CredentialStore()
        self._http = http

    @property
    def email(self) -> str | None:
        """The signed-in email of the stored session, or None when there is none."""
        entry = self.store.get(self.server)
        return str(entry["email"]) if entry else None

    def exists(self) -> bool:
        """Whether ``receiptcore login`` stored a session for this server."""
        return self.store.get(self.server) is not None

    def access_token(self, *, force_refresh: bool = False) -> str:
        """A valid access token: the stored one while it lives, else a refreshed one (rotating the refresh token).

        Raises:
            AuthenticationFailed: no stored session, or the server refused the refresh token (signed out,
                expired, revoked): run ``receiptcore login`` again.
        """
        with self.store.locked():
            entry = self.store.get(self.server)
            if entry is None:
                raise AuthenticationFailed(f"not logged in to {self.server}: run `receiptcore login`")
            now = dt.datetime.now(dt.UTC)
            expires = dt.datetime.fromisoformat(str(entry.get("access_expires_at", now.isoformat())))
            if not force_refresh and expires - now > dt.timedelta(seconds=EXPIRY_MARGIN_SECONDS):
                return str(entry["access_token"])
            response = self._post("/auth/refresh", {"refresh_token": entry["refresh_token"]})
            if response.status_code == 401:
                self.store.put(self.server, None)
                raise AuthenticationFailed(
                    f"the session with {self.server} has ended (expired, signed out or revoked): "
                    "run `receiptcore login` again"
                )
            if response.is_error:
                from receiptcore.entrypoints.client import problem_error

                raise problem_error(response)
            fresh = session_entry(str(entry["email"]), response, now)
            self.store.put(self.server, fresh)
            return str(fresh["access_token"])

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        from receiptcore.entrypoints.client import ServerUnreachable

        headers = {"User-Agent": f"receiptcore-cli/{__version__}"}
        try:
            if self._http is not None:
                return self._http.post(self.server + path, json=body, headers=headers)
            with httpx.Client(timeout=30.0) as http:
                return http.post(self.server + path, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach the receiptcore server at {self.server}: {exc}") from exc
