"""``receiptcore users ...``: operator commands on the configured user store, through the services.

They need no running server: they open the same stores the server uses (``RECEIPTCORE_DATA_DIR`` or the
PostgreSQL URL) and act as a system principal holding every permission.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from receiptcore.domain.users import User, normalise_email
from receiptcore.entrypoints.cli_common import (
    SYSTEM_PRINCIPAL,
    CliError,
    open_container,
    read_new_password,
    run,
    settings_of,
    store_description,
)
from receiptcore.errors import NotFound
from receiptcore.services.authentication import find_account

if TYPE_CHECKING:
    from receiptcore.entrypoints.container import Container


@click.group("users")
def users_group() -> None:
    """Manage users directly on the configured stores (no server needed)."""


def _user_json(user: User) -> dict[str, Any]:
    # never the password hash
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "roles": list(user.roles),
        "disabled": user.disabled,
        "created_at": user.created_at.isoformat(),
    }


def _describe(user: User) -> str:
    state = " (disabled)" if user.disabled else ""
    return f"{user.email} [{', '.join(user.roles) or 'no roles'}] id {user.id}{state}"


def _address(email: str) -> str:
    """The account name as the domain defines it, checked before any store is opened."""
    try:
        return normalise_email(email)
    except ValueError as exc:
        raise CliError(str(exc)) from exc


async def _find(container: Container, typed: str) -> User:
    # by the name as typed (already checked by ``_address``): its folded form, else an older unfolded stored name
    user: User | None = await find_account(container.user_repo(), typed)
    if user is None:
        raise NotFound(f"no user with email {normalise_email(typed)}")
    return user


@users_group.command("create-admin")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_context
def create_admin(ctx: click.Context, email: str, password_stdin: bool) -> None:
    """Create a user with the admin role.

    The password comes from --password-stdin, or is asked twice on a terminal.
    """
    password = read_new_password(password_stdin)

    async def go() -> User:
        async with open_container(settings_of(ctx), require_store=False) as container:
            admin: User = await container.user_service().create_admin(email, password)
            return admin

    click.echo(f"created admin {_describe(run(go()))}")


@users_group.command("create")
@click.argument("email")
@click.option("--role", "roles", multiple=True, help="A role to grant (repeatable); default: member.")
@click.option("--display-name", default="", help="The name shown in the web UI.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_context
def create_user(
    ctx: click.Context, email: str, roles: tuple[str, ...], display_name: str, password_stdin: bool
) -> None:
    """Create a user (role member unless --role is given)."""
    password = read_new_password(password_stdin)

    async def go() -> User:
        async with open_container(settings_of(ctx), require_store=False) as container:
            return await container.user_service().create_user(
                SYSTEM_PRINCIPAL, email, password, display_name=display_name, roles=list(roles) or None
            )

    click.echo(f"created {_describe(run(go()))}")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@click.pass_context
def list_users(ctx: click.Context, as_json: bool) -> None:
    """List every user."""

    async def go() -> list[User]:
        async with open_container(settings_of(ctx)) as container:
            service = container.user_service()
            found: list[User] = []
            after: str | None = None
            while True:
                page = await service.list_users(SYSTEM_PRINCIPAL, limit=100, after=after)
                found.extend(page)
                if len(page) < 100:
                    return found
                after = page[-1].id

    settings = settings_of(ctx)
    users = run(go())
    if as_json:
        click.echo(json.dumps([_user_json(u) for u in users], indent=2))
        return
    if not users:
        click.echo(
            f"no users yet in {store_description(settings)} (create one with: receiptcore users create-admin EMAIL)"
        )
        return
    width = max(len(u.email) for u in users)
    click.echo(f"{'EMAIL':<{width}}  {'ROLES':<24}  {'STATE':<8}  ID")
    for user in users:
        state = "disabled" if user.disabled else "active"
        click.echo(f"{user.email:<{width}}  {','.join(user.roles):<24}  {state:<8}  {user.id}")


@users_group.command("set-roles")
@click.argument("email")
@click.argument("roles", nargs=-1, required=True)
@click.pass_context
def set_roles(ctx: click.Context, email: str, roles: tuple[str, ...]) -> None:
    """Replace a user's roles (their current tokens stop working)."""
    _address(email)  # the name is checked before any store is opened

    async def go() -> User:
        async with open_container(settings_of(ctx)) as container:
            user = await _find(container, email)
            return await container.user_service().set_roles(SYSTEM_PRINCIPAL, user.id, list(roles))

    click.echo(f"updated {_describe(run(go()))}")


def _set_disabled(ctx: click.Context, email: str, disabled: bool) -> User:
    _address(email)  # the name is checked before any store is opened

    async def go() -> User:
        async with open_container(settings_of(ctx)) as container:
            user = await _find(container, email)
            return await container.user_service().set_disabled(SYSTEM_PRINCIPAL, user.id, disabled)

    return run(go())


@users_group.command("disable")
@click.argument("email")
@click.pass_context
def disable(ctx: click.Context, email: str) -> None:
    """Disable a user: they cannot sign in and their tokens stop working at once."""
    click.echo(f"disabled {_describe(_set_disabled(ctx, email, True))}")


@users_group.command("enable")
@click.argument("email")
@click.pass_context
def enable(ctx: click.Context, email: str) -> None:
    """Enable a disabled user again."""
    click.echo(f"enabled {_describe(_set_disabled(ctx, email, False))}")


@users_group.command("unlock")
@click.argument("email", required=False)
@click.option("--client", "address", help="Also clear the counter of this client IP address.")
@click.pass_context
def unlock(ctx: click.Context, email: str | None, address: str | None) -> None:
    """Clear the failed-login counter of an account (and/or of a client address).

    Failed logins make the next try of that account, and of that client address, wait exponentially longer
    (up to RECEIPTCORE_LOGIN_BACKOFF_MAX_SECONDS). The right password after the wait always passes, so this is
    only needed to let someone in before the wait is over. Takes effect on the running server's next request.
    """
    if email is None and address is None:
        raise click.UsageError("give an EMAIL, --client ADDRESS, or both")
    try:
        account = normalise_email(email) if email is not None else None
    except ValueError as exc:
        raise CliError(str(exc)) from exc

    async def go() -> list[str]:
        lines: list[str] = []
        async with open_container(settings_of(ctx)) as container:
            throttle = container.login_throttle()
            if account is not None:
                cleared = await throttle.unlock_account(account)
                lines.append(f"cleared {cleared} counted login attempt(s) of {account}")
            if address is not None:
                cleared = await throttle.unlock_client(address)
                lines.append(f"cleared {cleared} counted login attempt(s) from {address}")
        return lines

    for line in run(go()):
        click.echo(line)


@users_group.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from the first line of stdin.")
@click.pass_context
def reset_password(ctx: click.Context, email: str, password_stdin: bool) -> None:
    """Give a user a new password and end all their sessions.

    Without --password-stdin a one-time password is generated and printed once (on stdout, alone on its line,
    so `receiptcore users reset-password admin@localhost | tail -1` captures it). This is the way back in when
    the first admin's password is lost.
    """
    _address(email)  # the name is checked before any store is opened
    password = read_new_password(from_stdin=True) if password_stdin else None

    async def go() -> tuple[User, str]:
        async with open_container(settings_of(ctx)) as container:
            user = await _find(container, email)
            return await container.user_service().reset_password(SYSTEM_PRINCIPAL, user.id, password)

    user, new_password = run(go())
    click.echo(f"reset the password of {_describe(user)}; their sessions have ended", err=True)
    if password is None:
        click.echo("one-time password (shown only once; change it after signing in):", err=True)
        click.echo(new_password)
