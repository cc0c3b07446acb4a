"""Creating and finding patient accounts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante import audit
from espace_sante.policy import addresses, ins
from espace_sante.storage.crypto import Keyring
from espace_sante.storage.schema import Account, Patient

PATIENT_STATUSES = ("created", "active", "opposed", "closed")


class PatientError(ValueError):
    """The patient cannot be created as asked; the message says why."""


@dataclass(frozen=True)
class NewPatient:
    ins: str
    oid: str
    family_name: str
    given_names: str
    birth_date: date
    sex: str
    birthplace: str
    personal_email: str | None = None
    status: str = "active"


@dataclass(frozen=True)
class PatientRecord:
    account_id: int
    address: str
    status: str
    ins: str


async def create_patient(
    session: AsyncSession,
    keyring: Keyring,
    new: NewPatient,
    *,
    patient_domain: str,
    accept_test_ins: bool,
    actor: str = "cli",
) -> PatientRecord:
    """Create the patient's account and identity; the address is built from the qualified INS."""
    matricule = ins.normalise_matricule(new.ins)
    verdict = ins.check_matricule(matricule)
    if verdict.key == "bad_ins_key":
        raise PatientError(f"--ins: the key of {matricule} is wrong (97 - number mod 97)")
    if not verdict.accepted:
        raise PatientError(f"--ins: {matricule!r} is not an INS matricule (13 characters + key)")
    if new.oid not in ins.accepted_oids(accept_test_ins):
        raise PatientError(f"--oid: {new.oid} is not an accepted INS OID")
    if new.sex not in ("M", "F"):
        raise PatientError("--sex: expected M or F")
    if new.status not in PATIENT_STATUSES:
        raise PatientError(f"--status: expected one of {', '.join(PATIENT_STATUSES)}")
    if not (new.birthplace.isalnum() and len(new.birthplace) == 5):
        raise PatientError("--birthplace: expected a 5-character INSEE code")
    if not new.family_name.strip() or not new.given_names.strip():
        raise PatientError("--family-name and --given-names must not be empty")
    if new.personal_email is not None and addresses.parse_mailbox(new.personal_email) is None:
        raise PatientError(f"--email: not an e-mail address: {new.personal_email!r}")
    existing = (await session.execute(select(Patient).where(Patient.ins == matricule))).scalar()
    if existing is not None:
        raise PatientError(f"--ins: a patient with INS {matricule} already exists")
    now = datetime.now(UTC)
    address = addresses.patient_address(matricule, patient_domain)
    account = Account(
        kind="patient",
        address=address,
        display_name=f"{new.given_names.split()[0]} {new.family_name}".strip(),
        status=new.status,
        personal_email=new.personal_email,
        wrapped_key=b"",
        created_at=now,
        status_changed_at=now,
    )
    session.add(account)
    await session.flush()
    account.wrapped_key = keyring.new_wrapped_key(account.id)
    session.add(
        Patient(
            account_id=account.id,
            ins=matricule,
            ins_oid=new.oid,
            identity_status="qualified",
            family_name=new.family_name.strip().upper(),
            given_names=new.given_names.strip(),
            birth_date=new.birth_date,
            sex=new.sex,
            birthplace=new.birthplace.upper(),
        )
    )
    await audit.append(
        session,
        account_id=account.id,
        actor=actor,
        action="account.created",
        detail={"kind": "patient", "status": new.status},
    )
    return PatientRecord(account.id, address, new.status, matricule)


async def find_patient_by_ins(session: AsyncSession, matricule: str) -> PatientRecord | None:
    row = (
        await session.execute(
            select(Account.id, Account.address, Account.status, Patient.ins)
            .join(Patient, Patient.account_id == Account.id)
            .where(Patient.ins == matricule)
        )
    ).first()
    return PatientRecord(*row) if row else None


@dataclass(frozen=True)
class HolderFacts:
    """What the record needs to know of the account that holds it."""

    account_id: int
    address: str
    display_name: str
    status: str  # created | active | opposed | closed


async def holder_facts(session: AsyncSession, account_id: int) -> HolderFacts | None:
    """The record holder's address, name and status (None: no such account)."""
    row = (
        await session.execute(
            select(Account.id, Account.address, Account.display_name, Account.status).where(
                Account.id == account_id
            )
        )
    ).first()
    return HolderFacts(*row) if row else None
