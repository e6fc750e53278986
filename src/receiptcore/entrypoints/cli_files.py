"""The one rule ``import`` and ``watch`` share: which files are receipts, which are skipped, which are refused,
and what the exit code says.

- **Skipped** (not an error, not reported one by one): hidden files and folders (``.done``, ``.failed``,
  ``.DS_Store``) and files whose name does not end in ``.jpg``, ``.jpeg``, ``.png``, ``.webp`` or ``.pdf``
  (``notes.txt``). A folder of receipts may hold other things.
- **Refused** (an error, listed with its reason): a file named like a receipt whose bytes are not JPEG, PNG,
  WebP or PDF (a ``fake.pdf``), and any file the server refuses (corrupt, too large, a pixel bomb).
- Everything else is uploaded: **imported**, or a **duplicate** when the same bytes were uploaded before.

Exit codes (``EXIT_*``): 0 when no file was refused (skipped and duplicate files are fine), 1 when any file was
refused or the run could not finish (no server, wrong password, server unavailable), 2 for a usage error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

RECEIPT_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".pdf"})
NOT_A_RECEIPT = "not a receipt file: the bytes are not JPEG, PNG, WebP or PDF"
SNIFF_BYTES = 1024

EXIT_OK = 0
EXIT_REFUSED = 1  # also every one-line CLI error (CliError)
EXIT_USAGE = 2  # click's own code for bad options and arguments


def sniff_type(head: bytes) -> str | None:
    """The receipt media type recognised from a file's first bytes, or None (same types the server accepts)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.lstrip(b"\x00\t\r\n ")[:5] == b"%PDF-":
        return "application/pdf"
    return None


def is_candidate(path: Path) -> bool:
    """Whether a (non-hidden) file is named like a receipt; other files are skipped."""
    return path.suffix.lower() in RECEIPT_SUFFIXES


def refusal(head: bytes) -> str | None:
    """Why a candidate file is refused before upload (its first bytes are not a receipt type), or None."""
    return None if sniff_type(head[:SNIFF_BYTES]) is not None else NOT_A_RECEIPT


def walk_files(directory: Path, recursive: bool) -> Iterator[Path]:
    """Regular files under ``directory``, sorted, skipping hidden files and folders (``.done``, ``.failed``)."""
    pattern = "**/*" if recursive else "*"
    for path in sorted(directory.glob(pattern)):
        if any(part.startswith(".") for part in path.relative_to(directory).parts):
            continue
        if path.is_file():
            yield path


@dataclass(slots=True)
class Tally:
    """Counts of an import or watch run, and why each refused file was refused."""

    imported: int = 0
    duplicate: int = 0
    skipped: set[Path] = field(default_factory=set)
    refused: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for the operator, the same for import and watch."""
        return (
            f"{self.imported} imported, {self.duplicate} duplicate, {len(self.refused)} refused, "
            f"{len(self.skipped)} skipped (not receipt files)"
        )

    def exit_code(self) -> int:
        """``EXIT_REFUSED`` when any file was refused, else ``EXIT_OK``."""
        return EXIT_REFUSED if self.refused else EXIT_OK
