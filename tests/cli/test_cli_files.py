"""The one rule of ``import`` and ``watch`` (stumble 8 of issue 11): a fake ``.pdf`` is refused by both, a
``notes.txt`` skipped by both, and both exit 1 exactly when something was refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from receiptcore.entrypoints import cli_transfer, cli_watch
from receiptcore.entrypoints.cli_files import (
    EXIT_OK,
    EXIT_REFUSED,
    NOT_A_RECEIPT,
    Tally,
    is_candidate,
    refusal,
    walk_files,
)
from tests.cli.conftest import receipt_image


@pytest.mark.parametrize(
    ("name", "content", "candidate", "refused"),
    [
        ("shop.jpg", receipt_image(), True, False),
        ("SHOP.JPEG", receipt_image(), True, False),
        ("fake.pdf", b"just text, named like a PDF", True, True),
        ("fake.png", b"", True, True),
        ("scan.pdf", b"\n%PDF-1.7\n...", True, False),
        ("notes.txt", b"a shopping list", False, False),
        ("receipt.jpg.part", receipt_image(), False, False),
    ],
)
def test_candidates_are_named_like_receipts_and_refused_when_their_bytes_are_not(
    name: str, content: bytes, candidate: bool, refused: bool
) -> None:
    assert is_candidate(Path(name)) is candidate
    if candidate:
        assert (refusal(content) == NOT_A_RECEIPT) is refused


def test_hidden_files_and_folders_are_never_walked(tmp_path: Path) -> None:
    (tmp_path / ".done").mkdir()
    (tmp_path / ".done" / "old.jpg").write_bytes(receipt_image())
    (tmp_path / ".DS_Store").write_bytes(b"x")
    (tmp_path / "new.jpg").write_bytes(receipt_image())
    assert [p.name for p in walk_files(tmp_path, recursive=True)] == ["new.jpg"]


def test_the_exit_code_says_whether_anything_was_refused() -> None:
    tally = Tally(imported=2, duplicate=1, skipped={Path("notes.txt")})
    assert tally.exit_code() == EXIT_OK
    assert tally.summary() == "2 imported, 1 duplicate, 0 refused, 1 skipped (not receipt files)"
    tally.refused["fake.pdf"] = NOT_A_RECEIPT
    assert tally.exit_code() == EXIT_REFUSED


def test_import_and_watch_share_the_rule() -> None:
    # not two copies that can drift apart again: both commands use the functions of cli_files
    assert cli_transfer.refusal is cli_watch.refusal is refusal
    assert cli_transfer.is_candidate is cli_watch.is_candidate is is_candidate
