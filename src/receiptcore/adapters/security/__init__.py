"""Security adapters: Argon2id password hashing, EdDSA (Ed25519) JWT access tokens, remote JWKS verification."""

from receiptcore.adapters.security.hashing import Argon2PasswordHasher
from receiptcore.adapters.security.jwks import JwksTokenVerifier
from receiptcore.adapters.security.keys import generate_key_file, load_key_ring
from receiptcore.adapters.security.tokens import JwtTokenIssuer, TokenConfig

__all__ = [
    "Argon2PasswordHasher",
    "JwksTokenVerifier",
    "JwtTokenIssuer",
    "TokenConfig",
    "generate_key_file",
    "load_key_ring",
]
