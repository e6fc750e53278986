"""One log format for every process: readable lines on a terminal, JSON lines for machines; never a secret.

``configure_logging`` installs one handler on the root logger (uvicorn's loggers propagate to it, so the server
does not add a second format). The format is ``RECEIPTCORE_LOG_FORMAT``: ``text`` (``2026-12-03T13:40:01Z INFO
receiptcore.http: GET /api/receipts 200 12 ms request_id=…``), ``json`` (one object per line: ``time``,
``level``, ``logger``, ``message`` and the record's extra fields such as ``request_id``, ``method``, ``path``,
``status``, ``duration_ms``) or ``auto`` (text on a terminal, JSON otherwise, so a container's log collector
gets JSON without configuration).

Every record passes ``redact`` first: bearer tokens, JWTs, refresh tokens and password fields are replaced by
``[redacted]`` wherever they appear (a message, an argument, an extra field, an exception text), so a client
that puts its token in a query string, or a driver that echoes a connection URL with a password, cannot leak it
into the logs. The request id and the client address of the request being served (``request_id_var``,
``client_var``) are added to every record, so an auth event (``receiptcore.auth``) says where it came from.

The access line of every request is written by ``log_direct``: the same formatter's line of the same attributes,
without a ``LogRecord`` or the handler chain, whenever that one handler is all that would see the record. On an
event loop's thread those lines wait for the end of the loop turn and are written together, in order, before
anything else the handler writes (``log_stream.TurnBufferedHandler``; ``flush_logs`` writes them at once).
"""

from __future__ import annotations

import abc
import contextvars
import datetime as dt
import json
import logging
import math
import re
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, TextIO

from receiptcore.entrypoints.log_stream import TurnBufferedHandler

LogFormat = Literal["auto", "text", "json"]

# The id of the request this task serves (set by the HTTP middleware; "-" outside a request).
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("receiptcore_request_id", default=None)
# The client address of that request (the peer the server saw; behind a proxy, what its forwarded headers gave).
client_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("receiptcore_client", default=None)

REDACTED = "[redacted]"
_SECRET_PATTERNS = (
    # a JWT (header.payload.signature, base64url)
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    # an Authorization header value, or "Bearer <token>" anywhere
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+"),
    # key=value / "key": "value" forms of secret fields (query strings, JSON bodies, reprs)
    re.compile(
        r"(?i)((?:access_token|refresh_token|id_token|token|password|passwd|new_password|current_password|"
        r"api_key|apikey|secret|authorization|cookie|receiptcore_refresh)[\"']?\s*[=:]\s*[\"']?)"
        r"[^\s\"'&,;}]+"
    ),
    # user:password@ in URLs (database and broker URLs)
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(?=@)"),
)
# LogRecord attributes that are not extra fields
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


# What each pattern cannot match without (a JWT's "eyJ", "bearer", a "=" or ":" after a key, "://" and "@"):
# checked first with plain substring tests, so text with no secret in it (nearly every access-log field) skips
# the regular expressions, which were half the cost of an access-log line (docs/benchmarks.md).
_NEEDS: tuple[Any, ...] = (
    lambda text: "eyJ" in text,
    lambda text: "bearer" in text.lower(),
    lambda text: "=" in text or ":" in text,
    lambda text: "://" in text and "@" in text,
)


def _keep_prefix(match: re.Match[str]) -> str:
    return (match.group(1) if match.groups() else "") + REDACTED


def redact(text: str) -> str:
    """``text`` with every token, password and secret value replaced by ``[redacted]``."""
    # most texts hold none of the four patterns' needs: one pass of substring tests (the "://" one needs ":")
    if "=" not in text and ":" not in text and "eyJ" not in text and "bearer" not in text.lower():
        return text
    for needs, pattern in zip(_NEEDS, _SECRET_PATTERNS, strict=True):
        if needs(text):
            text = pattern.sub(_keep_prefix, text)
    return text


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _add_context(fields: dict[str, Any]) -> None:
    """Put the ``request_id`` and ``client`` of the request being served into ``fields`` (a record's attributes,
    or ``log_direct``'s fields), where they are missing or None."""
    if fields.get("request_id") is None:
        rid = request_id_var.get()
        if rid is not None:
            fields["request_id"] = rid
    if fields.get("client") is None:
        client = client_var.get()
        if client is not None:
            fields["client"] = client


class _ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``client`` to every record (when a request is being served)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _add_context(vars(record))
        return True


def _timestamp(created: float) -> str:
    """``created`` (a ``time.time()``) as ``2026-12-07T14:22:21.123Z``: the milliseconds of the microsecond
    ``datetime.fromtimestamp`` rounds to (half to even), after the second's text, which is made once a second
    (``datetime`` took ~4 µs of each line; ``tests/unit/test_logs.py`` compares the two)."""
    if not created >= 0:  # NaN too: before 1970 (or not a time) the plain way
        moment = dt.datetime.fromtimestamp(created, dt.UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    fraction, whole = math.modf(created)
    micro = round(fraction * 1e6)
    if micro >= 1_000_000:
        whole += 1.0
        micro -= 1_000_000
    global _last_second  # noqa: PLW0603 - one (second, text) pair, replaced whole (threads may log at once)
    second = int(whole)
    cached = _last_second
    if cached[0] != second:
        cached = _last_second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{micro // 1000:03d}Z"


# the last second _timestamp wrote, and its text
_last_second: tuple[int, str] = (-1, "")


# in text lines the access log's message already says these
_TEXT_HIDDEN = frozenset({"method", "path", "route", "status", "duration_ms"})


class _LineFormatter(logging.Formatter, abc.ABC):
    """A formatter whose line is a function of the record's attributes (``line``), so ``log_direct`` can write
    it without a record."""

    def format(self, record: logging.LogRecord) -> str:
        exception = self.formatException(record.exc_info) if record.exc_info else None
        extras = _extras(record)
        return self.line(
            record.created, record.levelname, record.name, record.getMessage(), fields=extras, exception=exception
        )

    @abc.abstractmethod
    def line(
        self, created: float, level: str, name: str, message: str, *, fields: Mapping[str, Any], exception: str | None
    ) -> str:
        """The line of a record with these attributes."""


class TextFormatter(_LineFormatter):
    """``<time> <LEVEL> <logger>: <message> key=value ...`` on one line (a traceback follows, indented)."""

    def line(
        self, created: float, level: str, name: str, message: str, *, fields: Mapping[str, Any], exception: str | None
    ) -> str:
        """The line of a record with these attributes (``format`` and ``log_direct`` both write this)."""
        extras = " ".join(f"{k}={_scalar(v)}" for k, v in fields.items() if k not in _TEXT_HIDDEN)
        line = f"{_timestamp(created)} {level:<7} {name}: {redact(message)}"
        if extras:
            line += " " + redact(extras)
        if exception is not None:
            line += "\n" + redact(exception)
        return line


class JsonFormatter(_LineFormatter):
    """One JSON object per line: time, level, logger, message, the extra fields, ``exception`` when any."""

    def line(
        self, created: float, level: str, name: str, message: str, *, fields: Mapping[str, Any], exception: str | None
    ) -> str:
        """The line of a record with these attributes (``format`` and ``log_direct`` both write this)."""
        # the line of every request: plain strings, ints and finite floats under keys of their own, written as
        # _json_line would write them with the encoder's own string encoder and reprs; the field strings that come
        # back (method, path, route, client) redacted and encoded once (_redacted_text)
        parts = [
            f'{{"time": {_text(_timestamp(created))}, "level": {_text(level.lower())}, "logger": {_text(name)}, '
            f'"message": {_text(redact(message))}'
        ]
        for key, value in fields.items():
            kind = type(value)
            if kind is str and key not in _OWN_KEYS:
                parts.append(f"{_key_text(key)}{_redacted_text(value)}")
            elif (kind is int or (kind is float and math.isfinite(value))) and key not in _OWN_KEYS:
                parts.append(f"{_key_text(key)}{value!r}")
            else:  # anything else, or a field named like one of the line's own keys, the general way
                return _json_line(created, level, name, message, fields=fields, exception=exception)
        if exception is not None:
            parts.append(f'"exception": {_text(redact(exception))}')
        return ", ".join(parts) + "}"


def _json_line(
    created: float, level: str, name: str, message: str, *, fields: Mapping[str, Any], exception: str | None
) -> str:
    """``JsonFormatter.line`` in general: the line's object built as a dict (a field named like one of its own keys
    takes that key's place) and encoded by ``_encode``."""
    body: dict[str, Any] = {
        "time": _timestamp(created),
        "level": level.lower(),
        "logger": name,
        "message": redact(message),
    }
    for key, value in fields.items():
        body[key] = redact(value) if isinstance(value, str) else _jsonable(value)
    if exception is not None:
        body["exception"] = redact(exception)
    return _encode(body)


# the keys JsonFormatter.line writes itself, and so not beside a field of the same name
_OWN_KEYS = frozenset({"time", "level", "logger", "message", "exception"})
# one encoder, not one per line: json.dumps with these options builds a JSONEncoder on every call
_JSON = json.JSONEncoder(ensure_ascii=False, default=lambda v: redact(str(v)))
_text = json.encoder.encode_basestring  # the string encoder _JSON uses (ensure_ascii=False), in C
# _text(redact(s)) of the short strings lines repeat, and _text(key) + ": " of field names; both functions are pure,
# so a kept text is the one computed again. Bounded: emptied when full (a path with an id in it fills it slowly).
_TEXTS_KEPT = 2048
_KEPT_TEXT_LENGTH = 256
_redacted_texts: dict[str, str] = {}
_key_texts: dict[str, str] = {}


def _kept_text(kept: dict[str, str], value: str, compute: Callable[[str], str]) -> str:
    """``compute(value)``, kept in ``kept`` for short strings (``compute`` is pure: a kept text is the one it
    would compute again)."""
    text = kept.get(value)
    if text is None:
        text = compute(value)
        if len(value) <= _KEPT_TEXT_LENGTH:
            if len(kept) >= _TEXTS_KEPT:
                kept.clear()
            kept[value] = text
    return text


def _encode_redacted(value: str) -> str:
    return _text(redact(value))


def _encode_key(key: str) -> str:
    return _text(key) + ": "


def _redacted_text(value: str) -> str:
    """``_text(redact(value))``, kept for short strings."""
    return _kept_text(_redacted_texts, value, _encode_redacted)


def _key_text(key: str) -> str:
    """``_text(key) + ": "``, kept (field names are few)."""
    return _kept_text(_key_texts, key, _encode_key)


def _encode(body: dict[str, Any]) -> str:
    """``_JSON.encode(body)``; a body of plain strings, ints and finite floats (every access line) written
    directly with the same string encoder and reprs, ~1 µs less than the encoder's general walk."""
    parts = []
    for key, value in body.items():
        kind = type(value)
        if kind is str:
            parts.append(f"{_text(key)}: {_text(value)}")
        elif kind is int or (kind is float and math.isfinite(value)):
            parts.append(f"{_text(key)}: {value!r}")
        else:
            return _JSON.encode(body)
    return "{" + ", ".join(parts) + "}"


def _scalar(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (not text or any(c.isspace() for c in text)) else text


def _jsonable(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    return redact(str(value))


def resolve_format(fmt: LogFormat, stream: TextIO) -> Literal["text", "json"]:
    """``auto`` becomes text on a terminal and JSON otherwise."""
    if fmt != "auto":
        return fmt
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def make_handler(fmt: LogFormat = "auto", stream: TextIO | None = None) -> logging.Handler:
    """A stream handler (``TurnBufferedHandler``) with the chosen formatter and the request-id filter."""
    target = stream or sys.stderr
    handler = TurnBufferedHandler(target)
    handler.setFormatter(JsonFormatter() if resolve_format(fmt, target) == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    handler.set_name("receiptcore")
    return handler


def log_direct(logger: logging.Logger, level: int, msg: str, args: tuple[Any, ...], fields: dict[str, Any]) -> bool:
    """Write the line ``logger.log(level, msg, *args, extra=fields)`` would write, without building the record,
    when the only thing that would see that record is the one handler ``configure_logging`` installs; return
    False, having written nothing, in any other case (the caller then logs it the usual way).

    "The only thing" means: ``logger`` and the loggers up to the root have no handlers and no filters of their own
    on ``logger``, every one propagates, the root has exactly the receiptcore handler (a ``TurnBufferedHandler``
    with its one context filter, one of our two formatters, a level the record passes) and the record factory
    is logging's own. A test capture handler, another handler, a filter or a custom factory all mean False.
    The line is the formatter's own ``line`` of the attributes the record would have had (the context filter's
    ``request_id`` and ``client`` included), handed to the handler's ``write_line`` under its lock as ``emit``
    writes (on an event loop's thread it is written with the others of that loop turn, at the turn's end,
    ``tests/unit/test_log_stream.py``); the access log of every request goes through here (a ``LogRecord``, the
    filters and the handler chain were ~25 %
    of an answered ``GET /auth/me``, docs/benchmarks.md). ``tests/unit/test_logs.py`` compares the bytes.
    """
    handler = _sole_handler(logger, level)
    if handler is None or not _STANDARD.isdisjoint(fields):
        return False
    created = time.time()
    # the record would drop "_" names (_extras); a key starting with "_" sorts before "`", so when the least key
    # does not (every access line's), a copy is the same dict, ~0.5 µs less than the filtering comprehension
    extras = dict(fields) if not fields or min(fields) >= "`" else {k: v for k, v in fields.items() if k[:1] != "_"}
    _add_context(extras)  # what _ContextFilter adds to the record
    formatter: _LineFormatter = handler.formatter  # type: ignore[assignment]  # _sole_handler checked its type
    message = str(msg) % args if args else str(msg)
    line = formatter.line(created, logging.getLevelName(level), logger.name, message, fields=extras, exception=None)
    handler.acquire()
    try:
        handler.write_line(line + handler.terminator)
    except RecursionError:  # as StreamHandler.emit
        raise
    except Exception:
        handler.handleError(logger.makeRecord(logger.name, level, "", 0, msg, args, None, extra=fields))
    finally:
        handler.release()
    return True


def _sole_handler(logger: logging.Logger, level: int) -> TurnBufferedHandler | None:
    """The receiptcore handler when it is all that a record of ``logger`` at ``level`` would reach (``log_direct``)."""
    if logger.disabled or logger.filters or not logger.isEnabledFor(level):
        return None
    if type(logger) is not logging.Logger or logging.getLogRecordFactory() is not logging.LogRecord:
        return None
    node: logging.Logger | None = logger
    while node is not None and node.parent is not None:
        if node.handlers or not node.propagate:
            return None
        node = node.parent
    if node is None or len(node.handlers) != 1:
        return None
    handler = node.handlers[0]
    if (
        type(handler) is not TurnBufferedHandler
        or level < handler.level
        or len(handler.filters) != 1
        or type(handler.filters[0]) is not _ContextFilter
        or type(handler.formatter) not in (JsonFormatter, TextFormatter)
    ):
        return None
    return handler


def configure_logging(level: str = "info", fmt: LogFormat = "auto", stream: TextIO | None = None) -> None:
    """Route every logger (ours, uvicorn's, litestar's) through one receiptcore handler on the root logger."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "receiptcore":
            existing.flush()  # the lines still waiting for the end of a loop turn
            root.removeHandler(existing)
    root.addHandler(make_handler(fmt, stream))
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar", "granian"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        # a dictConfig elsewhere (uvicorn's own, a library's) disables existing loggers by default
        logger.disabled = False
        logger.setLevel(logging.NOTSET)
    # uvicorn's access log would be a second, differently shaped request line (ours carries the request id)
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request URL at INFO (a query string could hold a token) and httpcore every response
    # header at DEBUG (a Set-Cookie with a refresh token); their warnings still show
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def flush_logs() -> None:
    """Write what the receiptcore handler holds back (the access lines of the current loop turn) now: ``serve``
    calls it when its loop is done, so a stop or a crash reports after every line written before it."""
    for handler in list(logging.getLogger().handlers):
        if handler.get_name() == "receiptcore":
            handler.flush()
