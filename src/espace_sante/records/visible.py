"""The access decision on a whole record as one SQL predicate, for lists and counts.

``policy.record_access.decide`` is the rule; this module restates it for one actor and one
record as a WHERE clause, so that a page and its count are computed by the database over the
visible documents only. Everything the rule reads is a column (visibility codes, author, type
code) or a fact of the record, except the access matrix, a Python function: it is evaluated
once per distinct type code of the record, which turns it into an ``IN`` list. The lists still
apply ``decide`` to every row they return, so a mistake here could hide a document but never
show a refused one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, literal, not_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante.policy.record_access import (
    ATTENDING,
    BLOCKED,
    INVISIBLE_PATIENT,
    INVISIBLE_REPRESENTANTS_LEGAUX,
    MASQUE_PS,
    Actor,
    ActorKind,
    Decision,
    ProfessionMayRead,
    RecordFacts,
    record_entry,
)
from espace_sante.storage.schema import Document


def has_code(code: str) -> ColumnElement[bool]:
    """The document's visibility codes include ``code`` (escaped: codes hold underscores)."""
    padded = literal(" ").concat(Document.visibility).concat(" ")
    return padded.contains(f" {code} ", autoescape=True)


async def readable_types(
    session: AsyncSession, account_id: int, profession_code: str, may_read: ProfessionMayRead
) -> tuple[list[str], bool]:
    """The record's type codes the profession may read, and whether it may read documents
    without one."""
    codes = (
        await session.execute(
            select(Document.type_code).where(Document.account_id == account_id).distinct()
        )
    ).scalars()
    allowed: list[str] = []
    untyped = False
    for code in codes:
        if may_read(profession_code, code):
            if code is None:
                untyped = True
            else:
                allowed.append(code)
    return sorted(allowed), untyped


async def visible_clause(
    session: AsyncSession,
    actor: Actor,
    record: RecordFacts,
    *,
    profession_may_read: ProfessionMayRead,
    now: datetime,
) -> tuple[ColumnElement[bool], Decision]:
    """The documents of ``record`` that ``decide`` lets ``actor`` see, and the record-entry
    decision (why the record is or is not open to them)."""
    mine = Document.account_id == record.account_id
    entry = record_entry(actor, record, now=now)
    if actor.kind is ActorKind.PATIENT:
        if not entry.allowed:
            return false(), entry
        return and_(mine, not_(has_code(INVISIBLE_PATIENT))), entry
    if actor.kind is ActorKind.GUARDIAN:
        if not entry.allowed:
            return false(), entry
        hidden = or_(has_code(INVISIBLE_PATIENT), has_code(INVISIBLE_REPRESENTANTS_LEGAUX))
        return and_(mine, not_(hidden)), entry
    pid = actor.professional_id
    author = Document.author_professional_id == pid if pid else false()
    if not entry.allowed:
        if pid and record.open and entry is not BLOCKED:
            return and_(mine, author), entry
        return false(), entry
    types, untyped = await readable_types(
        session, record.account_id, actor.profession_code, profession_may_read
    )
    type_ok = or_(
        Document.type_code.in_(types) if types else false(),
        Document.type_code.is_(None) if untyped else false(),
    )
    if entry is ATTENDING or (entry.emergency and record.consents.masked_documents):
        masked_ok: ColumnElement[bool] = true()
    else:
        masked_ok = not_(has_code(MASQUE_PS))
    return and_(mine, or_(author, and_(type_ok, masked_ok))), entry
