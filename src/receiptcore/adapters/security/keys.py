"""Ed25519 signing keys on disk: creation (mode 0600, race-safe), loading, RFC 7638 thumbprints, JWKs (built by PyJWT).

The keys directory holds PEM files. Private keys sign and verify; public-key PEMs (retired keys whose private
half was destroyed) only verify. The newest private key (by modification time) signs; every key verifies, so
rotating is: write a new key file with ``generate_key_file``, restart or reload, and delete the old file once
the longest-lived token it signed has expired.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from receiptcore.errors import ConfigurationError

DEFAULT_KEY_FILE = "signing-key.pem"


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
    """Keys loaded from a directory: the one that signs and every public key that verifies."""

    signing_key: Ed25519PrivateKey
    verify_keys: tuple[Ed25519PublicKey, ...]


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
    signing = private[-1][1]  # newest private key signs
    verify = [key.public_key() for _, key in reversed(private)] + [key for _, key in public]
    return KeyRing(signing_key=signing, verify_keys=tuple(verify))


def _read_keys(
    keys_dir: Path,
) -> tuple[list[tuple[float, Ed25519PrivateKey]], list[tuple[float, Ed25519PublicKey]]]:
    private: list[tuple[float, Ed25519PrivateKey]] = []
    public: list[tuple[float, Ed25519PublicKey]] = []
    if not keys_dir.exists():
        return private, public
    for path in sorted(keys_dir.glob("*.pem")):
        data = path.read_bytes()
        mtime = path.stat().st_mtime
        key = _parse_key(path, data)
        if isinstance(key, Ed25519PrivateKey):
            private.append((mtime, key))
        else:
            public.append((mtime, key))
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
