"""A guardian opens a minor's mailbox with their own app password and the SASL authorization
identity (AUTHENTICATE PLAIN authzid), never with a shared password."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import select

from espace_sante.accounts.guardians import (
    GuardianError,
    add_guardian,
    guardianships_of,
    revoke_guardian,
)
from espace_sante.accounts.patients import NewPatient, PatientRecord, create_patient
from espace_sante.mailbox.store import ensure_default_folders
from espace_sante.policy.ins import DEMO_NIR_OID
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AuditEntry
from fixtures.mssante import clinician_message, valid_nir
from fixtures.seed import DOCTOR, Seeded

from .conftest import Mailbox, deliver
from .raw import RawOpener


async def _minor(storage: Storage) -> PatientRecord:
    async with transaction(storage.sessions) as session:
        record = await create_patient(
            session,
            storage.keyring,
            NewPatient(
                ins=valid_nir("1150675123999"),
                oid=DEMO_NIR_OID,
                family_name="ENFANT",
                given_names="Léo",
                birth_date=date(2015, 6, 1),
                sex="M",
                birthplace="75112",
                status="active",
            ),
            patient_domain=storage.settings.mssante.patient_domain,
            accept_test_ins=True,
        )
        await ensure_default_folders(session, record.account_id)
    return record


def _plain(authzid: str, user: str, password: str) -> str:
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()


async def test_guardian_reads_the_dependants_mailbox(
    raw_imap: RawOpener,
    mailbox: Mailbox,
    storage: Storage,
    seeded: Seeded,
) -> None:
    minor = await _minor(storage)
    await deliver(
        storage,
        replace(seeded, active=minor),
        clinician_message(sender=DOCTOR, patient_ins=minor.ins, subject="Vaccins"),
    )
    s = await raw_imap()
    # not a guardian yet: refused, and nothing is opened
    refused = await s.command(
        f"a AUTHENTICATE PLAIN {_plain(minor.address, mailbox.address, mailbox.password)}"
    )
    assert refused.tagged.startswith(b"a NO [AUTHORIZATIONFAILED]")

    async with transaction(storage.sessions) as session:
        await add_guardian(session, minor.address, mailbox.address)
    ok = await s.command(
        f"b AUTHENTICATE PLAIN {_plain(minor.address, mailbox.address, mailbox.password)}"
    )
    assert ok.tagged.startswith(b"b OK")
    await s.command("c SELECT INBOX")
    fetched = await s.command("d FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    subjects = fetched.joined
    assert b"Vaccins" in subjects and b"Compte rendu" not in subjects  # the minor's mail only
    s.close()

    async with storage.sessions() as session:
        actions = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.actor).where(
                    AuditEntry.account_id == minor.account_id
                )
            )
        ).all()
    assert ("mailbox.guardian_login", f"account:{seeded.active.account_id}") in actions


async def test_another_account_or_a_revoked_guardian_is_refused(
    raw_imap: RawOpener,
    mailbox: Mailbox,
    storage: Storage,
) -> None:
    minor = await _minor(storage)
    async with transaction(storage.sessions) as session:
        await add_guardian(session, minor.address, mailbox.address)
    s = await raw_imap()
    # the other patient is not the minor's guardian
    other = _plain(minor.address, mailbox.other_address, mailbox.other_password)
    assert (await s.command(f"a AUTHENTICATE PLAIN {other}")).tagged.startswith(
        b"a NO [AUTHORIZATIONFAILED]"
    )
    # acting for an adult is never allowed
    adult = _plain(mailbox.other_address, mailbox.address, mailbox.password)
    assert (await s.command(f"b AUTHENTICATE PLAIN {adult}")).tagged.startswith(b"b NO")
    async with transaction(storage.sessions) as session:
        assert await revoke_guardian(session, minor.address, mailbox.address)
        assert not await revoke_guardian(session, minor.address, mailbox.address)
        (info,) = await guardianships_of(session, minor.address)
        assert info.revoked_at is not None
    mine = _plain(minor.address, mailbox.address, mailbox.password)
    assert (await s.command(f"c AUTHENTICATE PLAIN {mine}")).tagged.startswith(
        b"c NO [AUTHORIZATIONFAILED]"
    )
    s.close()
    await asyncio.sleep(0)


async def test_adults_cannot_be_given_a_guardian(storage: Storage, seeded: Seeded) -> None:
    async with transaction(storage.sessions) as session:
        with pytest.raises(GuardianError, match="not a minor"):
            await add_guardian(session, seeded.other.address, seeded.active.address)
        with pytest.raises(GuardianError, match="no such patient"):
            await add_guardian(session, "nobody@patient.mssante.fr", seeded.active.address)
