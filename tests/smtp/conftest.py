"""Fixtures of the SMTP tests: a seeded trust space and a gateway listening on loopback."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

import pytest

from espace_sante.accounts.patients import NewPatient, PatientRecord, create_patient
from espace_sante.config import Settings
from espace_sante.mailbox.store import ensure_default_folders
from espace_sante.mta.server import InboundListener
from espace_sante.mta.tls import DevPki
from espace_sante.policy.ins import DEMO_NIR_OID, TEST_NIR_OID
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AllowedDomain, Professional
from fixtures.mssante import valid_nir

DOCTOR = "dr.dupont@medecin.mssante.fr"
CARDIO = "claire.martin@ch-demo.mssante.fr"
PHARMACY = "officine@pharmacie.mssante.fr"
UNLISTED_DOCTOR = "inconnu@medecin.mssante.fr"  # allowed domain, not in the directory


@dataclass(frozen=True)
class Seeded:
    active: PatientRecord
    other: PatientRecord
    closed: PatientRecord
    opposed: PatientRecord
    created: PatientRecord


async def seed_trust_space(storage: Storage) -> Seeded:
    now = datetime.now(UTC)
    async with transaction(storage.sessions) as session:
        for domain in ("medecin.mssante.fr", "ch-demo.mssante.fr", "pharmacie.mssante.fr"):
            session.add(AllowedDomain(name=domain, imported_at=now))
        for address, code in ((DOCTOR, "10"), (CARDIO, "10"), (PHARMACY, "21")):
            session.add(
                Professional(
                    address=address,
                    mailbox_type="PER",
                    national_id="810000000000",
                    family_name="DUPONT",
                    given_name="Jean",
                    profession_code=code,
                    profession_label="Médecin" if code == "10" else "Pharmacien",
                    specialty_label="",
                    organisation="",
                    postal_code="75014",
                    city="PARIS",
                    updated_at=now,
                )
            )
    records = {}
    specs = {
        "active": ("2800175123456", "active"),
        "other": ("1750269123123", "active"),
        "closed": ("2851275111222", "closed"),
        "opposed": ("1900133222333", "opposed"),
        "created": ("2010592333444", "created"),
    }
    for name, (prefix, status) in specs.items():
        async with transaction(storage.sessions) as session:
            record = await create_patient(
                session,
                storage.keyring,
                NewPatient(
                    ins=valid_nir(prefix),
                    oid=DEMO_NIR_OID if name != "other" else TEST_NIR_OID,
                    family_name=name.upper(),
                    given_names="Test",
                    birth_date=date(1980, 1, 15),
                    sex="F",
                    birthplace="75112",
                    status=status,
                ),
                patient_domain=storage.settings.mssante.patient_domain,
                accept_test_ins=True,
            )
            await ensure_default_folders(session, record.account_id)
        records[name] = record
    return Seeded(**records)


@pytest.fixture
async def seeded(storage: Storage) -> Seeded:
    return await seed_trust_space(storage)


@pytest.fixture
async def gateway(
    settings: Settings, storage: Storage, seeded: Seeded
) -> AsyncIterator[InboundListener]:
    listener = InboundListener(settings, storage)
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stop(grace=10)


@pytest.fixture
def client_tls(pki: DevPki) -> ssl.SSLContext:
    """What an operator's MTA uses: our CA to verify us, its client certificate to be known."""
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    ctx.load_cert_chain(str(pki.client_cert), str(pki.client_key))
    return ctx


@pytest.fixture
def strict_settings(settings: Settings, pki: DevPki) -> Settings:
    """Settings that require a client certificate from the (development) trust-space CA."""
    return replace(settings, smtp=replace(settings.smtp, trust_ca_file=str(pki.ca_cert)))
