"""One log format (issue 11, §11): text or JSON lines, the request id on every record, never a secret."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiptcore.entrypoints import logs as logs_module
from receiptcore.entrypoints.http import observe
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


# ---- the line without a record (log_direct) and the timestamp ------------------------------------------------


def _datetime_timestamp(created: float) -> str:
    """What ``_timestamp`` replaced: the datetime of ``created``, to the millisecond."""
    moment = dt.datetime.fromtimestamp(created, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_NEAR_A_MILLISECOND = st.sampled_from([0.0, 0.0005, 0.0004999, 0.0005001, 0.9994999, 0.9995, 0.9999994, 0.9999995])


@given(
    st.one_of(
        st.floats(min_value=-1e9, max_value=4e9, allow_nan=False),
        st.builds(lambda second, frac: second + frac, st.integers(0, 4_000_000_000), _NEAR_A_MILLISECOND),
    )
)
@settings(max_examples=2000, deadline=None)
def test_the_cached_second_gives_the_datetime_text(created: float) -> None:
    assert logs_module._timestamp(created) == _datetime_timestamp(created)


@pytest.fixture
def sole_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], io.StringIO]]:
    """Leave only the receiptcore handler of a format on the root logger, as ``serve`` runs (the suite's own
    capture handler is put back afterwards); time stands still, so two lines of the same record compare."""
    root = logging.getLogger()
    saved = list(root.handlers)
    monkeypatch.setattr(time, "time", lambda: 1_796_650_941.123456)

    def install(fmt: str) -> io.StringIO:
        stream = io.StringIO()
        root.handlers = []
        configure_logging("info", fmt, stream)  # type: ignore[arg-type]
        return stream

    yield install
    root.handlers = saved


_TEXTS = st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=8).map("".join)


@pytest.mark.parametrize("fmt", ["json", "text"])
@given(
    path=_TEXTS,
    rid=st.one_of(st.none(), _TEXTS),
    client=st.one_of(st.none(), _TEXTS),
    status=st.integers(100, 599),
    duration=st.floats(0, 1e6, allow_nan=False),
)
# the fixture's install() starts a fresh handler and stream for each example
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_direct_line_is_the_line_of_the_record(  # noqa: PLR0917 - one generated value per field
    sole_handler: Callable[[str], io.StringIO],
    fmt: str,
    path: str,
    rid: str | None,
    client: str | None,
    status: int,
    duration: float,
) -> None:
    stream = sole_handler(fmt)
    logger = logging.getLogger("receiptcore.http")
    args = ("GET", path, status, duration)
    fields = {"method": "GET", "path": path, "route": "/x/{rid}", "status": status, "duration_ms": duration}
    written: list[str] = []

    def new_text() -> str:
        text = stream.getvalue()[sum(map(len, written)) :]
        written.append(text)
        return text

    rid_token, client_token = request_id_var.set(rid), logs_module.client_var.set(client)
    try:
        for extra in (fields, {**fields, "request_id": "given-id"}):
            logger.info("%s %s %s %s ms", *args, extra=extra)
            through_record = new_text()
            assert logs_module.log_direct(logger, logging.INFO, "%s %s %s %s ms", args, extra)
            assert new_text() == through_record
    finally:
        request_id_var.reset(rid_token)
        logs_module.client_var.reset(client_token)


def test_a_direct_line_is_written_only_when_the_receiptcore_handler_alone_would_see_it(
    sole_handler: Callable[[str], io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = sole_handler("json")
    logger = logging.getLogger("receiptcore.http")
    parent = logging.getLogger("receiptcore")

    def direct() -> bool:
        return logs_module.log_direct(logger, logging.INFO, "%s", ("line",), {"status": 200})

    assert direct()
    assert not logs_module.log_direct(logger, logging.DEBUG, "%s", ("line",), {})  # below the level
    assert not logs_module.log_direct(logger, logging.INFO, "%s", ("line",), {"message": "x"})  # a reserved name
    checks = [
        (logging.getLogger(), "handlers", [*logging.getLogger().handlers, logging.NullHandler()]),  # a capture
        (logger, "filters", [logging.Filter("other")]),
        (parent, "handlers", [logging.NullHandler()]),
        (parent, "propagate", False),
        (logger, "disabled", True),
        (logging.getLogger().handlers[0], "level", logging.ERROR),
        (logging.getLogger().handlers[0], "filters", []),
        (logging.getLogger().handlers[0], "formatter", logging.Formatter()),
    ]
    for target, name, value in checks:
        with monkeypatch.context() as patch:
            patch.setattr(target, name, value)
            assert not direct(), (target, name)
    with monkeypatch.context() as patch:
        patch.setattr(logging, "_logRecordFactory", type("Custom", (logging.LogRecord,), {}))
        assert not direct()
    assert direct()
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == ["line", "line"]


def test_the_access_line_is_the_same_written_directly_or_through_a_record(
    sole_handler: Callable[[str], io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = sole_handler("json")
    scope = {"path": f"/api/receipts/{JWT}"}
    client = logs_module.client_var.set("10.1.2.3")
    try:
        observe._log_access(scope, ("GET", "/api/receipts/{rid}", 404), 0.00123, "rid-1")  # type: ignore[arg-type]
        monkeypatch.setattr(observe, "log_direct", lambda *_args: False)
        observe._log_access(scope, ("GET", "/api/receipts/{rid}", 404), 0.00123, "rid-1")  # type: ignore[arg-type]
    finally:
        logs_module.client_var.reset(client)
    direct, through_record = stream.getvalue().splitlines()
    assert direct == through_record
    assert json.loads(direct) == {
        "time": "2026-12-07T13:42:21.123Z",
        "level": "info",
        "logger": "receiptcore.http",
        "message": f"GET /api/receipts/{REDACTED} 404 1.2 ms",
        "method": "GET",
        "path": f"/api/receipts/{REDACTED}",
        "route": "/api/receipts/{rid}",
        "status": 404,
        "duration_ms": 1.2,
        "request_id": "rid-1",
        "client": "10.1.2.3",
    }


_VALUES = st.one_of(
    st.text(), st.integers(), st.floats(), st.booleans(), st.none(), st.lists(st.integers(), max_size=2)
)


@given(st.dictionaries(st.text(max_size=8), _VALUES, max_size=8))
@settings(max_examples=500, deadline=None)
def test_the_direct_json_of_a_line_is_the_encoders(body: dict[str, object]) -> None:
    assert logs_module._encode(body) == logs_module._JSON.encode(body)


def _dict_json_line(  # noqa: PLR0917 - the attributes of a record
    created: float, level: str, name: str, message: str, fields: dict[str, object], exception: str | None
) -> str:
    """What ``JsonFormatter.line`` wrote before its strings were kept: the object as a dict, the encoder's JSON."""
    body: dict[str, object] = {
        "time": logs_module._timestamp(created),
        "level": level.lower(),
        "logger": name,
        "message": redact(message),
    }
    for key, value in fields.items():
        body[key] = redact(value) if isinstance(value, str) else logs_module._jsonable(value)
    if exception is not None:
        body["exception"] = redact(exception)
    return logs_module._JSON.encode(body)


_FIELD_NAMES = st.one_of(
    st.sampled_from(["method", "path", "request_id", "client", "time", "level", "logger", "message", "exception"]),
    st.text(max_size=6),
)


@given(
    created=st.floats(min_value=-1e9, max_value=4e9, allow_nan=False),
    level=st.sampled_from(["INFO", "DEBUG", "WARNING", "Level 5"]),
    name=st.one_of(st.sampled_from(["receiptcore.http", "uvicorn.error"]), _TEXTS),
    message=_TEXTS,
    fields=st.dictionaries(_FIELD_NAMES, st.one_of(_TEXTS, _VALUES), max_size=8),
    exception=st.one_of(st.none(), _TEXTS),
)
@settings(max_examples=600, deadline=None)
def test_the_json_line_is_the_encoders_json_of_the_lines_object(  # noqa: PLR0917 - one generated value per field
    created: float, level: str, name: str, message: str, fields: dict[str, object], exception: str | None
) -> None:
    formatter = logs_module.JsonFormatter()
    expected = _dict_json_line(created, level, name, message, fields, exception)
    for _ in range(2):  # the second time from the kept texts
        assert formatter.line(created, level, name, message, fields=fields, exception=exception) == expected


def test_the_kept_texts_stay_bounded() -> None:
    formatter = logs_module.JsonFormatter()
    for n in range(3 * logs_module._TEXTS_KEPT):
        formatter.line(0.0, "INFO", "receiptcore.http", "m", fields={"path": f"/api/receipts/{n}"}, exception=None)
    assert len(logs_module._redacted_texts) <= logs_module._TEXTS_KEPT
    long_path = "/" + "x" * (logs_module._KEPT_TEXT_LENGTH + 1)
    formatter.line(0.0, "INFO", "receiptcore.http", "m", fields={"path": long_path}, exception=None)
    assert long_path not in logs_module._redacted_texts
