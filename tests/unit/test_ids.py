"""new_id: UUIDv7 layout, monotonic within a process, random bits from a per-process pool that a fork resets."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from receiptcore.domain import ids
from receiptcore.domain.ids import is_id, new_id


def test_an_id_is_a_canonical_uuid_v7_of_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id()
    after = time.time_ns() // 1_000_000
    parsed = uuid.UUID(value)
    assert str(parsed) == value
    assert is_id(value)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert before <= parsed.int >> 80 <= after + 1  # +1: a millisecond borrowed when its counter ran out


def test_ids_increase_strictly_across_many_pool_refills() -> None:
    values = [new_id() for _ in range(5000)]  # ~10 bytes each: a dozen 4 KiB pools
    assert values == sorted(values)
    assert len(set(values)) == len(values)


def test_the_random_bits_come_from_the_pool_not_a_syscall_per_id(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = os.urandom

    def counting(n: int) -> bytes:
        calls.append(n)
        return real(n)

    monkeypatch.setattr(ids.os, "urandom", counting)
    for _ in range(1000):
        new_id()
    assert 1 <= len(calls) <= 4  # ~10 bytes an id from 4,096-byte draws
    assert set(calls) == {4096}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_does_not_repeat_its_parents_random_bits() -> None:
    new_id()  # the pool is filled now: a child copying it would reuse its next bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.write(write, ",".join(new_id() for _ in range(50)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split(",")
    os.waitpid(pid, 0)
    parent = [new_id() for _ in range(50)]
    low_bits = (1 << 62) - 1
    assert len(child) == 50
    assert not {uuid.UUID(v).int & low_bits for v in child} & {uuid.UUID(v).int & low_bits for v in parent}
