"""Ed25519 signing keys on disk: creation (mode 0600, race-safe), loading, RFC 7638 thumbprints, JWKs (built by PyJWT).

The keys directory holds PEM files. Private keys sign and verify; public-key PEMs (retired keys whose private
half was destroyed) only verify. Each private key has an activation time: the UTC stamp in the name of a key
written by ``rotate_key`` (``signing-key-20260501T093000Z.pem``), else the file's modification time. The key
activated last signs; a key whose activation is still ahead is published (JWKS) but does not sign yet, so every
verifier can learn it first. Every key verifies until ``prune_keys`` deletes one that was superseded longer
ago than the longest token lifetime.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from receiptcore.errors import ConfigurationError

DEFAULT_KEY_FILE = "signing-key.pem"
# ``receiptcore keys rotate`` names a new key for the moment it starts signing: signing-key-20260501T093000Z.pem
ROTATED_KEY_PREFIX = "signing-key-"
_STAMP = "%Y%m%dT%H%M%SZ"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# RFC 7638 §3.2: the required members of an OKP key (RFC 8037 §2), hashed in lexicographic order.
_THUMBPRINT_MEMBERS = ("crv", "kty", "x")


def _okp_jwk(key: Ed25519PublicKey) -> dict[str, Any]:
    """The public JWK members of an Ed25519 key (``kty``, ``crv``, ``x``) as PyJWT, which verifies them, writes them."""
    jwk = OKPAlgorithm.to_jwk(key, as_dict=True)
    return json.loads(jwk) if isinstance(jwk, str) else dict(jwk)


def thumbprint(key: Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key: a stable key id.

    Hand-written on purpose, over the JWK PyJWT builds: PyJWT has no thumbprint function (jpadilla/pyjwt#1032 was
    closed without one), and jwcrypto's ``JWK.thumbprint`` would bring a second JOSE implementation into the auth
    service for these four lines. The RFC 8037 appendix A.3 vector in ``tests/unit/security/test_tokens.py``
    pins the result.
    """
    jwk = _okp_jwk(key)
    canonical = json.dumps({name: jwk[name] for name in _THUMBPRINT_MEMBERS}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """The public JWK (RFC 8037) of an Ed25519 key, with its thumbprint as ``kid``."""
    return {**_okp_jwk(key), "kid": thumbprint(key), "alg": "EdDSA", "use": "sig"}


@dataclass(frozen=True, slots=True)
class KeyRing:
    """Keys loaded from a directory: private keys with their activation times, and retired public keys.

    Attributes:
        private_keys: ``(activation time as a POSIX timestamp, key)``, earliest activation first.
        public_keys: keys whose private half was destroyed: they only verify.
    """

    private_keys: tuple[tuple[float, Ed25519PrivateKey], ...]
    public_keys: tuple[Ed25519PublicKey, ...] = ()

    def signing_key_at(self, when: float) -> Ed25519PrivateKey:
        """The key that signs at ``when``: the latest activated by then (the earliest if none is active yet)."""
        active = [key for activation, key in self.private_keys if activation <= when]
        return active[-1] if active else self.private_keys[0][1]

    def next_change_after(self, when: float) -> float | None:
        """When the next pending key activates (None when no key is pending after ``when``)."""
        pending = [activation for activation, _ in self.private_keys if activation > when]
        return min(pending) if pending else None

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        """The key that signs now."""
        return self.signing_key_at(time.time())

    @property
    def verify_keys(self) -> tuple[Ed25519PublicKey, ...]:
        """Every public key, newest private key's first, then the retired ones."""
        return tuple(key.public_key() for _, key in reversed(self.private_keys)) + self.public_keys


def generate_key_file(keys_dir: Path, name: str = DEFAULT_KEY_FILE) -> Path:
    """Write a new Ed25519 private key as PEM (PKCS#8, mode 0600) to ``keys_dir/name``.

    The file appears atomically and complete (written to a temporary file, then hard-linked into place), and is
    never overwritten: if two processes race, one key wins and both use it.

    Raises:
        FileExistsError: ``name`` already exists.
        OSError: the directory cannot be written.
    """
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    target = keys_dir / name
    fd, tmp = tempfile.mkstemp(dir=keys_dir, prefix=".new-key-", suffix=".tmp")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, target)  # fails if target exists: never replaces a key that signed live tokens
    finally:
        os.unlink(tmp)
    return target


def rotated_key_name(activate_at: dt.datetime) -> str:
    """The file name of a key that starts signing at ``activate_at`` (UTC, to the second)."""
    return f"{ROTATED_KEY_PREFIX}{activate_at.astimezone(dt.UTC).strftime(_STAMP)}.pem"


def rotate_key(keys_dir: Path, activate_at: dt.datetime) -> Path:
    """Add a private key that every instance publishes at once (JWKS) but that signs only from ``activate_at``.

    The delay lets every verifier learn the new key before the first token it signs reaches them; the old keys
    keep verifying, so tokens they signed stay valid until they expire. The activation is moved to just after the
    latest existing key's if it would not come after it (the new key must win). Raises FileExistsError (a key
    with that activation second exists) or OSError.
    """
    latest = max((activation for _path, activation, _key in _read_entries(keys_dir)), default=None)
    if latest is not None and activate_at.timestamp() <= latest:
        activate_at = dt.datetime.fromtimestamp(int(latest) + 1, dt.UTC)
    return generate_key_file(keys_dir, rotated_key_name(activate_at))


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One key file as ``keys list`` shows it."""

    path: Path
    kid: str
    private: bool
    activation: float
    superseded_at: float | None

    def state(self, now: float) -> str:
        """``pending`` (not signing yet), ``signing``, or ``verifying`` (superseded or retired, still verifies)."""
        if not self.private or (self.superseded_at is not None and self.superseded_at <= now):
            return "verifying"
        return "pending" if self.activation > now else "signing"


def describe_keys(keys_dir: Path) -> list[KeyInfo]:
    """Every key file with its key id, activation and the time a later key took over from it, oldest first.

    Raises:
        ConfigurationError: a file is not an Ed25519 key, or the directory cannot be read.
    """
    try:
        entries = _read_entries(keys_dir)
    except OSError as exc:
        raise ConfigurationError(f"cannot read token signing keys in {keys_dir}: {exc}") from exc
    private = sorted((e for e in entries if isinstance(e[2], Ed25519PrivateKey)), key=lambda e: e[1])
    infos: list[KeyInfo] = []
    for index, (path, activation, key) in enumerate(private):
        assert isinstance(key, Ed25519PrivateKey)  # noqa: S101 - filtered above
        later = private[index + 1][1] if index + 1 < len(private) else None
        infos.append(KeyInfo(path, thumbprint(key.public_key()), True, activation, later))
    for path, activation, key in entries:
        if isinstance(key, Ed25519PublicKey):
            infos.append(KeyInfo(path, thumbprint(key), False, activation, None))
    return infos


def prune_keys(keys_dir: Path, *, token_lifetime_seconds: float, now: float) -> list[KeyInfo]:
    """Delete private keys superseded longer ago than the longest token lifetime: no valid token needs them.

    Retired public-key files are left alone (the operator placed them on purpose). Returns what was deleted.
    """
    removed = []
    for info in describe_keys(keys_dir):
        if info.private and info.superseded_at is not None and now - info.superseded_at > token_lifetime_seconds:
            info.path.unlink()
            removed.append(info)
    return removed


def load_key_ring(keys_dir: Path, *, create: bool = True) -> KeyRing:
    """Load every ``*.pem`` key in ``keys_dir``; create ``signing-key.pem`` first if there is no private key.

    Raises:
        ConfigurationError: the directory cannot be read or created, a file is not an Ed25519 key, or there is
            no private key and ``create`` is False.
    """
    try:
        private, public = _read_keys(keys_dir)
        if not private and create:
            # FileExistsError: another process created it just now; use theirs.
            with contextlib.suppress(FileExistsError):
                generate_key_file(keys_dir)
            private, public = _read_keys(keys_dir)
    except OSError as exc:
        raise ConfigurationError(f"cannot read or create token signing keys in {keys_dir}: {exc}") from exc
    if not private:
        raise ConfigurationError(f"no Ed25519 private key (*.pem) in {keys_dir}")
    return KeyRing(private_keys=tuple(private), public_keys=tuple(key for _, key in public))


def key_dir_fingerprint(keys_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of the key files: changes whenever a key is added or removed."""
    try:
        return tuple(sorted((p.name, st.st_size, st.st_mtime_ns) for p in keys_dir.glob("*.pem") for st in (p.stat(),)))
    except OSError:
        return ()


def _activation(path: Path, mtime: float) -> float:
    """A rotated key's activation time from its name; any other key's is its modification time."""
    stem = path.stem
    if stem.startswith(ROTATED_KEY_PREFIX):
        with contextlib.suppress(ValueError):
            stamp = dt.datetime.strptime(stem[len(ROTATED_KEY_PREFIX) :], _STAMP).replace(tzinfo=dt.UTC)
            return stamp.timestamp()
    return mtime


def _read_entries(keys_dir: Path) -> list[tuple[Path, float, Ed25519PrivateKey | Ed25519PublicKey]]:
    entries: list[tuple[Path, float, Ed25519PrivateKey | Ed25519PublicKey]] = []
    if not keys_dir.exists():
        return entries
    for path in sorted(keys_dir.glob("*.pem")):
        data = path.read_bytes()
        entries.append((path, _activation(path, path.stat().st_mtime), _parse_key(path, data)))
    return entries


def _read_keys(
    keys_dir: Path,
) -> tuple[list[tuple[float, Ed25519PrivateKey]], list[tuple[float, Ed25519PublicKey]]]:
    private: list[tuple[float, Ed25519PrivateKey]] = []
    public: list[tuple[float, Ed25519PublicKey]] = []
    for _path, activation, key in _read_entries(keys_dir):
        if isinstance(key, Ed25519PrivateKey):
            private.append((activation, key))
        else:
            public.append((activation, key))
    private.sort(key=lambda item: item[0])
    public.sort(key=lambda item: item[0])
    return private, public


def _parse_key(path: Path, data: bytes) -> Ed25519PrivateKey | Ed25519PublicKey:
    """An Ed25519 private or public key from PEM bytes. Raises ConfigurationError for anything else."""
    key: object
    try:
        if b"PRIVATE KEY" in data:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"{path} is not an unencrypted Ed25519 key in PEM form") from exc
    if not isinstance(key, Ed25519PrivateKey | Ed25519PublicKey):
        raise ConfigurationError(f"{path} is not an Ed25519 key")
    return key


@dataclass(frozen=True, slots=True)
class KeyDirectory:
    """The signing keys directory as ``receiptcore keys`` manages it (the functions above, on one ``path``)."""

    path: Path

    def ensure(self) -> KeyRing:
        """The key ring, with a first key created when there is none. Raises ConfigurationError."""
        return load_key_ring(self.path)

    def rotate(self, activate_at: dt.datetime) -> Path:
        """See ``rotate_key``."""
        return rotate_key(self.path, activate_at)

    def describe(self) -> list[KeyInfo]:
        """See ``describe_keys``."""
        return describe_keys(self.path)

    def prune(self, *, token_lifetime_seconds: float, now: float) -> list[KeyInfo]:
        """See ``prune_keys``."""
        return prune_keys(self.path, token_lifetime_seconds=token_lifetime_seconds, now=now)
