"""Reading one account's audit chain for its activity history, and checking that chain.

``read_entries`` pages through an account's entries newest first, filtered by the history's
groups (``audit.activity.KINDS``) and a period; ``verify_account`` says whether the chain still
holds (``audit.log.verify`` does the work).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante.audit.activity import KIND_LABELS, actions_of, known_actions
from espace_sante.audit.log import AuditProblem, verify
from espace_sante.storage.schema import AuditEntry

#: The most entries one page may ask for.
MAX_LIMIT = 500


@dataclass(frozen=True)
class ChainStatus:
    """Whether an account's chain verifies; when not, its first bad entry."""

    ok: bool
    first_bad_seq: int | None = None
    problems: tuple[AuditProblem, ...] = ()


async def verify_account(session: AsyncSession, account_id: int) -> ChainStatus:
    """Recompute ``account_id``'s chain (``audit.verify``) and sum it up."""
    problems = await verify(session, account_id)
    if not problems:
        return ChainStatus(ok=True)
    return ChainStatus(
        ok=False, first_bad_seq=min(p.seq for p in problems), problems=tuple(problems)
    )


def _utc(at: datetime) -> datetime:
    """Entries are stored in UTC (SQLite keeps no offset): compare in UTC."""
    if at.tzinfo is None:
        raise ValueError("since and until must be aware datetimes")
    return at.astimezone(UTC)


def _kinds_clause(kinds: Collection[str]) -> ColumnElement[bool]:
    unknown = set(kinds) - set(KIND_LABELS)
    if unknown:
        raise ValueError(f"unknown activity kinds: {sorted(unknown)}")
    clauses: list[ColumnElement[bool]] = []
    for kind in kinds:
        actions = actions_of(kind)
        if actions:
            clauses.append(AuditEntry.action.in_(sorted(actions)))
        if kind == "autres":  # and every action nobody described yet
            clauses.append(AuditEntry.action.not_in(sorted(known_actions())))
    return or_(*clauses) if clauses else false()


async def read_entries(
    session: AsyncSession,
    account_id: int,
    *,
    kinds: Collection[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """One page of ``account_id``'s entries, newest first, and how many match in all.

    ``kinds`` keeps the entries of those history groups (None: all); ``since`` is inclusive,
    ``until`` exclusive (aware datetimes). ``limit`` is capped at :data:`MAX_LIMIT`.
    """
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")
    where: list[ColumnElement[bool]] = [AuditEntry.account_id == account_id]
    if kinds is not None:
        where.append(_kinds_clause(kinds))
    if since is not None:
        where.append(AuditEntry.at >= _utc(since))
    if until is not None:
        where.append(AuditEntry.at < _utc(until))
    total = (
        await session.execute(select(func.count()).select_from(AuditEntry).where(*where))
    ).scalar_one()
    rows = (
        await session.execute(
            select(AuditEntry)
            .where(*where)
            .order_by(AuditEntry.at.desc(), AuditEntry.seq.desc())
            .limit(min(limit, MAX_LIMIT))
            .offset(offset)
        )
    ).scalars()
    return list(rows), int(total)
