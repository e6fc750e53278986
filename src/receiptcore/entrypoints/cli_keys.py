"""``receiptcore keys ...``: the token signing keys of the auth service (rotate, list, prune).

They work on the keys directory (``RECEIPTCORE_SIGNING_KEYS_DIR``, else ``<data dir>/keys``) that every auth
instance shares; running instances notice the change within a second, without a restart.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

import click

from receiptcore.entrypoints.cli_common import CliError, settings_of
from receiptcore.settings import Settings

# Receipt API instances re-fetch the JWKS at most once a minute; a key published this long before it signs has
# reached every one of them by the time it does.
DEFAULT_ACTIVATION_DELAY_SECONDS = 120
# Clock skew tolerated by every verifier (JwtTokenIssuer / JwksTokenVerifier leeway).
_LEEWAY_SECONDS = 5


if TYPE_CHECKING:
    from receiptcore.entrypoints.container import KeyDirectory


def key_directory(settings: Settings) -> KeyDirectory:
    """The keys directory of ``settings`` (the container, imported here: ``--help`` does not need it)."""
    from receiptcore.entrypoints.container import key_directory as build

    return build(settings)


@click.group("keys")
def keys_group() -> None:
    """Manage the token signing keys (shared by every auth instance)."""


def _stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@keys_group.command("rotate")
@click.option(
    "--activate-in",
    type=click.IntRange(0, 86_400),
    default=DEFAULT_ACTIVATION_DELAY_SECONDS,
    show_default=True,
    help="Seconds until the new key signs. Until then it is only published, so every receipt API instance "
    "learns it first (they re-fetch the keys at most once a minute); 0 suits a single `serve` process.",
)
@click.pass_context
def rotate(ctx: click.Context, activate_in: int) -> None:
    """Add a new signing key. Tokens signed by the old keys keep verifying until they expire."""
    settings = settings_of(ctx)
    keys = key_directory(settings)
    keys.ensure()  # the first key, if there is none yet: rotating means there is an old one
    activate_at = dt.datetime.fromtimestamp(int(time.time()) + activate_in, dt.UTC)
    try:
        path = keys.rotate(activate_at)
    except FileExistsError as exc:
        raise CliError(f"a key activating at {_stamp(activate_at.timestamp())} exists already; try again") from exc
    info = next(i for i in keys.describe() if i.path == path)
    click.echo(f"added key {info.kid} ({path.name}); it signs from {_stamp(info.activation)}")
    lifetime = settings.access_token_ttl_seconds + _LEEWAY_SECONDS
    click.echo(
        f"tokens signed by older keys verify until they expire (at most {lifetime} s after that); "
        "`receiptcore keys prune` deletes keys no valid token needs"
    )


@keys_group.command("list")
@click.pass_context
def list_keys(ctx: click.Context) -> None:
    """Every key: key id, state (pending, signing, verifying), activation time, file."""
    settings = settings_of(ctx)
    infos = key_directory(settings).describe()
    if not infos:
        click.echo(f"no keys in {settings.keys_dir} (the auth service creates one on its first start)")
        return
    now = time.time()
    for info in infos:
        kind = "private" if info.private else "public only"
        click.echo(f"{info.kid}  {info.state(now):<9}  {_stamp(info.activation)}  {kind}  {info.path.name}")


@keys_group.command("prune")
@click.pass_context
def prune(ctx: click.Context) -> None:
    """Delete private keys superseded longer ago than an access token lives (no valid token needs them)."""
    settings = settings_of(ctx)
    removed = key_directory(settings).prune(
        token_lifetime_seconds=settings.access_token_ttl_seconds + _LEEWAY_SECONDS,
        now=time.time(),
    )
    for info in removed:
        click.echo(f"deleted key {info.kid} ({info.path.name})")
    click.echo(f"{len(removed)} key(s) deleted")
