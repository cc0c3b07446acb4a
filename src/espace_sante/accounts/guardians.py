"""Guardians of dependants' spaces: who may act for a minor, stored per dependant.

A guardian logs in with their own credentials and names the dependant they act for (the SASL
authorization identity in IMAP/SMTP, the profile switch in the web); ``may_act_for`` is the one
check every entry point calls. The rules (majority, revocation) are in ``policy.guardianship``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante import audit
from espace_sante.accounts.app_passwords import account_by_address
from espace_sante.policy.guardianship import GuardianshipFacts, is_minor, may_act
from espace_sante.storage.schema import Account, Guardianship, Patient


class GuardianError(ValueError):
    """The guardianship cannot be recorded (unknown account, adult dependant…)."""


@dataclass(frozen=True)
class GuardianshipInfo:
    dependant: str
    guardian: str
    granted_at: datetime
    ends_on: date | None
    revoked_at: datetime | None


async def add_guardian(
    session: AsyncSession,
    dependant_address: str,
    guardian_address: str,
    *,
    ends_on: date | None = None,
    actor: str = "cli",
    today: date | None = None,
) -> GuardianshipInfo:
    """Let ``guardian_address`` act for the minor ``dependant_address`` (audited on both)."""
    today = today or datetime.now(UTC).date()
    dependant = await account_by_address(session, dependant_address)
    guardian = await account_by_address(session, guardian_address)
    if dependant is None or dependant.kind != "patient":
        raise GuardianError(f"{dependant_address}: no such patient")
    if guardian is None:
        raise GuardianError(f"{guardian_address}: no such account")
    if guardian.id == dependant.id:
        raise GuardianError("an account cannot be its own guardian")
    birth = await _birth_date(session, dependant.id)
    if birth is None or not is_minor(birth, today):
        raise GuardianError(f"{dependant_address} is not a minor: they use their own access")
    row = await _row(session, dependant.id, guardian.id)
    now = datetime.now(UTC)
    if row is None:
        row = Guardianship(account_id=dependant.id, guardian_account_id=guardian.id, granted_at=now)
        session.add(row)
    row.ends_on = ends_on
    row.revoked_at = None
    await session.flush()
    for account_id in (dependant.id, guardian.id):
        await audit.append(
            session, account_id=account_id, actor=actor, action="guardianship.granted",
            detail={"dependant": dependant.id, "guardian": guardian.id},
        )  # fmt: skip
    return _info(row, dependant.address, guardian.address)


async def revoke_guardian(
    session: AsyncSession, dependant_address: str, guardian_address: str, *, actor: str = "cli"
) -> bool:
    """End a guardianship now; False when there was none in force."""
    dependant = await account_by_address(session, dependant_address)
    guardian = await account_by_address(session, guardian_address)
    if dependant is None or guardian is None:
        raise GuardianError("no such guardianship")
    row = await _row(session, dependant.id, guardian.id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = datetime.now(UTC)
    for account_id in (dependant.id, guardian.id):
        await audit.append(
            session, account_id=account_id, actor=actor, action="guardianship.revoked",
            detail={"dependant": dependant.id, "guardian": guardian.id},
        )  # fmt: skip
    return True


async def guardianships_of(session: AsyncSession, address: str) -> list[GuardianshipInfo]:
    """Every guardianship where ``address`` is the dependant or the guardian."""
    account = await account_by_address(session, address)
    if account is None:
        raise GuardianError(f"{address}: no such account")
    dependant = Account.__table__.alias("dependant")
    guardian = Account.__table__.alias("guardian")
    rows = (
        await session.execute(
            select(Guardianship, dependant.c.address, guardian.c.address)
            .join(dependant, dependant.c.id == Guardianship.account_id)
            .join(guardian, guardian.c.id == Guardianship.guardian_account_id)
            .where(
                (Guardianship.account_id == account.id)
                | (Guardianship.guardian_account_id == account.id)
            )
            .order_by(Guardianship.id)
        )
    ).all()
    return [_info(row, dep, guard) for row, dep, guard in rows]


async def may_act_for(
    session: AsyncSession, guardian: Account, dependant_address: str, today: date | None = None
) -> Account | None:
    """The dependant's account when ``guardian`` may act for it today, else None."""
    today = today or datetime.now(UTC).date()
    dependant = await account_by_address(session, dependant_address)
    if dependant is None or dependant.status != "active":
        return None
    row = await _row(session, dependant.id, guardian.id)
    birth = await _birth_date(session, dependant.id)
    if row is None or birth is None:
        return None
    facts = GuardianshipFacts(
        dependant_birth_date=birth,
        ends_on=row.ends_on,
        revoked=row.revoked_at is not None,
        guardian_active=guardian.status == "active",
    )
    return dependant if may_act(facts, today) else None


async def _row(session: AsyncSession, dependant_id: int, guardian_id: int) -> Guardianship | None:
    return (
        await session.execute(
            select(Guardianship).where(
                Guardianship.account_id == dependant_id,
                Guardianship.guardian_account_id == guardian_id,
            )
        )
    ).scalar_one_or_none()


async def _birth_date(session: AsyncSession, account_id: int) -> date | None:
    return (
        await session.execute(select(Patient.birth_date).where(Patient.account_id == account_id))
    ).scalar_one_or_none()


def _info(row: Guardianship, dependant: str, guardian: str) -> GuardianshipInfo:
    return GuardianshipInfo(dependant, guardian, row.granted_at, row.ends_on, row.revoked_at)


async def guardians_in_force(
    session: AsyncSession, dependant_id: int, today: date | None = None
) -> list[Account]:
    """The guardians who may act for the dependant today (for notices, the profile switch)."""
    today = today or datetime.now(UTC).date()
    birth = await _birth_date(session, dependant_id)
    if birth is None:
        return []
    rows = (
        await session.execute(
            select(Guardianship, Account)
            .join(Account, Account.id == Guardianship.guardian_account_id)
            .where(Guardianship.account_id == dependant_id)
        )
    ).all()
    return [
        guardian
        for row, guardian in rows
        if may_act(
            GuardianshipFacts(
                birth, row.ends_on, row.revoked_at is not None, guardian.status == "active"
            ),
            today,
        )  # fmt: skip
    ]


async def dependants_in_force(
    session: AsyncSession, guardian_id: int, today: date | None = None
) -> list[Account]:
    """The dependants whose space ``guardian_id`` may open today (the switch of the web pages:
    it disappears at the dependant's majority, on revocation, or when a space is not active)."""
    today = today or datetime.now(UTC).date()
    guardian = await session.get(Account, guardian_id)
    if guardian is None:
        return []
    rows = (
        await session.execute(
            select(Guardianship, Account, Patient.birth_date)
            .join(Account, Account.id == Guardianship.account_id)
            .join(Patient, Patient.account_id == Guardianship.account_id)
            .where(Guardianship.guardian_account_id == guardian_id)
            .order_by(Account.display_name, Account.id)
        )
    ).all()
    return [
        dependant
        for row, dependant, birth in rows
        if dependant.status == "active"
        and may_act(
            GuardianshipFacts(
                birth, row.ends_on, row.revoked_at is not None, guardian.status == "active"
            ),
            today,
        )  # fmt: skip
    ]


async def dependant_in_force(
    session: AsyncSession, guardian_id: int, dependant_id: int, today: date | None = None
) -> Account | None:
    """The dependant's account when ``guardian_id`` may act for it today, else None."""
    guardian = await session.get(Account, guardian_id)
    dependant = await session.get(Account, dependant_id)
    if guardian is None or dependant is None:
        return None
    return await may_act_for(session, guardian, dependant.address, today)


async def birth_date_of(session: AsyncSession, account_id: int) -> date | None:
    """A patient's date of birth (the majority ends a guardian's access)."""
    return await _birth_date(session, account_id)
