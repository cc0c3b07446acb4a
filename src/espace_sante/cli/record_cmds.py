"""``espace-sante record …``: a patient's record from the command line — the attending physician,
authorisations and blocks, the documents, and uploading one.

Everything goes through the record's API (``records``), which asks ``policy`` and audits: the
command acts as the patient with the audit actor ``cli`` (a consultation's agreement is declared
by the professional themselves, ``ps:<RPPS>``). ADDRESS is the patient's address, compared
without case.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante.accounts.app_passwords import account_by_address
from espace_sante.accounts.professionals import people_by_national_id
from espace_sante.cli.context import open_storage, run, settings_or_exit
from espace_sante.policy.record_access import Decision
from espace_sante.records.access import Caller
from espace_sante.records.codes import CATEGORIES
from espace_sante.records.documents import MAX_LIMIT, DocumentQuery, list_documents
from espace_sante.records.professionals import (
    StandingOutcome,
    authorise_professional,
    block_professional,
    list_professionals,
    set_attending_physician,
)
from espace_sante.records.upload import Upload, upload_document
from espace_sante.records.upload_types import UploadRefused, safe_filename, sniff
from espace_sante.storage.engine import transaction

#: The audit log's actor for what this command does.
ACTOR = "cli"
CATEGORY_KEYS = tuple(c.key for c in CATEGORIES)


async def _patient(session: AsyncSession, address: str) -> Caller:
    account = await account_by_address(session, address)
    if account is None or account.kind != "patient":
        raise click.ClickException(f"no patient with the address {address}")
    return Caller.patient(account.id, ACTOR)


def _account_id(caller: Caller) -> int:
    assert caller.actor.account_id is not None
    return caller.actor.account_id


def _check(decision: Decision) -> None:
    if not decision.allowed:
        raise click.ClickException(f"refused: {decision.reason_fr} ({decision.reason})")


async def _known(session: AsyncSession, rpps: str) -> str:
    """The directory's profession code of ``rpps``; an error when the directory has no one."""
    rpps = rpps.strip()
    if not rpps.isascii() or not rpps.isdigit():
        raise click.ClickException(f"{rpps!r}: an RPPS/ADELI number has digits only")
    people = await people_by_national_id(session, {rpps})
    if rpps not in people:
        raise click.ClickException(f"{rpps}: no professional with this number in the directory")
    return people[rpps].profession_code


@click.group("record")
def record() -> None:
    """A patient's record (DMP): professionals, documents, uploads."""


@record.command("attending-physician")
@click.argument("address")
@click.argument("rpps", required=False)
@click.option("--clear", is_flag=True, help="No attending physician any more.")
def attending_physician(address: str, rpps: str | None, clear: bool) -> None:
    """Name RPPS the attending physician (médecin traitant) of ADDRESS, or --clear it."""
    if clear == bool(rpps):
        raise click.UsageError("give either RPPS or --clear")
    settings = settings_or_exit()

    async def go() -> None:
        async with open_storage(settings) as storage, transaction(storage.sessions) as session:
            caller = await _patient(session, address)
            if rpps:
                await _known(session, rpps)
            out = await set_attending_physician(
                session, caller, _account_id(caller), rpps.strip() if rpps else None
            )
            _check(out.decision)

    run(go)
    click.echo(f"attending physician of {address}: {rpps.strip() if rpps else 'none'}")


@record.command("authorise")
@click.argument("address")
@click.argument("rpps")
@click.option(
    "--consultation",
    is_flag=True,
    help="The professional declares the patient's agreement at a consultation.",
)
def authorise(address: str, rpps: str, consultation: bool) -> None:
    """Authorise RPPS to read the record of ADDRESS."""
    settings = settings_or_exit()

    async def go() -> StandingOutcome:
        async with open_storage(settings) as storage, transaction(storage.sessions) as session:
            patient = await _patient(session, address)
            profession = await _known(session, rpps)
            pid = rpps.strip()
            if consultation:
                by = Caller.professional(pid, profession)
                return await authorise_professional(
                    session, by, _account_id(patient), pid, via="consultation"
                )
            return await authorise_professional(session, patient, _account_id(patient), pid)

    out = run(go)
    _check(out.decision)
    how = "at a consultation" if consultation else "by the patient"
    click.echo(f"{rpps.strip()} may read the record of {address} (authorised {how})")


@record.command("block")
@click.argument("address")
@click.argument("rpps")
def block(address: str, rpps: str) -> None:
    """Block RPPS from reading the record of ADDRESS (they may still deposit)."""
    settings = settings_or_exit()

    async def go() -> StandingOutcome:
        async with open_storage(settings) as storage, transaction(storage.sessions) as session:
            patient = await _patient(session, address)
            await _known(session, rpps)
            return await block_professional(session, patient, _account_id(patient), rpps.strip())

    out = run(go)
    _check(out.decision)
    click.echo(f"{rpps.strip()} is blocked from the record of {address}")


@record.command("professionals")
@click.argument("address")
def professionals(address: str) -> None:
    """The professionals who may see the record of ADDRESS, and the blocked ones."""
    settings = settings_or_exit()

    async def go() -> list[str]:
        async with open_storage(settings) as storage, storage.sessions() as session:
            patient = await _patient(session, address)
            decision, views = await list_professionals(session, patient, _account_id(patient))
            _check(decision)
        lines = []
        for v in views:
            name = " ".join(p for p in (v.given_name, v.family_name) if p) or "(not in directory)"
            role = "attending physician" if v.attending_physician else v.state
            if v.state == "authorised" and v.authorised_via:
                role += f" ({v.authorised_via})"
            last = (
                f"last access {v.last_access_at:%Y-%m-%d %H:%M}"
                if v.last_access_at
                else ("no access")
            )
            lines.append(f"{v.professional_id}\t{name}\t{v.profession_label}\t{role}\t{last}")
        return lines

    lines = run(go)
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo("no professional")


@record.command("documents")
@click.argument("address")
def documents(address: str) -> None:
    """The documents of the record of ADDRESS as the patient sees them (id, category,
    visibility codes, title); those hidden from the patient are not listed."""
    settings = settings_or_exit()

    async def go() -> list[str]:
        lines = []
        async with open_storage(settings) as storage, storage.sessions() as session:
            patient = await _patient(session, address)
            offset = 0
            while True:
                page = await list_documents(
                    session,
                    patient,
                    _account_id(patient),
                    DocumentQuery(limit=MAX_LIMIT, offset=offset),
                )
                _check(page.decision)
                for d in page.documents:
                    visibility = d.visibility or "-"
                    lines.append(f"{d.id}\t{d.category}\t{visibility}\t{d.status}\t{d.title}")
                offset += len(page.documents)
                if not page.documents or offset >= page.total:
                    break
        return lines

    lines = run(go)
    for line in lines:
        click.echo(line)
    if not lines:
        click.echo("no document")


@record.command("upload")
@click.argument("address")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", required=True, help="The document's title.")
@click.option("--category", type=click.Choice(CATEGORY_KEYS), help="Category (default: inferred).")
def upload(address: str, file: Path, title: str, category: str | None) -> None:
    """Upload FILE into the record of ADDRESS, as the patient would (PDF, JPEG, PNG, TIFF, text,
    RTF; 5 MB at most)."""
    settings = settings_or_exit()
    limit = settings.records.upload_max_bytes
    if file.stat().st_size > limit:
        raise click.ClickException(f"{file}: larger than {limit} bytes")
    data = file.read_bytes()
    name = safe_filename(file.name)
    try:
        sniffed = sniff(data, name, max_size=limit)
    except UploadRefused as exc:
        raise click.ClickException(f"{file}: {exc.message_fr}") from exc

    async def go() -> int:
        async with open_storage(settings) as storage, transaction(storage.sessions) as session:
            patient = await _patient(session, address)
            out = await upload_document(
                session,
                storage,
                patient,
                _account_id(patient),
                Upload(data, sniffed.mime_type, name, title, category=category),
                settings=settings.records,
            )
            _check(out.decision)
            assert out.document is not None
            return out.document.id

    doc_id = run(go)
    click.echo(f"document {doc_id} uploaded into the record of {address}")
