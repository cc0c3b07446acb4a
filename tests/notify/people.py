"""People for the notice tests: patients with distinctive names, personal addresses, phones."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime

from sqlalchemy import select, update

from espace_sante.accounts.guardians import add_guardian
from espace_sante.accounts.patients import NewPatient, PatientRecord, create_patient
from espace_sante.mailbox.store import ensure_default_folders
from espace_sante.policy.ins import DEMO_NIR_OID
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Account, OutboundMessage, QueuedSms, WebCredential
from fixtures.mssante import valid_nir

PERSONAL = "boite.perso@example.org"
GUARDIAN_MAIL = "parent.perso@example.org"
MOBILE = "+33612345678"


async def patient(
    storage: Storage, prefix: str, family: str, given: str, *, born: date = date(1980, 3, 4)
) -> PatientRecord:
    async with transaction(storage.sessions) as s:
        record = await create_patient(
            s, storage.keyring,
            NewPatient(ins=valid_nir(prefix), oid=DEMO_NIR_OID, family_name=family,
                       given_names=given, birth_date=born, sex="F", birthplace="75112",
                       status="active"),
            patient_domain=storage.settings.mssante.patient_domain, accept_test_ins=True,
        )  # fmt: skip
        await ensure_default_folders(s, record.account_id)
    return record


async def minor_with_guardian(storage: Storage, guardian: PatientRecord) -> PatientRecord:
    minor = await patient(storage, "1150675123999", "ENFANT", "Léo", born=date(2015, 6, 1))
    async with transaction(storage.sessions) as s:
        await add_guardian(s, minor.address, guardian.address)
    return minor


async def set_email(storage: Storage, account_id: int, address: str | None) -> None:
    async with transaction(storage.sessions) as s:
        await s.execute(
            update(Account).where(Account.id == account_id).values(personal_email=address)
        )


async def set_phone(storage: Storage, account_id: int, phone: str | None) -> None:
    now = datetime.now(UTC)
    async with transaction(storage.sessions) as s:
        s.add(
            WebCredential(
                account_id=account_id, password_hash="x", mobile_phone=phone, code_channel="sms",
                activated_at=now, password_changed_at=now,
            )
        )  # fmt: skip


async def notices(storage: Storage) -> list[OutboundMessage]:
    async with storage.sessions() as s:
        query = select(OutboundMessage).where(OutboundMessage.kind == "notification")
        return list((await s.execute(query.order_by(OutboundMessage.id))).scalars())


async def queued_sms(storage: Storage) -> list[QueuedSms]:
    async with storage.sessions() as s:
        return list((await s.execute(select(QueuedSms).order_by(QueuedSms.id))).scalars())


def body_of(row: OutboundMessage) -> str:
    parsed = email.message_from_bytes(row.raw, policy=email.policy.default)
    return parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr,no-any-return]


def subject_of(row: OutboundMessage) -> str:
    return str(email.message_from_bytes(row.raw, policy=email.policy.default)["Subject"])
