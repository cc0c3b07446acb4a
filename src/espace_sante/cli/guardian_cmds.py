"""``espace-sante guardian add|list|revoke``: who may act for a minor's space."""

from __future__ import annotations

from datetime import date

import click

from espace_sante.accounts.guardians import (
    GuardianError,
    GuardianshipInfo,
    add_guardian,
    guardianships_of,
    revoke_guardian,
)
from espace_sante.cli.context import open_storage, run, settings_or_exit
from espace_sante.storage.engine import transaction


@click.group("guardian")
def guardian() -> None:
    """Guardians of minors' spaces (they log in with their own credentials)."""


@guardian.command("add")
@click.argument("dependant")
@click.argument("guardian_address", metavar="GUARDIAN")
@click.option("--ends-on", type=click.DateTime(["%Y-%m-%d"]), help="End before the majority.")
def guardian_add(dependant: str, guardian_address: str, ends_on: object) -> None:
    """Let GUARDIAN act for the minor DEPENDANT (both are account addresses)."""
    settings = settings_or_exit()
    until: date | None = ends_on.date() if ends_on is not None else None  # type: ignore[attr-defined]

    async def go() -> GuardianshipInfo:
        async with open_storage(settings) as storage, transaction(storage.sessions) as session:
            return await add_guardian(session, dependant, guardian_address, ends_on=until)

    try:
        info = run(go)
    except GuardianError as exc:
        raise click.ClickException(str(exc)) from exc
    end = f"until {info.ends_on}" if info.ends_on else "until the majority"
    click.echo(f"{info.guardian} may act for {info.dependant} {end}")


@guardian.command("list")
@click.argument("address")
def guardian_list(address: str) -> None:
    """Guardianships where ADDRESS is the dependant or the guardian."""
    settings = settings_or_exit()

    async def go() -> list[GuardianshipInfo]:
        async with open_storage(settings) as storage, storage.sessions() as session:
            return await guardianships_of(session, address)

    try:
        rows = run(go)
    except GuardianError as exc:
        raise click.ClickException(str(exc)) from exc
    for r in rows:
        state = f"revoked {r.revoked_at:%Y-%m-%d}" if r.revoked_at else "in force"
        click.echo(f"{r.dependant}\tguardian {r.guardian}\tsince {r.granted_at:%Y-%m-%d}\t{state}")


@guardian.command("revoke")
@click.argument("dependant")
@click.argument("guardian_address", metavar="GUARDIAN")
def guardian_revoke(dependant: str, guardian_address: str) -> None:
    """End GUARDIAN's access to DEPENDANT's space now."""
    settings = settings_or_exit()

    async def go() -> bool:
        async with open_storage(settings) as storage, transaction(storage.sessions) as session:
            return await revoke_guardian(session, dependant, guardian_address)

    try:
        changed = run(go)
    except GuardianError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("revoked" if changed else "no guardianship in force")
