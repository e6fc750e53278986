"""The suite-wide log capture of tests/conftest.py works: it sees every record, and the search finds leaks."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pytest

from tests.log_secrets import TEST_PASSWORDS, RawRecordFormatter, append_process_output, find_leaks

JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxMjM0NTYifQ.c2lnbmF0dXJlc2lnbmF0dXJl"


def test_every_record_of_this_process_reaches_the_suite_log(suite_logs: Path) -> None:
    marker = f"capture-marker-{secrets.token_hex(8)}"
    logging.getLogger("receiptcore.some.module").info("an info line %s", marker)
    for handler in logging.getLogger().handlers:
        handler.flush()
    captured = "".join(p.read_text(encoding="utf-8") for p in suite_logs.glob("*.log"))
    assert marker in captured


def _write(directory: Path, *messages: str, secrets_seen: tuple[str, ...] = ()) -> None:
    formatter = RawRecordFormatter()
    lines = [formatter.format(logging.LogRecord("x", logging.INFO, __file__, 1, m, None, None)) for m in messages]
    (directory / "gw9.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (directory / "gw9.secrets").write_text("".join(s + "\n" for s in secrets_seen), encoding="utf-8")


def test_the_search_finds_passwords_tokens_and_generated_secrets(tmp_path: Path) -> None:
    refresh = "kR4nd0mOpaqueRefreshTokenValue1234567890abc"
    _write(
        tmp_path,
        "all fine here",
        f"login with {TEST_PASSWORDS[0]}",
        f"header Bearer {JWT}",
        f"cookie value {refresh}",
        secrets_seen=(refresh,),
    )
    leaks = find_leaks(tmp_path)
    assert [leak.split(": ")[1] for leak in leaks] == ["a test password", "a JWT", "a generated secret"]


def test_redacted_lines_and_the_first_admin_banner_are_not_leaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, "Authorization: Bearer [redacted]", "token [redacted] refused")
    monkeypatch.setenv("RECEIPTCORE_TEST_LOG_DIR", str(tmp_path))
    rule = "=" * 72
    banner = f"{rule}\nFirst start: an administrator account was created.\n  password: {TEST_PASSWORDS[0]}\n{rule}\n"
    append_process_output(banner + "serving\n", "serve-1")
    assert find_leaks(tmp_path) == []
