"""Argon2PasswordHasher: Argon2id password hashes (argon2-cffi), computed off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import Argon2Error

from receiptcore.ports import PasswordHasher

# OWASP Password Storage Cheat Sheet floor for Argon2id: m = 19 MiB, t = 2, p = 1.
OWASP_MEMORY_KIB = 19 * 1024
OWASP_TIME_COST = 2
OWASP_PARALLELISM = 1


class Argon2PasswordHasher(PasswordHasher):
    """The PasswordHasher port with Argon2id.

    Hashing and verification cost tens of milliseconds of CPU by design, so they run in a worker thread
    (argon2-cffi releases the GIL) and never stall the event loop.

    Args:
        memory_cost: memory in KiB (default: the OWASP floor, 19 MiB).
        time_cost: iterations (default 2).
        parallelism: lanes (default 1).
        hash_len: length of the raw hash in bytes.
        salt_len: length of the random salt in bytes.

    Tests may pass cheaper parameters for speed; production uses the defaults.
    """

    def __init__(
        self,
        *,
        memory_cost: int = OWASP_MEMORY_KIB,
        time_cost: int = OWASP_TIME_COST,
        parallelism: int = OWASP_PARALLELISM,
        hash_len: int = 32,
        salt_len: int = 16,
    ) -> None:
        self._argon2 = _Argon2(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=hash_len,
            salt_len=salt_len,
            type=Type.ID,
        )

    async def hash(self, password: str) -> str:
        """Return an encoded Argon2id hash of ``password`` (fresh random salt each call)."""
        return await asyncio.to_thread(self._argon2.hash, password)

    async def verify(self, encoded: str, password: str) -> bool:
        """Whether ``password`` matches ``encoded``; False for a mismatch or a malformed/foreign hash."""
        return await asyncio.to_thread(self._verify, encoded, password)

    def needs_rehash(self, encoded: str) -> bool:
        """Whether ``encoded`` uses other parameters than the current ones (or cannot be parsed)."""
        try:
            return self._argon2.check_needs_rehash(encoded)
        except (Argon2Error, ValueError):
            return True

    def _verify(self, encoded: str, password: str) -> bool:
        try:
            return self._argon2.verify(encoded, password)
        except (Argon2Error, ValueError):  # mismatch, malformed or foreign hash alike
            return False
