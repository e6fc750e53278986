"""Shared pieces of the CLI: settings from the global options, the error boundary, passwords, the HTTP client.

The error boundary is the reason this module exists: every command runs inside ``ErrorBoundaryGroup.invoke``, so a
``ReceiptcoreError``, a bad setting or a file system error becomes one line on stderr and exit code 1, never a
traceback.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import pydantic

from receiptcore.domain.policy import Principal
from receiptcore.domain.users import ADMIN, PERMISSIONS
from receiptcore.entrypoints.client import DEFAULT_SERVER, ApiClient
from receiptcore.errors import ReceiptcoreError
from receiptcore.settings import Settings

if TYPE_CHECKING:
    from receiptcore.entrypoints.container import Container

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

# The operator at the console: CLI user commands act with every permission, as the process owner already can read
# and write the database file directly.
SYSTEM_PRINCIPAL = Principal(
    user_id="system", roles=frozenset({ADMIN}), permissions=PERMISSIONS, email="system@localhost"
)


class CliError(click.ClickException):
    """A one-line error for the operator; exit code 1."""

    exit_code = 1


class ErrorBoundaryGroup(click.Group):
    """A click group that turns expected failures of any subcommand into a one-line message and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; translate our errors, settings errors and OS errors into ``CliError``."""
        try:
            return super().invoke(ctx)
        except ReceiptcoreError as exc:
            raise CliError(exc.detail) from exc
        except pydantic.ValidationError as exc:
            raise CliError(describe_validation_error(exc)) from exc
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            raise CliError(f"{exc.strerror or exc}{where}") from exc


def describe_validation_error(exc: pydantic.ValidationError) -> str:
    """One line naming the first bad setting (``RECEIPTCORE_PORT``) and why."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ()))
    if exc.title == Settings.__name__ and field:
        return f"invalid setting RECEIPTCORE_{field.upper()}: {first.get('msg', 'invalid value')}"
    return f"invalid value for {field or exc.title}: {first.get('msg', 'invalid value')}"


def settings_of(ctx: click.Context, **overrides: Any) -> Settings:
    """Settings from the environment, overridden by the global options and then by ``overrides`` (None = unset)."""
    root = ctx.find_root()
    values = {k: v for k, v in {**(root.obj or {}), **overrides}.items() if v is not None}
    return Settings(**values)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion in a fresh event loop."""
    return asyncio.run(coro)


def store_description(settings: Settings) -> str:
    """Which store a command uses, for the operator: ``data dir /abs/path`` or the server it talks to."""
    if settings.postgres_url is not None:
        return "the PostgreSQL server of RECEIPTCORE_POSTGRES_URL"
    if settings.in_memory:
        return "an in-memory store (RECEIPTCORE_PROFILE=memory)"
    return f"data dir {Path(settings.data_dir).resolve()}"


def embedded_store_exists(settings: Settings) -> bool:
    """Whether the embedded profile's database file is there (always True for other profiles)."""
    if settings.postgres_url is not None or settings.in_memory:
        return True
    return settings.sqlite_path.is_file()


@asynccontextmanager
async def open_container(settings: Settings, *, require_store: bool = True) -> AsyncIterator[Container]:
    """A container for one command; its adapters are closed on exit.

    Only commands that set a store up (``users create``, ``create-admin``) or never open it (``extract``) pass
    ``require_store=False``. Every other command refuses a missing store with a line naming the data dir it
    looked in, instead of silently creating an empty ``./data`` wherever it was run and reporting "no users".
    """
    if require_store and not embedded_store_exists(settings):
        raise CliError(
            f"no receiptcore store in {store_description(settings)} (run `receiptcore serve` or "
            "`receiptcore users create-admin` there first, or point --data-dir / RECEIPTCORE_DATA_DIR at it)"
        )
    # imported here: the container pulls in every adapter, which `--help` and the HTTP commands do not need
    from receiptcore.entrypoints.container import build_container, close_container

    container = build_container(settings)
    try:
        yield container
    finally:
        await close_container(container)


def read_new_password(from_stdin: bool) -> str:
    """A new password: the first line of stdin with ``--password-stdin``, else asked twice on a terminal."""
    if from_stdin:
        return _password_from_stdin()
    if not sys.stdin.isatty():
        raise CliError("stdin is not a terminal: pass --password-stdin and pipe the password in")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))


def read_login_password(from_stdin: bool) -> str:
    """The password to log in with: RECEIPTCORE_PASSWORD, else ``--password-stdin``, else asked once on a TTY."""
    if from_stdin:
        return _password_from_stdin()
    env = os.environ.get("RECEIPTCORE_PASSWORD")
    if env:
        return env
    if not sys.stdin.isatty():
        raise CliError(
            "no password: set RECEIPTCORE_PASSWORD, pass --password-stdin, or set RECEIPTCORE_TOKEN to an access token"
        )
    return str(click.prompt("Password", hide_input=True, err=True))


def _password_from_stdin() -> str:
    line = sys.stdin.readline()
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        raise CliError("--password-stdin: no password on stdin")
    return password


def http_options(func: F) -> F:
    """Add ``--server``, ``--email`` and ``--password-stdin`` to an HTTP command."""
    func = click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of stdin (else RECEIPTCORE_PASSWORD, else a prompt).",
    )(func)
    func = click.option("--email", envvar="RECEIPTCORE_EMAIL", help="Sign in as this user (env RECEIPTCORE_EMAIL).")(
        func
    )
    return click.option(
        "--server",
        envvar="RECEIPTCORE_SERVER",
        default=DEFAULT_SERVER,
        show_default=True,
        help="Base URL of the receiptcore server (env RECEIPTCORE_SERVER).",
    )(func)


def make_client(server: str, email: str | None, password_stdin: bool) -> ApiClient:
    """An API client: the access token in RECEIPTCORE_TOKEN, else email + password (checked at once), else the
    session ``receiptcore login`` stored for this server (refreshed silently)."""
    from receiptcore.entrypoints.cli_session import StoredSession

    token = os.environ.get("RECEIPTCORE_TOKEN")
    stored = StoredSession(server)
    if token and not email:
        client = ApiClient(server, token=token)
    elif email and (password_stdin or os.environ.get("RECEIPTCORE_PASSWORD") or stored.email != email):
        client = ApiClient(server, email=email, password=read_login_password(password_stdin))
    elif stored.exists():
        client = ApiClient(server, token_source=lambda refused: stored.access_token(force_refresh=refused))
    else:
        if not email:
            raise CliError(
                f"no credentials for {server.rstrip('/')}: run `receiptcore login` (or pass --email, or set "
                "RECEIPTCORE_TOKEN)"
            )
        client = ApiClient(server, email=email, password=read_login_password(password_stdin))
    try:
        client.me()
    except BaseException:
        client.close()
        raise
    return client
