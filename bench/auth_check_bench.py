"""What the per-request revocation checks cost: ``Authenticator.authenticate`` on a cached token, embedded SQLite.

Three configurations in one process, same store, same token, the cache warm: no checks beyond the cached user
state (the old path), plus the session check (``sid``, cached), plus the change counter read (what a server on
the SQLite file the CLI writes does on every request). Prints microseconds per call and ratios to the first;
nothing asserts on the numbers (bench/README.md).

    .venv/bin/python bench/auth_check_bench.py --calls 20000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from receiptcore.adapters.caching_cachetools import CachetoolsCacheFactory
from receiptcore.adapters.clock import SystemClock
from receiptcore.adapters.security import JwtTokenIssuer
from receiptcore.adapters.sqlite.database import SqliteDatabase
from receiptcore.adapters.sqlite.user_repo import SqliteUserRepo
from receiptcore.domain.ids import new_id
from receiptcore.domain.users import RefreshToken, User
from receiptcore.services.authentication import Authenticator


async def _per_call_us(authenticator: Authenticator, token: str, calls: int, rounds: int = 5) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls // rounds):
            await authenticator.authenticate(token)
        samples.append((time.perf_counter() - started) / (calls // rounds) * 1e6)
    return statistics.median(samples)


async def main(calls: int) -> None:
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        db = SqliteDatabase(Path(tmp) / "receiptcore.sqlite3")
        repo = SqliteUserRepo(db)
        now = clock.now()
        hashed = "$argon2id$not-a-real-hash"  # never verified here
        user = User(id=new_id(), email="bench@example.com", password_hash=hashed, created_at=now, updated_at=now)
        await repo.add_user(user)
        family = new_id()
        await repo.add_refresh_token(
            RefreshToken(
                id=new_id(),
                user_id=user.id,
                family_id=family,
                token_hash=new_id(),
                created_at=now,
                expires_at=now.replace(year=now.year + 1),
                family_expires_at=now.replace(year=now.year + 1),
            )
        )
        issuer = JwtTokenIssuer.generate(ttl_seconds=3600)
        legacy, _ = issuer.issue(user, now)
        with_sid, _ = issuer.issue(user, now, session_id=family)
        runs = {
            "cached state only (no sid)": (
                Authenticator(repo, issuer, clock, caches=CachetoolsCacheFactory(clock)),
                legacy,
            ),
            "+ session check (sid, cached)": (
                Authenticator(repo, issuer, clock, caches=CachetoolsCacheFactory(clock)),
                with_sid,
            ),
            "+ change counter read": (
                Authenticator(repo, issuer, clock, caches=CachetoolsCacheFactory(clock), changes=repo),
                with_sid,
            ),
        }
        results = {}
        for name, (authenticator, token) in runs.items():
            await authenticator.authenticate(token)  # warm the caches
            results[name] = await _per_call_us(authenticator, token, calls)
        base = next(iter(results.values()))
        print("| configuration | µs per authenticate | ratio |\n|---|---|---|")
        for name, micros in results.items():
            print(f"| {name} | {micros:.1f} | {micros / base:.2f} |")
        await db.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="authenticate calls per configuration")
    asyncio.run(main(parser.parse_args().calls))
