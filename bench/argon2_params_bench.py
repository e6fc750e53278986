"""CPU per Argon2id verification for each of OWASP's equivalent parameter floors, measured in process.

The OWASP Password Storage Cheat Sheet lists five Argon2id settings that give "an equal level of defense", a
trade-off between memory and iterations: m=47104 KiB t=1, m=19456 t=2, m=12288 t=3, m=9216 t=4, m=7168 t=5
(all p=1). Which one is cheapest in CPU depends on the machine (a smaller work area may stay in the caches), so
this measures each one here: a verification of a real hash with argon2-cffi (the hasher's own call), timed with
``time.thread_time`` (the CPU of the hashing thread alone, so other work on a busy machine inflates it less
than wall time), the settings interleaved round by round so a change in the machine's load hits all of them.

Both implementations are measured when PyNaCl (libsodium, which picks AVX2/AVX-512 code at run time) is
installed; argon2-cffi's wheel is built for plain SSE2.

With ``--threads 2`` two threads verify at once (both cores busy, as under a login flood): the per-hash CPU then
includes what the two hashes cost each other in shared caches and memory bandwidth.

    PYTHONPATH=src nice -n 5 .venv/bin/python bench/argon2_params_bench.py --rounds 40
    PYTHONPATH=src nice -n 5 .venv/bin/python bench/argon2_params_bench.py --rounds 20 --threads 2 --json out.json

Nothing asserts on the numbers (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from argon2 import PasswordHasher, Type

# (memory KiB, iterations) — OWASP Password Storage Cheat Sheet, Argon2id, p=1 for all.
OWASP_FLOORS = ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))
PASSWORD = "correct horse battery staple"  # noqa: S105 - the password being hashed, not a secret


def _label(memory: int, iterations: int) -> str:
    return f"m={memory} t={iterations} p=1"


Verify = Callable[[str, str], object]


def _backends() -> dict[str, Callable[[int, int], Verify]]:
    """Each implementation's verify for given parameters: argon2-cffi's and, when PyNaCl is there, libsodium's."""
    backends: dict[str, Callable[[int, int], Verify]] = {
        "argon2-cffi": lambda m, t: PasswordHasher(memory_cost=m, time_cost=t, parallelism=1, type=Type.ID).verify
    }
    try:
        from nacl.pwhash import argon2id
    except ImportError:
        return backends

    def sodium(_memory: int, _iterations: int) -> Verify:  # the parameters are read from the hash
        return lambda encoded, password: argon2id.verify(encoded.encode(), password.encode())

    backends["libsodium"] = sodium
    return backends


def _verify_cpu(verify: Verify, encoded: str, count: int) -> list[float]:
    """CPU seconds of this thread for each of ``count`` verifications."""
    samples = []
    for _ in range(count):
        start = time.thread_time()
        verify(encoded, PASSWORD)
        samples.append(time.thread_time() - start)
    return samples


def _round(hasher: Verify, encoded: str, per_round: int, threads: int) -> tuple[list[float], float]:
    """One round: ``threads`` threads verify ``per_round`` times each; per-hash CPU samples and the wall time."""
    results: list[list[float]] = [[] for _ in range(threads)]

    def work(index: int) -> None:
        results[index] = _verify_cpu(hasher, encoded, per_round)

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [s for r in results for s in r], time.perf_counter() - started


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="rounds; each setting is verified per round")
    parser.add_argument("--per-round", type=int, default=3, help="verifications of each setting per round")
    parser.add_argument("--threads", type=int, default=1, help="threads verifying at once (2: both cores)")
    parser.add_argument("--backend", choices=["all", *_backends()], default="all", help="which implementation(s)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    backends = {name: make for name, make in _backends().items() if args.backend in {"all", name}}
    hashers = {f"{name} {_label(m, t)}": make(m, t) for name, make in backends.items() for m, t in OWASP_FLOORS}
    encoded = {
        f"{name} {_label(m, t)}": PasswordHasher(memory_cost=m, time_cost=t, parallelism=1, type=Type.ID).hash(PASSWORD)
        for name in backends
        for m, t in OWASP_FLOORS
    }
    samples: dict[str, list[float]] = {label: [] for label in hashers}
    walls: dict[str, float] = dict.fromkeys(hashers, 0.0)
    for label, hasher in hashers.items():  # warm-up: first allocations, page faults
        _round(hasher, encoded[label], 1, args.threads)
    load_before = os.getloadavg()[0]
    for _ in range(args.rounds):
        for label, hasher in hashers.items():
            cpu, wall = _round(hasher, encoded[label], args.per_round, args.threads)
            samples[label].extend(cpu)
            walls[label] += wall
    load_after = os.getloadavg()[0]

    print(
        f"{args.rounds} rounds x {args.per_round} per setting, {args.threads} thread(s); "
        f"1-min load {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} CPUs"
    )
    print("| setting | CPU ms median | p10 | p90 | min | hashes/s of CPU (1 / median) | wall ms per hash done |")
    print("|---|---|---|---|---|---|---|")
    report = {}
    for label, values in samples.items():
        median = statistics.median(values)
        wall = walls[label] / (args.rounds * args.per_round * args.threads) * 1000  # elapsed per hash done
        row = {
            "median_ms": median * 1000,
            "p10_ms": _quantile(values, 0.1) * 1000,
            "p90_ms": _quantile(values, 0.9) * 1000,
            "min_ms": min(values) * 1000,
            "wall_ms": wall,
            "samples": len(values),
        }
        report[label] = row
        print(
            f"| {label} | {row['median_ms']:.2f} | {row['p10_ms']:.2f} | {row['p90_ms']:.2f} | "
            f"{row['min_ms']:.2f} | {1 / median:.0f} | {wall:.2f} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "load": [load_before, load_after], "rows": report}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
