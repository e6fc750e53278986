"""`receiptcore serve` as a process: a stop signal lets the extraction in hand finish before the process exits."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import receipt_image
from tests.cli.plugin import install_plugin
from tests.cli.server_process import REPO, ServerProcess

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_finishes_the_extraction_in_hand(tmp_path: Path, stop_signal: signal.Signals) -> None:
    site = install_plugin(tmp_path / "site")
    env = {
        "RECEIPTCORE_EXTRACTOR": "scripted",
        "SCRIPTED_EXTRACTOR_DELAY": "2",
        "RECEIPTCORE_WORKER_POLL_SECONDS": "0.2",
        "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]),
    }
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir, cwd=tmp_path, env=env).start()
    try:
        assert server.admin is not None
        email, password = server.admin
        token = httpx.post(f"{server.url}/auth/login", json={"email": email, "password": password}).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        upload = httpx.post(f"{server.url}/api/receipts", files={"file": ("r.jpg", receipt_image())}, headers=auth)
        assert upload.status_code == 202, upload.text
        receipt_id = upload.json()["receipts"][0]["id"]
        deadline = time.monotonic() + 10
        while httpx.get(f"{server.url}/api/receipts/{receipt_id}", headers=auth).json()["status"] != "processing":
            assert time.monotonic() < deadline, "the worker never claimed the receipt"
            time.sleep(0.05)
        server.send_signal(stop_signal)  # the scripted extractor is mid-way through its 2 s
        code = server.wait()
    finally:
        server.stop()
    assert code == 0, server.output
    assert "Traceback" not in server.output

    restarted = ServerProcess(data_dir, cwd=tmp_path, env={**env, "RECEIPTCORE_WORKER_ENABLED": "false"}).start()
    try:
        token = httpx.post(f"{restarted.url}/auth/login", json={"email": email, "password": password}).json()
        receipt = httpx.get(
            f"{restarted.url}/api/receipts/{receipt_id}", headers={"Authorization": f"Bearer {token['access_token']}"}
        ).json()
        # finished by the stopping process itself (this one runs no worker)
        assert receipt["status"] == "extracted", receipt
        assert receipt["total"] == "4.70"
    finally:
        restarted.stop()


def test_the_first_admin_banner_sends_the_admin_to_the_web_clients_settings_page() -> None:
    from receiptcore.entrypoints.serve import admin_banner

    banner = admin_banner("http://127.0.0.1:8000", "admin@localhost", "secret-once")
    assert "http://127.0.0.1:8000/settings" in banner
    assert "shown only once" in banner
