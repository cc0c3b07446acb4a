"""Queries on a record's documents for one actor: the list (filters, paging) and version chains.

The list is two statements — the page and its count — over the documents the access decision
lets the actor see (``records.visible``), then ``decide`` again on each row of the page as a
guard. Newest first, on the (account_id, deposited_at) index. A professional's list is audited
(``record.listed``, or ``record.access_refused`` when the record is closed to them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante.policy.record_access import (
    Decision,
    DocumentStatus,
    Operation,
    ProfessionMayRead,
    RecordFacts,
    decide,
)
from espace_sante.records.access import (
    NOT_FOUND,
    Caller,
    audit_access,
    matrix_or_default,
    now_or_utc,
)
from espace_sante.records.facts import document_facts, record_facts
from espace_sante.records.visible import visible_clause
from espace_sante.storage.schema import Document

log = logging.getLogger(__name__)

MAX_LIMIT = 200


@dataclass(frozen=True)
class DocumentQuery:
    """What to list. ``statuses`` None: approved only for professionals; for the patient and
    guardians every current version (approved or deprecated, not superseded)."""

    category: str | None = None
    #: The period, on ``period_on``: "creation" (the document's date, else its deposit) or
    #: "deposit".
    period_from: datetime | None = None
    period_to: datetime | None = None
    period_on: Literal["creation", "deposit"] = "creation"
    #: Part of the author's name or institution.
    author: str | None = None
    #: Part of the title or of the author (case-insensitive).
    search: str | None = None
    statuses: frozenset[DocumentStatus] | None = None
    include_archived: bool = False
    #: Only the documents deposited from the message with this Message-ID (kept in the
    #: document's metadata at delivery).
    message_id: str | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class DocumentPage:
    #: Whether the record is open to the actor (a refused professional may still see what
    #: they authored).
    decision: Decision
    documents: list[Document] = field(default_factory=list)
    #: How many visible documents match the query (all pages).
    total: int = 0
    first_access: bool = False
    emergency: bool = False


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    return func.lower(func.coalesce(column, "")).contains(text.lower(), autoescape=True)


def _filters(caller: Caller, query: DocumentQuery) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    statuses = query.statuses
    if statuses is None:
        statuses = (
            frozenset({DocumentStatus.APPROVED, DocumentStatus.DEPRECATED})
            if caller.is_holder
            else frozenset({DocumentStatus.APPROVED})
        )
    out.append(Document.status.in_(sorted(s.value for s in statuses)))
    if not query.include_archived:
        out.append(not_(Document.archived))
    if query.category:
        out.append(Document.category == query.category)
    if query.message_id is not None:
        out.append(Document.source.in_(("xdm", "attachment")))
        out.append(Document.metadata_json["message_id"].as_string() == query.message_id)
    when = (
        Document.deposited_at
        if query.period_on == "deposit"
        else func.coalesce(Document.creation_time, Document.deposited_at)
    )
    if query.period_from is not None:
        out.append(when >= query.period_from)
    if query.period_to is not None:
        out.append(when <= query.period_to)
    if query.author and query.author.strip():
        a = query.author.strip()
        out.append(
            or_(_contains(Document.author_person, a), _contains(Document.author_institution, a))
        )
    if query.search and query.search.strip():
        q = query.search.strip()
        out.append(
            or_(
                _contains(Document.title, q),
                _contains(Document.author_person, q),
                _contains(Document.author_institution, q),
            )
        )
    return out


async def list_documents(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    query: DocumentQuery | None = None,
    *,
    now: datetime | None = None,
    profession_may_read: ProfessionMayRead | None = None,
) -> DocumentPage:
    """One page of the documents of ``account_id``'s record that ``caller`` may see."""
    query = query or DocumentQuery()
    now = now_or_utc(now)
    may_read = matrix_or_default(profession_may_read)
    record = await record_facts(session, account_id, now=now)
    visible, entry = await visible_clause(
        session, caller.actor, record, profession_may_read=may_read, now=now
    )
    where = and_(visible, *_filters(caller, query))
    limit = max(0, min(query.limit, MAX_LIMIT))
    total = int(
        (await session.execute(select(func.count()).select_from(Document).where(where)))
        .scalar_one()
    )  # fmt: skip
    rows = list(
        (
            await session.execute(
                select(Document)
                .where(where)
                .order_by(Document.deposited_at.desc(), Document.id.desc())
                .limit(limit)
                .offset(max(0, query.offset))
            )
        ).scalars()
    )
    shown = _guard(caller, rows, record, may_read, now)
    total -= len(rows) - len(shown)
    first = False
    if not caller.is_holder:
        action = "record.listed" if entry.allowed or total else "record.access_refused"
        first = await audit_access(
            session,
            caller,
            account_id,
            action=action,
            decision=entry,
            now=now,
            detail={
                "operation": Operation.LIST.value,
                "total": total,
                "documents": [r.id for r in shown],
            },
        )
    return DocumentPage(entry, shown, total, first_access=first, emergency=entry.emergency)


def _guard(
    caller: Caller,
    rows: list[Document],
    record: RecordFacts,
    may_read: ProfessionMayRead,
    now: datetime,
) -> list[Document]:
    shown = []
    for row in rows:
        d = decide(
            caller.actor,
            Operation.LIST,
            document_facts(row),
            record,
            profession_may_read=may_read,
            now=now,
        )
        if d.allowed:
            shown.append(row)
        else:  # records.visible disagrees with policy: hide, and say so
            log.error(
                "list of record %s showed document %s refused (%s)",
                row.account_id,
                row.id,
                d.reason,
            )
    return shown


@dataclass(frozen=True)
class VersionChain:
    """A document and the versions around it that the actor may see, oldest first."""

    decision: Decision
    document: Document | None = None
    older: list[Document] = field(default_factory=list)
    newer: list[Document] = field(default_factory=list)


async def version_chain(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    document_id: int,
    *,
    now: datetime | None = None,
    profession_may_read: ProfessionMayRead | None = None,
) -> VersionChain:
    """The older versions (what it replaced, and so on) and newer ones (what replaced it) of a
    document, each filtered by the decision. Audited for professionals."""
    now = now_or_utc(now)
    may_read = matrix_or_default(profession_may_read)
    record = await record_facts(session, account_id, now=now)

    def allowed(row: Document) -> bool:
        facts = document_facts(row)
        return decide(
            caller.actor, Operation.METADATA, facts, record, profession_may_read=may_read, now=now
        ).allowed

    start = await session.get(Document, document_id)
    decision = (
        decide(
            caller.actor,
            Operation.METADATA,
            document_facts(start),
            record,
            profession_may_read=may_read,
            now=now,
        )
        if start is not None
        else None
    )
    if start is None or decision is None or not decision.allowed:
        refused = decision or NOT_FOUND
        if not caller.is_holder:
            await audit_access(
                session,
                caller,
                account_id,
                action="document.access_refused",
                decision=refused,
                now=now,
                detail={"document": document_id, "operation": "versions"},
            )
        return VersionChain(refused)
    older: list[Document] = []
    seen = {start.id}
    row = start
    while row.replaces_id is not None and row.replaces_id not in seen:
        prev = await session.get(Document, row.replaces_id)
        if prev is None or prev.account_id != account_id:
            break
        seen.add(prev.id)
        older.append(prev)
        row = prev
    newer: list[Document] = []
    row = start
    while True:
        nxt = (
            await session.execute(
                select(Document)
                .where(Document.account_id == account_id, Document.replaces_id == row.id)
                .order_by(Document.id)
                .limit(1)
            )
        ).scalar_one_or_none()
        if nxt is None or nxt.id in seen:
            break
        seen.add(nxt.id)
        newer.append(nxt)
        row = nxt
    chain = VersionChain(
        decision,
        start,
        [r for r in reversed(older) if allowed(r)],
        [r for r in newer if allowed(r)],
    )
    if not caller.is_holder:
        await audit_access(
            session,
            caller,
            account_id,
            action="document.versions_read",
            decision=decision,
            now=now,
            detail={
                "document": document_id,
                "operation": Operation.METADATA.value,
                "versions": [r.id for r in (*chain.older, start, *chain.newer)],
            },
        )
    return chain
