"""One log format (issue 11, §11): text or JSON lines, the request id on every record, never a secret."""

from __future__ import annotations

import io
import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiptcore.entrypoints import logs as logs_module
from receiptcore.entrypoints.logs import REDACTED, configure_logging, make_handler, redact, request_id_var

JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxMjM0NTYifQ.c2lnbmF0dXJlc2lnbmF0dXJl"


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {JWT}",
        f"GET /api/events?access_token={JWT}",
        'body {"refresh_token": "kR4nd0mOpaqueRefreshTokenValue1234567890abc"}',
        "login password=hunter2hunter2 failed",
        "connecting to postgresql://receipt:s3cretpass@db:5432/receiptcore",
        f"token in the middle {JWT} of a line",
        "Cookie: receiptcore_refresh=kR4nd0mOpaqueRefreshTokenValue1234567890abc; Path=/auth",
    ],
)
def test_secrets_are_redacted_wherever_they_appear(text: str) -> None:
    cleaned = redact(text)
    assert REDACTED in cleaned
    for secret in (JWT, "kR4nd0mOpaqueRefreshTokenValue", "hunter2", "s3cretpass"):
        assert secret not in cleaned


def test_ordinary_lines_are_left_alone() -> None:
    line = "receipt 01a2 → extracted (token_version 3, 12 ms)"
    assert redact(line) == line


def _configured(fmt: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    configure_logging("info", fmt, stream)  # type: ignore[arg-type]
    return logging.getLogger("receiptcore.test"), stream


def _isolated(fmt: str) -> tuple[logging.Logger, io.StringIO]:
    """A logger with the formatter of ``fmt`` that does not propagate: these records carry secrets on purpose,
    and must not reach the suite's own capture (which fails the run on a secret in any log)."""
    stream = io.StringIO()
    logger = logging.getLogger(f"receiptcore.test.isolated.{fmt}")
    logger.propagate = False
    logger.handlers = [make_handler(fmt, stream)]  # type: ignore[arg-type]
    logger.setLevel(logging.INFO)
    return logger, stream


@pytest.fixture(autouse=True)
def _restore_root_logging() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield None
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def _fail_with_a_token() -> None:
    raise ValueError(f"bad header Bearer {JWT}")


def test_json_lines_carry_the_request_id_extras_and_redacted_exceptions() -> None:
    logger, stream = _isolated("json")
    token = request_id_var.set("req-42")
    try:
        logger.info("GET %s", "/api/receipts", extra={"status": 200, "duration_ms": 1.5})
        try:
            _fail_with_a_token()
        except ValueError:
            logger.exception("boom")
    finally:
        request_id_var.reset(token)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{"))
    assert first["message"] == "GET /api/receipts"
    assert first["request_id"] == "req-42"
    assert first["status"] == 200
    assert first["level"] == "info"
    assert first["time"].endswith("Z")
    assert "exception" in second
    assert JWT not in stream.getvalue()


def test_text_lines_are_one_line_with_key_values() -> None:
    logger, stream = _configured("text")
    logger.warning("store slow", extra={"request_id": "abc"})
    (line,) = stream.getvalue().splitlines()
    assert " WARNING receiptcore.test: store slow request_id=abc" in line


def test_auto_is_json_when_the_stream_is_not_a_terminal() -> None:
    logger, stream = _configured("auto")
    logger.info("hello")
    assert json.loads(stream.getvalue())["message"] == "hello"


def test_uvicorn_loggers_go_through_the_one_handler() -> None:
    _, stream = _configured("json")
    logging.getLogger("uvicorn.error").info("Started server process")
    assert json.loads(stream.getvalue())["logger"] == "uvicorn.error"


def _every_pattern(text: str) -> str:
    """``redact`` without its substring pre-checks: every pattern substituted in turn."""
    for pattern in logs_module._SECRET_PATTERNS:
        text = pattern.sub(logs_module._keep_prefix, text)
    return text


_PIECES = st.sampled_from(
    [
        "Bearer ",
        "bEaReR\t",
        JWT,
        "eyJ",
        "token=",
        "PASSWORD: ",
        '"secret": "',
        "api_key=",
        "postgresql://user:",
        "@db",
        "://",
        "@",
        "=",
        ":",
        " ",
        "/api/receipts/{rid}",
        "\u212a",
        "s3cr3t",
    ]
)


@given(st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=12).map("".join))
@settings(max_examples=400, deadline=None)
def test_the_pre_checks_never_change_what_is_redacted(text: str) -> None:
    assert redact(text) == _every_pattern(text)
