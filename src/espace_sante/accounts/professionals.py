"""Facts about professionals from the national directory, for the packages that must not read
its table themselves (``records``, ``mta``): national ids, names and professions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from espace_sante.storage.schema import Professional


def national_id_sync(session: Session, address: str) -> str | None:
    """The national id (RPPS/ADELI) of the directory entry of ``address``, if it has one."""
    found = session.execute(
        select(Professional.national_id).where(Professional.address == address.strip().lower())
    ).scalar_one_or_none()
    return found or None


@dataclass(frozen=True)
class DirectoryPerson:
    """A professional as the directory names them (one of their mailboxes)."""

    national_id: str
    family_name: str
    given_name: str
    profession_code: str
    profession_label: str
    specialty_label: str
    organisation: str


async def people_by_national_id(
    session: AsyncSession, national_ids: list[str] | set[str] | frozenset[str]
) -> dict[str, DirectoryPerson]:
    """The directory's entry of each national id found (a personal mailbox preferred)."""
    if not national_ids:
        return {}
    rows = (
        await session.execute(
            select(Professional)
            .where(Professional.national_id.in_(sorted(national_ids)))
            .order_by(Professional.mailbox_type != "PER", Professional.address)
        )
    ).scalars()
    found: dict[str, DirectoryPerson] = {}
    for p in rows:
        found.setdefault(
            p.national_id,
            DirectoryPerson(
                p.national_id,
                p.family_name,
                p.given_name,
                p.profession_code,
                p.profession_label,
                p.specialty_label,
                p.organisation,
            ),
        )
    return found
