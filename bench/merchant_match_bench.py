"""How long matching one printed merchant name takes against directories of growing size.

Not a test: nothing asserts on the numbers. Each size is reported with its ratio to an exact look-up of the
normalised name in a dict built from the same directory (what a directory without fuzzy matching would cost),
measured in the same run. Names are random words (a worst case: nothing is cached from a previous receipt).

    .venv/bin/python bench/merchant_match_bench.py [--sizes 10 100 1000] [--names 50]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import string
import time

from receiptcore.domain import name_matching
from receiptcore.domain.merchants import MerchantEntry, match_merchant
from receiptcore.domain.name_matching import normalised

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 10)))


def _directory(rng: random.Random, size: int) -> list[MerchantEntry]:
    return [
        MerchantEntry(
            id=str(i),
            owner_id="o",
            name=" ".join(_word(rng) for _ in range(rng.randint(1, 3))),
            variants=[_word(rng), _word(rng)],
            created_at=T0,
            updated_at=T0,
        )
        for i in range(size)
    ]


def main() -> None:
    """Print a Markdown table: directory size, ms per receipt fuzzy, µs per receipt exact, ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--names", type=int, default=50, help="printed names matched per size")
    args = parser.parse_args()
    rng = random.Random(12)
    print("| entries (3 spellings each) | fuzzy match, ms/receipt | exact look-up, µs/receipt | ratio |")
    print("|---:|---:|---:|---:|")
    for size in args.sizes:
        entries = _directory(rng, size)
        printed = [" ".join(_word(rng) for _ in range(2)) for _ in range(args.names)]
        name_matching.word_similarity.cache_clear()
        start = time.perf_counter()
        for name in printed:
            match_merchant(name, entries)
        fuzzy = (time.perf_counter() - start) / len(printed)
        start = time.perf_counter()
        for name in printed:
            exact = {normalised(s): e for e in entries for s in e.spellings()}
            exact.get(normalised(name))
        plain = (time.perf_counter() - start) / len(printed)
        print(f"| {size} | {fuzzy * 1000:.2f} | {plain * 1e6:.0f} | {fuzzy / plain:.0f}x |")


if __name__ == "__main__":
    main()
