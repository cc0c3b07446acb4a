"""``espace-sante``: init, serve, and the administration commands."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import click

from espace_sante.cli.app_password_cmds import app_password
from espace_sante.cli.context import open_storage, run, settings_or_exit
from espace_sante.cli.guardian_cmds import guardian
from espace_sante.cli.record_cmds import record
from espace_sante.cli.reference_cmds import allowlist, directory
from espace_sante.config import Settings


@click.group()
@click.version_option(package_name="espace-sante")
def main() -> None:
    """espace-santé: a patient health space around MSSanté secure messaging."""


# -- init ---------------------------------------------------------------------------------------


@main.command()
def init() -> None:
    """Create the data directory, the master key, the development CA and the schema (idempotent)."""
    settings = settings_or_exit()
    run(lambda: _init(settings))


async def _init(settings: Settings) -> None:
    from espace_sante.mta.tls import default_hostnames, ensure_dev_pki
    from espace_sante.storage.crypto import create_master_key
    from espace_sante.storage.engine import create_engine
    from espace_sante.storage.migrate import head_revision, upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.blob_dir.mkdir(parents=True, exist_ok=True)
    created = create_master_key(settings.master_key_file)
    click.echo(f"master key: {settings.master_key_file} ({'created' if created else 'kept'})")
    _pki, made = ensure_dev_pki(settings.pki_dir, default_hostnames(settings))
    click.echo(f"development CA: {settings.pki_dir} ({'created' if made else 'kept'})")
    engine = create_engine(settings)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    click.echo(
        f"database schema: at {head_revision()} ({_redact(settings.effective_database_url)})"
    )


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            creds = creds.split(":", 1)[0] + ":***"
        return f"{scheme}://{creds}@{host}"
    return url


# -- serve --------------------------------------------------------------------------------------


@main.command()
def serve() -> None:
    """Run the listeners (SMTP inbound MX, IMAP, submission, web) and the outbound delivery
    worker until SIGTERM."""
    settings = settings_or_exit()
    from espace_sante.cli import serve as server
    from espace_sante.storage.crypto import KeyError_, load_master_key
    from espace_sante.storage.engine import create_engine
    from espace_sante.storage.migrate import SchemaOutOfDate, check_schema

    logging.basicConfig(level=settings.log_level.upper(), format=server.LOG_FORMAT)
    try:
        load_master_key(settings.master_key_file)
    except KeyError_ as exc:
        raise click.ClickException(str(exc)) from exc

    async def preflight() -> None:
        engine = create_engine(settings)
        try:
            await check_schema(engine)
        except SchemaOutOfDate as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            await engine.dispose()

    run(preflight)
    try:
        server.check_ports(settings)
    except server.PortUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    server.run(settings)


# -- patient ------------------------------------------------------------------------------------


@main.group()
def patient() -> None:
    """Manage patient accounts."""


@patient.command("add")
@click.option("--ins", required=True, help="INS matricule (NIR or NIA), 15 characters.")
@click.option("--oid", required=True, help="INS OID, e.g. 1.2.250.1.213.1.4.8 (INS-NIR).")
@click.option("--family-name", required=True, help="Birth name.")
@click.option("--given-names", required=True, help="Birth first names, space-separated.")
@click.option("--birth-date", required=True, type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD.")
@click.option("--sex", required=True, type=click.Choice(["M", "F"]))
@click.option("--birthplace", required=True, help="INSEE code of the birthplace (5 characters).")
@click.option("--email", "personal_email", default=None, help="Personal e-mail for notifications.")
@click.option(
    "--status",
    default="active",
    type=click.Choice(["active", "created", "opposed", "closed"]),
    show_default=True,
)
def patient_add(
    ins: str,
    oid: str,
    family_name: str,
    given_names: str,
    birth_date: object,
    sex: str,
    birthplace: str,
    personal_email: str | None,
    status: str,
) -> None:
    """Create a patient; prints their MSSanté address."""
    from espace_sante.accounts.patients import NewPatient

    settings = settings_or_exit()
    assert hasattr(birth_date, "date")
    new = NewPatient(
        ins=ins,
        oid=oid,
        family_name=family_name,
        given_names=given_names,
        birth_date=birth_date.date(),
        sex=sex,
        birthplace=birthplace,
        personal_email=personal_email,
        status=status,
    )
    address, code = run(lambda: _add_patient(settings, new))
    click.echo(address)
    click.echo(
        f"provisional activation code: {code} (valid {settings.web.activation_code_days} days, "
        f"single use; the patient enters it at {settings.web.base_url}/activation)"
    )


async def _add_patient(settings: Settings, new: object) -> tuple[str, str]:
    from espace_sante.accounts.patients import NewPatient, PatientError, create_patient
    from espace_sante.accounts.weblogin import issue_activation_code
    from espace_sante.mailbox.store import ensure_default_folders
    from espace_sante.storage.engine import transaction

    assert isinstance(new, NewPatient)
    async with open_storage(settings) as storage:
        try:
            async with transaction(storage.sessions) as session:
                record = await create_patient(
                    session,
                    storage.keyring,
                    new,
                    patient_domain=settings.mssante.patient_domain,
                    accept_test_ins=settings.mssante.accept_test_ins,
                )
                await ensure_default_folders(session, record.account_id)
                code = await issue_activation_code(
                    session,
                    record.account_id,
                    now=datetime.now(UTC),
                    valid_days=settings.web.activation_code_days,
                )
        except PatientError as exc:
            raise click.ClickException(str(exc)) from exc
        return record.address, code


@patient.command("activation-code")
@click.argument("address")
def patient_activation_code(address: str) -> None:
    """Issue a new provisional activation code for ADDRESS (voids the previous one)."""
    settings = settings_or_exit()

    async def issue() -> str:
        from espace_sante.accounts.app_passwords import account_by_address
        from espace_sante.accounts.weblogin import issue_activation_code
        from espace_sante.storage.engine import transaction

        async with open_storage(settings) as storage, transaction(storage.sessions) as session:
            account = await account_by_address(session, address)
            if account is None or account.kind != "patient":
                raise click.ClickException(f"no patient with the address {address}")
            return await issue_activation_code(
                session,
                account.id,
                now=datetime.now(UTC),
                valid_days=settings.web.activation_code_days,
            )

    code = run(issue)
    click.echo(
        f"provisional activation code: {code} (valid {settings.web.activation_code_days} days, "
        f"single use; the patient enters it at {settings.web.base_url}/activation)"
    )


# -- audit --------------------------------------------------------------------------------------


@main.group("audit")
def audit_group() -> None:
    """The activity log."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Recompute every hash chain; exit 1 if any entry was altered, removed or reordered."""
    settings = settings_or_exit()

    async def verify() -> int:
        from espace_sante import audit

        async with open_storage(settings) as storage, storage.sessions() as session:
            problems = await audit.verify(session)
        for p in problems:
            click.echo(f"account {p.account_id} entry {p.seq}: {p.reason}", err=True)
        return len(problems)

    count = run(verify)
    if count:
        raise SystemExit(1)
    click.echo("audit log: every chain verifies")


# -- demo ---------------------------------------------------------------------------------------


@main.command()
def demo() -> None:
    """Seed demo patients, professionals and trust-space domains (idempotent)."""
    from espace_sante.cli.demo import seed

    settings = settings_or_exit()
    lines = run(lambda: seed(settings))
    for line in lines:
        click.echo(line)


main.add_command(directory)
main.add_command(allowlist)
main.add_command(app_password)
main.add_command(guardian)
main.add_command(record)

__all__ = ["main", "date"]
