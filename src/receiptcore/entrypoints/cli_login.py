"""``receiptcore login``, ``logout`` and ``token``: a stored session per server (see ``cli_session``).

After ``login``, ``import``, ``watch`` and ``export`` need no credentials, and ``receiptcore token`` prints a
valid access token for curl (refreshing silently), so a long session never breaks on the 5-minute token.
"""

from __future__ import annotations

import datetime as dt
import sys

import click
import httpx

from receiptcore import __version__
from receiptcore.entrypoints.cli_common import read_login_password
from receiptcore.entrypoints.cli_session import CredentialStore, StoredSession, session_entry
from receiptcore.entrypoints.client import DEFAULT_SERVER, ServerUnreachable, problem_error
from receiptcore.errors import InvalidCredentials

_SERVER = click.option(
    "--server",
    envvar="RECEIPTCORE_SERVER",
    default=DEFAULT_SERVER,
    show_default=True,
    help="Base URL of the receiptcore server (env RECEIPTCORE_SERVER).",
)


def _post(server: str, path: str, body: dict[str, str]) -> httpx.Response:
    try:
        with httpx.Client(timeout=30.0, headers={"User-Agent": f"receiptcore-cli/{__version__}"}) as http:
            return http.post(server + path, json=body)
    except httpx.TransportError as exc:
        raise ServerUnreachable(f"cannot reach the receiptcore server at {server}: {exc}") from exc


@click.command("login")
@_SERVER
@click.option("--email", envvar="RECEIPTCORE_EMAIL", help="Sign in as this user (env RECEIPTCORE_EMAIL).")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin (else RECEIPTCORE_PASSWORD, else a prompt).",
)
def login_command(server: str, email: str | None, password_stdin: bool) -> None:
    """Sign in once and keep the session (a refresh token) in your config dir.

    The session is stored in $XDG_CONFIG_HOME/receiptcore/credentials.json (~/.config/... by default, mode
    0600); the password is not. Afterwards import, watch and export need no credentials, and
    `receiptcore token` prints a fresh access token for curl. Sign out with `receiptcore logout`.
    """
    base = server.rstrip("/")
    if not email:
        email = str(click.prompt("Email", err=True)) if sys.stdin.isatty() else None
    if not email:
        raise click.UsageError("pass --email (or set RECEIPTCORE_EMAIL)")
    password = read_login_password(password_stdin)
    response = _post(base, "/auth/login", {"email": email, "password": password})
    if response.status_code == 401:
        raise InvalidCredentials("wrong email or password")
    if response.is_error:
        raise problem_error(response)
    store = CredentialStore()
    with store.locked():
        store.put(base, session_entry(email, response, dt.datetime.now(dt.UTC)))
    click.echo(f"logged in to {base} as {email} (session kept in {store.path})", err=True)


@click.command("logout")
@_SERVER
def logout_command(server: str) -> None:
    """End the stored session with SERVER (revoked on the server) and forget it."""
    base = server.rstrip("/")
    store = CredentialStore()
    with store.locked():
        entry = store.get(base)
        if entry is None:
            click.echo(f"not logged in to {base}", err=True)
            return
        try:
            response = _post(base, "/auth/logout", {"refresh_token": str(entry["refresh_token"])})
        except ServerUnreachable:
            store.put(base, None)
            click.echo(f"forgot the session with {base} (the server could not be reached to revoke it)", err=True)
            return
        store.put(base, None)
    if response.is_error and response.status_code != 401:
        raise problem_error(response)
    click.echo(f"logged out of {base}", err=True)


@click.command("token")
@_SERVER
def token_command(server: str) -> None:
    """Print a valid access token of the stored session (refreshed silently when it expired).

    For curl: AUTH="Authorization: Bearer $(receiptcore token)". Needs `receiptcore login` first.
    """
    click.echo(StoredSession(server).access_token())
