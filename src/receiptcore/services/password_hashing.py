"""How strong a password hash must be: OWASP's Argon2id floors, and the parameters new hashes use by default.

The OWASP Password Storage Cheat Sheet lists five Argon2id settings that "provide an equal level of defense",
a trade of memory for iterations, all with one lane. The settings (``RECEIPTCORE_PASSWORD_HASH_*``) may pick
any parameters at or above one of them, never below. The default is the last, m = 7 MiB, t = 5: measured on
the reference machine it costs the least CPU and the least memory of the five (docs/security.md).
"""

from __future__ import annotations

# (memory KiB, iterations), p = 1 for all: m=46 MiB t=1, m=19 MiB t=2, m=12 MiB t=3, m=9 MiB t=4, m=7 MiB t=5.
OWASP_FLOORS: tuple[tuple[int, int], ...] = ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))
DEFAULT_MEMORY_KIB = 7168
DEFAULT_TIME_COST = 5
DEFAULT_PARALLELISM = 1


def meets_owasp_floor(memory_kib: int, time_cost: int) -> bool:
    """Whether Argon2id with ``memory_kib`` and ``time_cost`` (one lane) is at least one of ``OWASP_FLOORS``."""
    return any(memory_kib >= memory and time_cost >= iterations for memory, iterations in OWASP_FLOORS)
