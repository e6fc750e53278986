"""Searching the suite's captured logs for secrets (see tests/conftest.py)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

# every password the tests use (their modules' PASSWORD constants)
TEST_PASSWORDS = (
    "correct horse battery staple 42",
    "violet-kestrel-harbour-42",
    "a long enough test password 7",
    "a brand new passphrase 77",
    "a new passphrase from stdin 5",
    "another good passphrase 9",
)
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
BEARER = re.compile(r"(?i)\bbearer\s+(?!\[redacted\])[A-Za-z0-9._~+/=-]{16,}")
# the first-admin banner is printed on purpose (stdout of `serve`, once); it is not a log line
_BANNER = re.compile(r"^={20,}$.*?^={20,}$", re.MULTILINE | re.DOTALL)
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def suite_log_dir(basetemp: Path) -> Path:
    """The directory every process of one run writes its logs to (shared by xdist workers)."""
    root = basetemp.parent if basetemp.name.startswith("popen-gw") else basetemp
    return root / "suite-logs"


def known_secrets_file(directory: Path, worker: str) -> Path:
    """Where a test process records the secrets the code under test generated."""
    return directory / f"{worker}.secrets"


class RawRecordFormatter(logging.Formatter):
    """One JSON line per record: the message, every extra field and the exception, unredacted."""

    def format(self, record: logging.LogRecord) -> str:
        extras = {k: str(v) for k, v in vars(record).items() if k not in _STANDARD}
        body = {"logger": record.name, "level": record.levelname, "message": record.getMessage(), "extra": extras}
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


def append_process_output(output: str, name: str) -> None:
    """Add a child process's whole output to the suite's logs (no-op outside a test session)."""
    import os

    directory = os.environ.get("RECEIPTCORE_TEST_LOG_DIR")
    if not directory:
        return
    with (Path(directory) / f"process-{name}.log").open("a", encoding="utf-8") as fh:
        fh.write(_BANNER.sub("[first-admin banner]", output))
        fh.write("\n")


def find_leaks(directory: Path) -> list[str]:
    """``file:line: what`` for every captured log line that holds a secret."""
    generated = set()
    for path in directory.glob("*.secrets"):
        generated.update(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if len(line) >= 16)
    leaks: list[str] = []
    for path in sorted(directory.glob("*.log")):
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            what = _leak_in(line, generated)
            if what is not None:
                leaks.append(f"{path.name}:{number}: {what}: {line[:200]}")
    return leaks


def _leak_in(line: str, generated: set[str]) -> str | None:
    for password in TEST_PASSWORDS:
        if password in line:
            return "a test password"
    if JWT.search(line):
        return "a JWT"
    if BEARER.search(line):
        return "a bearer token"
    for token in re.findall(r"[A-Za-z0-9_-]{16,}", line):
        if token in generated:
            return "a generated secret"
    return None
