"""Facts about professionals from the national directory, for the packages that must not read
its table themselves (``records``, ``mta``): national ids, names and professions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
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


#: The most people one directory search returns.
SEARCH_LIMIT = 20


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_people(
    session: AsyncSession, text: str, *, limit: int = SEARCH_LIMIT
) -> list[DirectoryPerson]:
    """People of the directory (with a national id) whose national id starts with ``text`` when
    it is digits, else whose family or given name contains it (case-insensitive); at most
    ``limit`` (capped at :data:`SEARCH_LIMIT`) distinct national ids, by name."""
    text = " ".join(text.split())[:100]
    limit = max(0, min(limit, SEARCH_LIMIT))
    if not text or not limit:
        return []
    where: ColumnElement[bool]
    if text.isascii() and text.isdigit():
        where = Professional.national_id.like(_like_escaped(text) + "%", escape="\\")
    else:
        pattern = "%" + _like_escaped(text.lower()) + "%"
        full = func.lower(Professional.given_name + " " + Professional.family_name)
        where = or_(
            func.lower(Professional.family_name).like(pattern, escape="\\"),
            func.lower(Professional.given_name).like(pattern, escape="\\"),
            full.like(pattern, escape="\\"),
        )
    ids = (
        await session.execute(
            select(Professional.national_id)
            .where(where, Professional.national_id != "")
            .group_by(Professional.national_id)
            .order_by(
                func.min(Professional.family_name),
                func.min(Professional.given_name),
                Professional.national_id,
            )
            .limit(limit)
        )
    ).scalars()
    ordered = list(ids)
    people = await people_by_national_id(session, ordered)
    return [people[pid] for pid in ordered if pid in people]
