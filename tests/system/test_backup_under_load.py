"""Backup while the server takes uploads, restore into a new data dir, serve it: every receipt and file is there.

The figures (receipts before, during and in the backup, bytes, seconds) are printed for the closing note; the test
asserts only what must hold: every receipt uploaded before the backup began is in it, every receipt of the backup
is served by the restored server with a file whose SHA-256 is the one recorded at upload.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.cli.plugin import install_plugin
from tests.cli.server_process import REPO, ServerProcess, clean_env

pytestmark = pytest.mark.slow

BEFORE = 12  # receipts uploaded before the backup starts


def _image(n: int) -> bytes:
    image = Image.new("RGB", (320, 240), ((n * 37) % 256, (n * 91) % 256, (n * 13) % 256))
    image.putpixel((n % 320, 7), (255 - n % 256, 3, 5))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _token(url: str, email: str, password: str) -> dict[str, str]:
    response = httpx.post(f"{url}/auth/login", json={"email": email, "password": password}, timeout=30)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _upload(url: str, headers: dict[str, str], n: int) -> tuple[str, str]:
    content = _image(n)
    response = httpx.post(f"{url}/api/receipts", files={"file": (f"r{n}.jpg", content)}, headers=headers, timeout=60)
    assert response.status_code == 202, response.text
    return response.json()["receipts"][0]["id"], hashlib.sha256(content).hexdigest()


def _all_receipts(url: str, headers: dict[str, str]) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{url}/api/receipts", params=params, headers=headers, timeout=30).json()
        found.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return found


def test_a_backup_under_upload_load_restores_every_receipt_and_file(tmp_path: Path) -> None:
    site = install_plugin(tmp_path / "site")
    env = {"RECEIPTCORE_EXTRACTOR": "scripted", "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    data_dir = tmp_path / "data"
    uploaded: dict[str, str] = {}
    with ServerProcess(data_dir, cwd=tmp_path, env={**env, "RECEIPTCORE_WORKER_POLL_SECONDS": "0.2"}) as server:
        assert server.admin is not None
        email, password = server.admin
        headers = _token(server.url, email, password)
        for n in range(BEFORE):
            rid, sha = _upload(server.url, headers, n)
            uploaded[rid] = sha
        before = dict(uploaded)

        stop = threading.Event()
        during: dict[str, str] = {}

        def keep_uploading() -> None:
            n = BEFORE
            while not stop.is_set():
                rid, sha = _upload(server.url, headers, n)
                during[rid] = sha
                n += 1

        loader = threading.Thread(target=keep_uploading, daemon=True)
        loader.start()
        time.sleep(0.5)  # the load is under way
        started = time.monotonic()
        made = subprocess.run(
            [sys.executable, "-m", "receiptcore", "--data-dir", str(data_dir), "backup", str(tmp_path / "backup")],
            cwd=tmp_path,
            env=clean_env(data_dir, env),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        seconds = time.monotonic() - started
        time.sleep(0.5)
        stop.set()
        loader.join(60)
        assert made.returncode == 0, made.stdout + made.stderr
        uploaded.update(during)

    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    in_backup = manifest["rows"]["receipts"]
    restored_dir = tmp_path / "restored"
    restored = subprocess.run(
        [sys.executable, "-m", "receiptcore", "--data-dir", str(restored_dir), "restore", str(tmp_path / "backup")],
        cwd=tmp_path,
        env=clean_env(restored_dir, env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert restored.returncode == 0, restored.stdout + restored.stderr

    with ServerProcess(restored_dir, cwd=tmp_path, env={**env, "RECEIPTCORE_WORKER_ENABLED": "false"}) as again:
        assert again.admin is None  # the restored admin, not a new first start
        headers = _token(again.url, email, password)
        receipts = _all_receipts(again.url, headers)
        ids = {str(r["id"]) for r in receipts}
        assert len(ids) == in_backup
        assert set(before) <= ids  # everything committed before the backup began
        assert ids <= set(uploaded)  # nothing that was never uploaded
        for rid in ids:
            file = httpx.get(f"{again.url}/api/receipts/{rid}/file", headers=headers, timeout=30)
            assert file.status_code == 200, (rid, file.text)
            assert hashlib.sha256(file.content).hexdigest() == uploaded[rid]
    print(
        f"\nbackup under load: {BEFORE} receipts before, {len(during)} uploaded while it ran, {in_backup} in the "
        f"backup ({len(manifest['files'])} files), {seconds:.2f} s; restored and served: {len(ids)} receipts, "
        f"every file's SHA-256 matched"
    )
