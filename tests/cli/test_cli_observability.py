"""A real ``serve`` process: one log format (JSON lines here), request ids, and ``/metrics`` on its own port only."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cli.conftest import receipt_image
from tests.cli.plugin import install_plugin
from tests.cli.server_process import REPO, ServerProcess, clean_env

pytestmark = pytest.mark.slow

_OPERATOR_LINES = re.compile(
    r"^(receiptcore \S+ serving |metrics on |=+$|First start|  URL:|  email:|  password:|This pass)"
)


def test_serve_logs_json_lines_with_request_ids_and_serves_metrics_on_a_separate_port(tmp_path: Path) -> None:
    site = install_plugin(tmp_path / "site")
    env = {
        "RECEIPTCORE_EXTRACTOR": "scripted",
        "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]),
        "RECEIPTCORE_METRICS_PORT": "0",
        "RECEIPTCORE_WORKER_POLL_SECONDS": "0.2",
    }
    with ServerProcess(tmp_path / "data", cwd=tmp_path, env=env) as server:
        assert server.admin is not None
        email, password = server.admin
        login = httpx.post(f"{server.url}/auth/login", json={"email": email, "password": password})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}", "X-Request-ID": "trace-0042"}
        upload = httpx.post(f"{server.url}/api/receipts", files={"file": ("r.jpg", receipt_image())}, headers=headers)
        assert upload.status_code == 202
        assert upload.headers["x-request-id"] == "trace-0042"
        assert httpx.get(f"{server.url}/metrics").status_code == 404  # never on the public port
        match = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)", server.output)
        assert match is not None, server.output
        scrape = httpx.get(match.group(1))
        assert scrape.status_code == 200
        names = {family.name for family in text_string_to_metric_families(scrape.text)}
        expected = {
            "receiptcore_http_requests",
            "receiptcore_http_request_duration_seconds",
            "receiptcore_logins",
            "receiptcore_receipts",
            "receiptcore_queue_depth",
            "receiptcore_queue_oldest_pending_age_seconds",
            "receiptcore_extractions",
            "receiptcore_extraction_failures",
            "receiptcore_extraction_duration_seconds",
            "receiptcore_llm_spend_usd_today",
        }
        assert expected <= names
        output = server.output
    log_lines = [line for line in output.splitlines() if line.strip() and not _OPERATOR_LINES.match(line)]
    assert log_lines
    records = [json.loads(line) for line in log_lines]  # every log line is one JSON object: one format
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    upload_lines = [r for r in records if r.get("path") == "/api/receipts" and r.get("method") == "POST"]
    assert [r["request_id"] for r in upload_lines] == ["trace-0042"]
    assert password not in output.split("This password is shown only once")[-1]


def test_a_separate_worker_serves_its_extraction_metrics_too(tmp_path: Path) -> None:
    env = clean_env(tmp_path / "data", {"RECEIPTCORE_METRICS_PORT": "0", "RECEIPTCORE_EXTRACTOR": "ocr"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "receiptcore", "worker"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            found = re.search(r"metrics on (http://\S+)", line)
            url = found.group(1) if found else None
        assert url is not None, "the worker never announced its metrics listener"
        scrape = httpx.get(url)
        assert scrape.status_code == 200
        assert "receiptcore_queue_depth" in scrape.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0


def test_the_last_access_lines_before_sigterm_are_all_in_the_output(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "data", cwd=tmp_path) as server, httpx.Client(base_url=server.url) as client:
        ids = [f"before-stop-{n}" for n in range(20)]
        for rid in ids:
            assert client.get("/auth/me", headers={"X-Request-ID": rid}).status_code == 401
        assert server.stop() == 0  # SIGTERM right after the last answer
        output = server.output
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [r["request_id"] for r in records if r.get("logger") == "receiptcore.http" and r.get("path") == "/auth/me"]
    assert access == ids  # every line, whole and in order, none lost to the stop
