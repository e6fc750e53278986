"""Disk faults and crashes around uploads against real ``receiptcore serve`` processes (issue 9, hole 6).

What is real and what is simulated, case by case:

- "disk full" is real: the files dir is a small tmpfs (4 MiB) mounted for the test, filled by uploads until the
  kernel answers ENOSPC; it needs the right to mount (root), and is skipped, saying so, without it;
- "read-only files dir" is real: the same tmpfs remounted read-only (EROFS), then read-write again;
- SIGKILL is real (the server process, mid-uploads, at a random moment); the orphan ``.tmp`` file and the
  unreferenced file planted before each restart simulate a crash inside a write, which a kill hits only by luck.

Every round checks: each acknowledged upload (202) is intact (SHA-256 of its download), no orphan file stays,
503 problems name no server path or errno, and ``/health/ready`` tells the truth.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.cli.server_process import ServerProcess
from tests.hostile.conftest import Figures
from tests.hostile.raw_http import member_token

pytestmark = pytest.mark.slow

ROUNDS = 3
KILL_ROUNDS = 5
TMPFS_BYTES = 4 * 1024 * 1024
MAX_UPLOAD = 512 * 1024  # also the free space readiness asks for


def noise_png(seed: int, side: int = 200) -> bytes:
    """A PNG that does not compress (~120 KB), different for every seed."""
    pixels = random.Random(seed).randbytes(side * side * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buffer, "PNG")
    return buffer.getvalue()


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0


@pytest.fixture
def small_files_dir(tmp_path: Path) -> Iterator[Path]:
    """``<data>/files`` on a 4 MiB tmpfs (root only)."""
    files = tmp_path / "data" / "files"
    files.mkdir(parents=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs (a real full disk) needs root")
    if not _mount("-t", "tmpfs", "-o", f"size={TMPFS_BYTES},mode=0755", "tmpfs", str(files)):
        pytest.skip("this machine does not let the suite mount a tmpfs")
    try:
        yield files
    finally:
        subprocess.run(["umount", "-l", str(files)], check=False)


def _start(data_dir: Path, cwd: Path) -> ServerProcess:
    env = {"RECEIPTCORE_WORKER_ENABLED": "false", "RECEIPTCORE_MAX_UPLOAD_BYTES": str(MAX_UPLOAD)}
    return ServerProcess(data_dir, cwd=cwd, env=env).start()


def _upload(url: str, token: str, content: bytes) -> httpx.Response:
    return httpx.post(
        f"{url}/api/receipts",
        files={"file": ("r.png", content, "image/png")},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def _intact(url: str, token: str, acknowledged: dict[str, str]) -> list[str]:
    """Ids whose download is missing or whose SHA-256 differs."""
    bad = []
    for receipt_id, sha in acknowledged.items():
        response = httpx.get(f"{url}/api/receipts/{receipt_id}/file", headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 200 or hashlib.sha256(response.content).hexdigest() != sha:
            bad.append(receipt_id)
    return bad


def _ready_becomes(url: str, status: int, within: float = 15.0) -> bool:
    """Whether /health/ready answers ``status`` within ``within`` seconds (its answer is cached for 5 s)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/health/ready", timeout=5).status_code == status:
            return True
        time.sleep(0.25)
    return False


def _orphans(files: Path, referenced: set[str]) -> list[Path]:
    return [p for p in files.rglob("*") if p.is_file() and (p.name.endswith(".tmp") or p.name not in referenced)]


def _leaks(detail: str, data_dir: Path) -> bool:
    return str(data_dir) in detail or "Errno" in detail or "/" in detail


def test_a_full_disk_is_503_without_paths_and_keeps_every_acknowledged_upload(
    tmp_path: Path, small_files_dir: Path, figures: Figures
) -> None:
    data_dir = small_files_dir.parent
    server = _start(data_dir, tmp_path)
    failures: list[str] = []
    tried = acknowledged_total = full_answers = 0
    seed = 0
    try:
        token = member_token(server)
        acknowledged: dict[str, str] = {}
        for round_no in range(ROUNDS):
            this_round: list[str] = []
            while True:
                seed += 1
                content = noise_png(seed)
                response = _upload(server.url, token, content)
                tried += 1
                if response.status_code == 202:
                    receipt_id = response.json()["receipts"][0]["id"]
                    acknowledged[receipt_id] = hashlib.sha256(content).hexdigest()
                    this_round.append(receipt_id)
                    continue
                full_answers += 1
                if response.status_code != 503 or _leaks(response.json()["detail"], data_dir):
                    failures.append(f"round {round_no}: full disk answered {response.status_code} {response.text}")
                break
            if not _ready_becomes(server.url, 503):
                failures.append(f"round {round_no}: /health/ready stayed ready on a full disk")
            if bad := _intact(server.url, token, acknowledged):
                failures.append(f"round {round_no}: acknowledged uploads damaged: {bad}")
            if orphans := list(small_files_dir.rglob("*.tmp")):
                failures.append(f"round {round_no}: temporary files left: {orphans}")
            # free room again: delete this round's receipts
            for receipt_id in this_round:
                httpx.delete(f"{server.url}/api/receipts/{receipt_id}", headers={"Authorization": f"Bearer {token}"})
                acknowledged.pop(receipt_id)
            if not _ready_becomes(server.url, 200):
                failures.append(f"round {round_no}: /health/ready did not recover once space was freed")
            acknowledged_total += len(this_round)
    finally:
        server.stop()
    figures.record(
        "disk-faults",
        tried=tried,
        failed=len(failures),
        rounds=ROUNDS,
        acknowledged=acknowledged_total,
        full_disk_refusals=full_answers,
        tmpfs_mib=TMPFS_BYTES // (1024 * 1024),
    )
    assert not failures, failures
    assert "Traceback" not in server.output


def test_a_read_only_files_dir_is_503_and_not_ready_until_writable_again(
    tmp_path: Path, small_files_dir: Path, figures: Figures
) -> None:
    data_dir = small_files_dir.parent
    server = _start(data_dir, tmp_path)
    failures: list[str] = []
    try:
        token = member_token(server)
        acknowledged: dict[str, str] = {}
        for round_no in range(ROUNDS):
            content = noise_png(1000 + round_no)
            stored = _upload(server.url, token, content)
            if stored.status_code != 202:
                failures.append(f"round {round_no}: a writable dir answered {stored.status_code}")
                continue
            acknowledged[stored.json()["receipts"][0]["id"]] = hashlib.sha256(content).hexdigest()
            assert _mount("-o", "remount,ro", str(small_files_dir))
            try:
                refused = _upload(server.url, token, noise_png(2000 + round_no))
                if refused.status_code != 503 or _leaks(refused.json()["detail"], data_dir):
                    failures.append(f"round {round_no}: read-only dir answered {refused.status_code} {refused.text}")
                if not _ready_becomes(server.url, 503):
                    failures.append(f"round {round_no}: /health/ready stayed ready on a read-only files dir")
                if bad := _intact(server.url, token, acknowledged):
                    failures.append(f"round {round_no}: stored files unreadable while read-only: {bad}")
            finally:
                assert _mount("-o", "remount,rw", str(small_files_dir))
            if not _ready_becomes(server.url, 200):
                failures.append(f"round {round_no}: /health/ready did not recover once writable")
    finally:
        server.stop()
    figures.record("disk-faults", tried=3 * ROUNDS, failed=len(failures), rounds=ROUNDS)
    assert not failures, failures


def test_sigkill_during_uploads_keeps_every_acknowledged_upload_and_leaves_no_orphan(
    tmp_path: Path, figures: Figures
) -> None:
    data_dir = tmp_path / "data"
    files = data_dir / "files"
    failures: list[str] = []
    acknowledged: dict[str, str] = {}
    found_orphans = planted = attempts_total = 0
    rng = random.Random(9)
    admin: tuple[str, str] | None = None
    seed = 10_000
    for round_no in range(KILL_ROUNDS):
        server = _start(data_dir, tmp_path)
        admin = admin or server.admin
        assert admin is not None
        uploads = _Uploads(server.url, member_token(server, admin), acknowledged)
        threads = [threading.Thread(target=uploads.run, args=(seed + i,)) for i in range(4)]
        seed += 100_000
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.3, 1.2))
        server.send_signal(signal.SIGKILL)
        uploads.stop.set()
        for thread in threads:
            thread.join(30)
        server.wait()
        attempts_total += uploads.attempts
        # what a kill inside a write leaves, planted so every round has one of each to clean
        shard = files / "ab"
        shard.mkdir(parents=True, exist_ok=True)
        (shard / f".ab{'0' * 62}.crash.tmp").write_bytes(b"half a file")
        (shard / f"ab{'1' * 62}").write_bytes(b"a file whose transaction never committed")
        planted += 2

        restarted = _start(data_dir, tmp_path)
        try:
            admin_token = httpx.post(
                f"{restarted.url}/auth/login", json={"email": admin[0], "password": admin[1]}
            ).json()["access_token"]
            if not _ready_becomes(restarted.url, 200):
                failures.append(f"round {round_no}: not ready after restart")
            if bad := _intact(restarted.url, admin_token, acknowledged):
                failures.append(f"round {round_no}: acknowledged uploads lost or damaged: {bad}")
            referenced = {item["source"]["sha256"] for item in _all_receipts(restarted.url, admin_token)}
            left = _orphans(files, referenced)
            deadline = time.monotonic() + 15  # the sweep runs in the background from the first readiness probe
            while left and time.monotonic() < deadline:
                time.sleep(0.2)
                left = _orphans(files, referenced)
            found_orphans += len(left)
            if left:
                failures.append(f"round {round_no}: orphan files after restart: {[p.name for p in left]}")
        finally:
            restarted.stop()
    figures.record(
        "disk-faults",
        tried=attempts_total,
        failed=len(failures),
        kill_rounds=KILL_ROUNDS,
        acknowledged=len(acknowledged),
        planted_orphans=planted,
        orphans_after_restart=found_orphans,
    )
    assert not failures, failures


class _Uploads:
    """Uploads distinct files in a loop until stopped (or the server dies); records each acknowledged one."""

    def __init__(self, url: str, token: str, acknowledged: dict[str, str]) -> None:
        self.url, self.token, self.acknowledged = url, token, acknowledged
        self.stop = threading.Event()
        self.attempts = 0
        self._lock = threading.Lock()

    def run(self, first_seed: int) -> None:
        n = first_seed
        while not self.stop.is_set():
            content = noise_png(n, side=300)
            n += 97
            try:
                response = _upload(self.url, self.token, content)
            except httpx.HTTPError:
                return  # the server died under this request: not acknowledged
            with self._lock:
                self.attempts += 1
                if response.status_code == 202:
                    self.acknowledged[response.json()["receipts"][0]["id"]] = hashlib.sha256(content).hexdigest()


def _all_receipts(url: str, token: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    params: dict[str, str] = {"limit": "100"}
    while True:
        page = httpx.get(f"{url}/api/receipts", params=params, headers={"Authorization": f"Bearer {token}"}).json()
        items.extend(page["items"])
        if not page.get("next_cursor"):
            return items
        params["cursor"] = page["next_cursor"]
