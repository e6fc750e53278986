"""End to end: the real `receiptcore serve` process, the CLI's `import` and `export`, the real OCR extractor.

The receipts are the first three SROIE development receipts (by id) whose labels have a company, a date and a
total: 000, 001 and 002, chosen by that rule and not by how well the extractor reads them. Labels are compared
normalised as the data README recommends: upper case, totals as decimals without ``RM``, dates parsed to ISO; the
merchant must share at least half of the label's words (the label is the legal name, the receipt prints a brand).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.cli.server_process import REPO, ServerProcess, clean_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SROIE = REPO.parent / "shared" / "data" / "receipts" / "sroie"
EXTRACTION_TIMEOUT = 240.0
_MONTHS = {
    m: i
    for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)
}


def pick_receipts(n: int = 3) -> list[str]:
    """The first ``n`` receipt ids whose labels have company, date and total."""
    chosen = []
    for label in sorted(SROIE.glob("*.json")):
        data = json.loads(label.read_text())
        if all(str(data.get(key, "")).strip() for key in ("company", "date", "total")):
            chosen.append(label.stem)
        if len(chosen) == n:
            return chosen
    pytest.skip(f"fewer than {n} labelled receipts under {SROIE}")
    return []


def label_date(text: str) -> dt.date:
    """A SROIE label date (``2016-07-31``, ``30/03/2017``, ``30 DEC 17``, ``25/FEB/2017``, ``04-06-16``) as a date."""
    parts = re.split(r"[\s/.-]+", text.strip().upper())
    if len(parts[0]) == 4:
        year, month, day = parts
    else:
        day, month, year = parts
    number = _MONTHS[month[:3]] if month[:3] in _MONTHS else int(month)
    full_year = int(year) + 2000 if len(year) == 2 else int(year)
    return dt.date(full_year, number, int(day))


def words(text: str | None) -> set[str]:
    """Upper-case alphanumeric words."""
    return set(re.findall(r"[A-Z0-9]+", (text or "").upper()))


def merchant_overlap(label: str, read: str | None) -> float:
    """Share of the label's words that the extracted merchant name contains."""
    expected = words(label)
    return len(expected & words(read)) / len(expected)


def cli(
    *args: str, data_dir: Path, cwd: Path, stdin: str = "", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m receiptcore ...` as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "receiptcore", *args],
        input=stdin,
        cwd=cwd,
        env=clean_env(data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def login(url: str, email: str, password: str) -> httpx.Client:
    """An HTTP client holding a fresh access token."""
    response = httpx.post(f"{url}/auth/login", json={"email": email, "password": password}, timeout=30)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def wait_for_extraction(client: httpx.Client, count: int) -> list[dict[str, object]]:
    """Poll the listing until ``count`` receipts are extracted or need review."""
    deadline = time.monotonic() + EXTRACTION_TIMEOUT
    while True:
        items = client.get("/api/receipts", params={"limit": 50}).json()["items"]
        done = [r for r in items if r["status"] in ("extracted", "needs_review")]
        failed = [r for r in items if r["status"] == "failed"]
        assert not failed, f"extraction failed: {[r['extraction'] for r in failed]}"
        if len(done) == count:
            return done
        assert time.monotonic() < deadline, f"not extracted in time: {[r['status'] for r in items]}"
        time.sleep(1)


def test_three_receipts_through_the_real_server_and_cli_survive_a_restart(tmp_path: Path) -> None:
    ids = pick_receipts()
    labels = {f"{i}.jpg": json.loads((SROIE / f"{i}.json").read_text()) for i in ids}
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in ids:
        shutil.copy(SROIE / f"{i}.jpg", inbox / f"{i}.jpg")
    (inbox / "notes.txt").write_text("not a receipt")
    data_dir = tmp_path / "data"

    server = ServerProcess(data_dir, cwd=tmp_path).start()
    try:
        assert server.admin is not None, server.output
        email, password = server.admin
        assert f"serving {server.url}" in server.output
        assert "extractor: ocr" in server.output

        def as_admin(*args: str) -> subprocess.CompletedProcess[str]:
            """Run an HTTP command of the CLI against this server, signed in as the first admin."""
            auth = ("--server", server.url, "--email", email, "--password-stdin")
            return cli(*args, *auth, data_dir=data_dir, cwd=tmp_path, stdin=password + "\n")

        imported = as_admin("import", str(inbox))
        assert imported.returncode == 0, imported.stdout + imported.stderr
        assert "3 imported, 0 duplicate, 0 refused, 1 skipped" in imported.stdout

        with login(server.url, email, password) as client:
            receipts = wait_for_extraction(client, 3)
        results = {}
        for receipt in receipts:
            name = receipt["source"]["filename"]  # type: ignore[index]
            label = labels[name]
            results[name] = receipt
            assert receipt["total"] is not None, f"{name}: no total"
            assert Decimal(str(receipt["total"])) == Decimal(label["total"].upper().removeprefix("RM")), name
            assert receipt["purchase_date"] == label_date(label["date"]).isoformat(), name
            merchant = receipt["merchant"]["name"]  # type: ignore[index]
            assert merchant_overlap(label["company"], merchant) >= 0.5, f"{name}: {merchant!r} vs {label['company']!r}"

        again = as_admin("import", str(inbox))
        assert again.returncode == 0, again.stdout + again.stderr
        assert "0 imported, 3 duplicate" in again.stdout

        exported = as_admin("export", "--format", "csv", "--output", str(tmp_path / "out.csv"))
        assert exported.returncode == 0, exported.stdout + exported.stderr
        rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text(encoding="utf-8-sig"))))
        assert len(rows) == 3
    finally:
        code = server.stop()
    assert code == 0, server.output
    assert "Traceback" not in server.output, server.output

    restarted = ServerProcess(data_dir, cwd=tmp_path).start()
    try:
        assert restarted.admin is None, "the first-admin password must be printed only once"
        with login(restarted.url, email, password) as client:
            items = client.get("/api/receipts", params={"limit": 50}).json()["items"]
        assert {r["id"]: (r["total"], r["purchase_date"], r["status"]) for r in items} == {
            r["id"]: (r["total"], r["purchase_date"], r["status"]) for r in results.values()
        }
    finally:
        assert restarted.stop() == 0, restarted.output


def test_serve_on_an_occupied_port_exits_1_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        data_dir = tmp_path / "data"
        result = cli("serve", "--host", "127.0.0.1", "--port", str(port), data_dir=data_dir, cwd=tmp_path, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert f"127.0.0.1:{port}" in errors[0]
    assert "already in use" in errors[0]
    # nothing was created by a process that could not serve: no admin password was shown or stored
    assert "password:" not in result.stdout
    assert not data_dir.exists()
    listed = cli("users", "list", "--json", data_dir=data_dir, cwd=tmp_path)
    assert listed.returncode == 1, listed.stderr  # a read-only command names the missing store, creates none
    assert "no receiptcore store in data dir" in listed.stderr
    assert not data_dir.exists()
