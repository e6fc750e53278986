"""``receiptcore backup`` / ``restore``: a verified snapshot of the embedded profile (issue 11, operations)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.cli.conftest import Invoke, assert_one_line_error

PASSWORD = "correct horse battery staple 42"


def _seed(invoke: Invoke, data_dir: Path) -> None:
    assert invoke("users", "create-admin", "admin@localhost", "--password-stdin", input=PASSWORD).exit_code == 0
    (data_dir / "keys").mkdir(exist_ok=True)
    (data_dir / "keys" / "signing.pem").write_text("not a real key\n")
    files = data_dir / "files" / "ab"
    files.mkdir(parents=True)
    (files / ("ab" + "0" * 62)).write_bytes(b"an unreferenced file is not part of a snapshot")


def test_backup_then_restore_into_a_new_data_dir_keeps_everything(
    invoke: Invoke, data_dir: Path, tmp_path: Path
) -> None:
    _seed(invoke, data_dir)
    dest = tmp_path / "backup"
    made = invoke("backup", str(dest))
    assert made.exit_code == 0, made.output
    assert "1 users" in made.stdout
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["rows"]["users"] == 1
    assert "keys/signing.pem" in manifest["files"]
    assert not any(name.startswith("files/") for name in manifest["files"])  # unreferenced: not in the snapshot
    assert invoke("restore", "--verify-only", str(dest)).exit_code == 0

    target = tmp_path / "restored"
    restored = invoke("--data-dir", str(target), "restore", str(dest))
    assert restored.exit_code == 0, restored.output
    listing = invoke("--data-dir", str(target), "users", "list", "--json")
    assert [u["email"] for u in json.loads(listing.stdout)] == ["admin@localhost"]
    assert (target / "keys" / "signing.pem").read_text() == "not a real key\n"
    assert oct((target / "keys").stat().st_mode & 0o777) == "0o700"


def test_restore_refuses_a_non_empty_data_dir_without_force_and_moves_it_aside_with_it(
    invoke: Invoke, data_dir: Path, tmp_path: Path
) -> None:
    _seed(invoke, data_dir)
    dest = tmp_path / "backup"
    assert invoke("backup", str(dest)).exit_code == 0
    assert invoke("users", "create", "late@example.org", "--password-stdin", input=PASSWORD).exit_code == 0
    refused = invoke("restore", str(dest))
    assert_one_line_error(refused, contains="--force")
    assert "late@example.org" in invoke("users", "list").stdout  # untouched
    forced = invoke("restore", "--force", str(dest))
    assert forced.exit_code == 0, forced.output
    assert "moved the previous data dir aside" in forced.stderr
    assert "late@example.org" not in invoke("users", "list").stdout
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("data.replaced-")]
    assert len(aside) == 1
    assert (aside[0] / "receiptcore.sqlite3").exists()


def test_a_damaged_backup_is_refused_before_anything_is_written(invoke: Invoke, data_dir: Path, tmp_path: Path) -> None:
    _seed(invoke, data_dir)
    dest = tmp_path / "backup"
    assert invoke("backup", str(dest)).exit_code == 0
    (dest / "keys" / "signing.pem").write_text("tampered\n")
    target = tmp_path / "restored"
    assert_one_line_error(invoke("--data-dir", str(target), "restore", str(dest)), contains="SHA-256")
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if ".restore-" in p.name]  # no staging left behind


def test_row_counts_are_checked_too(invoke: Invoke, data_dir: Path, tmp_path: Path) -> None:
    _seed(invoke, data_dir)
    dest = tmp_path / "backup"
    assert invoke("backup", str(dest)).exit_code == 0
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["rows"]["users"] = 2
    (dest / "manifest.json").write_text(json.dumps(manifest))
    assert_one_line_error(invoke("restore", "--verify-only", str(dest)), contains="row counts")


def test_backup_refuses_a_non_empty_destination_a_missing_store_and_a_foreign_dir(
    invoke: Invoke, data_dir: Path, tmp_path: Path
) -> None:
    assert_one_line_error(invoke("backup", str(tmp_path / "b")), contains="no receiptcore database")
    _seed(invoke, data_dir)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    assert_one_line_error(invoke("backup", str(busy)), contains="not empty")
    assert_one_line_error(invoke("restore", "--verify-only", str(busy)), contains="not a receiptcore backup")
    assert_one_line_error(invoke("restore", "--verify-only", str(tmp_path / "nope")), code=2)


def test_the_snapshot_is_a_self_contained_database(invoke: Invoke, data_dir: Path, tmp_path: Path) -> None:
    _seed(invoke, data_dir)
    dest = tmp_path / "backup"
    assert invoke("backup", str(dest)).exit_code == 0
    assert not (dest / "receiptcore.sqlite3-wal").exists()
    conn = sqlite3.connect(dest / "receiptcore.sqlite3")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
