"""The auth audit trail: one log record (logger ``receiptcore.auth``) and one count per authentication event.

Events and outcomes (``AUTH_EVENTS``) — each record carries ``auth_event``, ``outcome`` and, where known,
``user_id``, ``actor_id`` (who made an admin change; ``system`` for the CLI), ``session_id`` (the refresh-token
family: an identifier, useless without a token), ``reason`` and ``retry_after``; the logging setup adds the
``request_id`` and the ``client`` address of the request being served (``entrypoints/logs.py``).

Never a secret: no password, token, refresh token or token hash is ever passed here. A failed login does not log
the name that was typed either (people type their password into the email field): it logs ``account``, the first
12 hex digits of the SHA-256 of the folded name, enough to see many failures against one account.

Why stdlib ``logging`` in the core: it is the standard library, like ``datetime``; the count goes to an observer
the composition root wires to the metrics registry (``entrypoints/metrics.py``), so the core imports no metrics
library.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from receiptcore.domain.users import fold_account_name

log = logging.getLogger("receiptcore.auth")

# event -> its outcomes; the metrics registry pre-creates one series per pair
AUTH_EVENTS: dict[str, tuple[str, ...]] = {
    "login": ("ok", "failed", "throttled"),
    "refresh": ("ok", "rejected", "reuse_detected"),
    "logout": ("ok",),
    "password_change": ("ok", "failed", "throttled"),
    "password_reset": ("ok",),
    "role_change": ("ok",),
    "disable": ("ok",),
    "enable": ("ok",),
    "user_created": ("ok",),
}
# what is worth a warning in a log: somebody may be attacking
_WARN = frozenset({("login", "throttled"), ("refresh", "reuse_detected"), ("password_change", "throttled")})

AuthObserver = Callable[[str, str], None]


def account_tag(name: str) -> str:
    """A short, stable tag of an account name as typed (never the name itself)."""
    return hashlib.sha256(fold_account_name(name).encode("utf-8", "surrogatepass")).hexdigest()[:12]


class AuthAudit:
    """Logs and counts authentication events.

    Args:
        observer: called with ``(event, outcome)`` for every record (the metrics counter); None counts nothing.
    """

    def __init__(self, observer: AuthObserver | None = None) -> None:
        self._observer = observer

    def record(self, event: str, outcome: str, **fields: str | float | None) -> None:
        """Log ``event`` with ``outcome`` and ``fields`` (None values left out) and count it."""
        extra = {"auth_event": event, "outcome": outcome, **{k: v for k, v in fields.items() if v is not None}}
        level = logging.WARNING if (event, outcome) in _WARN else logging.INFO
        log.log(level, "auth %s %s", event, outcome, extra=extra)
        if self._observer is not None:
            self._observer(event, outcome)
