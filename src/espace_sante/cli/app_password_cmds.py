"""``espace-sante app-password add|list|revoke``: passwords for an account's mail clients."""

from __future__ import annotations

import click

from espace_sante.accounts.app_passwords import (
    AppPasswordError,
    AppPasswordInfo,
    add_app_password,
    list_app_passwords,
    revoke_app_password,
)
from espace_sante.cli.context import open_storage, run, settings_or_exit
from espace_sante.storage.engine import transaction


@click.group("app-password")
def app_password() -> None:
    """Passwords for an account's mail clients (IMAP, SMTP submission)."""


@app_password.command("add")
@click.argument("address")
@click.option("--label", default="mail client", show_default=True, help="What it is for.")
def app_password_add(address: str, label: str) -> None:
    """Create an app password for ADDRESS and print it (it is shown only once)."""
    settings = settings_or_exit()

    async def go() -> tuple[AppPasswordInfo, str]:
        async with open_storage(settings) as storage, transaction(storage.sessions) as session:
            return await add_app_password(session, address, label)

    try:
        info, secret = run(go)
    except AppPasswordError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"app password {info.id} ({info.label}) for {address.lower()}:")
    click.echo(secret)


@app_password.command("list")
@click.argument("address")
def app_password_list(address: str) -> None:
    """List the app passwords of ADDRESS (never their secrets)."""
    settings = settings_or_exit()

    async def go() -> list[AppPasswordInfo]:
        async with open_storage(settings) as storage, storage.sessions() as session:
            return await list_app_passwords(session, address)

    try:
        rows = run(go)
    except AppPasswordError as exc:
        raise click.ClickException(str(exc)) from exc
    for r in rows:
        used = r.last_used_at.strftime("%Y-%m-%d %H:%M") if r.last_used_at else "never used"
        state = f"revoked {r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "active"
        click.echo(f"{r.id}\t{r.label}\tcreated {r.created_at:%Y-%m-%d %H:%M}\t{used}\t{state}")


@app_password.command("revoke")
@click.argument("address")
@click.argument("password_id", type=int)
def app_password_revoke(address: str, password_id: int) -> None:
    """Revoke app password PASSWORD_ID of ADDRESS."""
    settings = settings_or_exit()

    async def go() -> bool:
        async with open_storage(settings) as storage, transaction(storage.sessions) as session:
            return await revoke_app_password(session, address, password_id)

    try:
        changed = run(go)
    except AppPasswordError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("revoked" if changed else "already revoked")
