"""Which professionals may see a record: authorisations, blocks, the attending physician.

A professional is authorised by the patient (or a guardian), or declares the patient's
agreement at a consultation; a blocked professional can be neither until unblocked, and
unblocking returns them to ``none`` (they need a new authorisation). The attending physician
cannot be blocked (``policy.record_access.may_block``). Every change is audited on the
patient's chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante import audit
from espace_sante.accounts.professionals import people_by_national_id
from espace_sante.policy.record_access import (
    BLOCKED as BLOCKED_DECISION,
)
from espace_sante.policy.record_access import (
    NOT_AUTHORISED,
    ActorKind,
    Decision,
    may_block,
    record_entry,
)
from espace_sante.records.access import Caller, holder_entry, now_or_utc
from espace_sante.records.facts import (
    AUTHORISED,
    BLOCKED,
    NONE,
    aware,
    record_facts,
    settings_row,
)
from espace_sante.storage.schema import RecordProfessional

DONE = Decision(True, "done", "C'est fait", existence_disclosed=True)
EMPTY_ID = Decision(
    False, "no_professional", "Professionnel non identifié", existence_disclosed=True
)


@dataclass(frozen=True)
class StandingOutcome:
    decision: Decision
    #: The professional's state after the call: authorised | blocked | none.
    state: str | None = None

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


async def _row(session: AsyncSession, account_id: int, pid: str) -> RecordProfessional:
    row = (
        await session.execute(
            select(RecordProfessional)
            .where(
                RecordProfessional.account_id == account_id,
                RecordProfessional.professional_id == pid,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if row is None:
        row = RecordProfessional(
            account_id=account_id, professional_id=pid, state=NONE, changed_by=""
        )
        session.add(row)
    return row


async def _audit(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    action: str,
    now: datetime,
    **detail: object,
) -> None:
    await audit.append(
        session, account_id=account_id, actor=caller.name, action=action, detail=detail, at=now
    )


async def authorise_professional(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    professional_id: str,
    *,
    via: Literal["patient", "consultation"] = "patient",
    now: datetime | None = None,
) -> StandingOutcome:
    """Authorise ``professional_id`` to read the record: by its holder (``via="patient"``), or
    by the professional themselves declaring the patient's agreement at a consultation
    (``via="consultation"``). Refused while they are blocked."""
    now = now_or_utc(now)
    if not professional_id:
        return StandingOutcome(EMPTY_ID)
    if via == "consultation":
        ok = (
            caller.actor.kind is ActorKind.PROFESSIONAL
            and caller.actor.professional_id == professional_id
        )
        record = await record_facts(session, account_id, now=now)
        if not ok:
            return StandingOutcome(NOT_AUTHORISED)
        if not record.open:
            return StandingOutcome(record_entry(caller.actor, record, now=now))
    else:
        entry = await holder_entry(session, caller, account_id, now)
        if not entry.allowed:
            return StandingOutcome(entry)
    row = await _row(session, account_id, professional_id)
    if row.state == BLOCKED:
        return StandingOutcome(BLOCKED_DECISION, BLOCKED)
    row.state = AUTHORISED
    row.authorised_at = now
    row.authorised_via = via
    row.changed_by = caller.name
    await session.flush()
    await _audit(
        session, caller, account_id, "authorisation.granted", now,
        professional=professional_id, via=via,
    )  # fmt: skip
    return StandingOutcome(DONE, AUTHORISED)


async def revoke_authorisation(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    professional_id: str,
    *,
    now: datetime | None = None,
) -> StandingOutcome:
    """Withdraw an authorisation (the professional returns to ``none``; a block stays)."""
    now = now_or_utc(now)
    entry = await holder_entry(session, caller, account_id, now)
    if not entry.allowed:
        return StandingOutcome(entry)
    row = await _row(session, account_id, professional_id)
    if row.state == AUTHORISED:
        row.state = NONE
        row.changed_by = caller.name
        await session.flush()
        await _audit(
            session, caller, account_id, "authorisation.revoked", now, professional=professional_id
        )
    return StandingOutcome(DONE, row.state)


async def block_professional(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    professional_id: str,
    *,
    now: datetime | None = None,
) -> StandingOutcome:
    """Block ``professional_id`` from reading the record (they may still deposit). Refused for
    the attending physician."""
    now = now_or_utc(now)
    entry = await holder_entry(session, caller, account_id, now)
    if not entry.allowed:
        return StandingOutcome(entry)
    if not professional_id:
        return StandingOutcome(EMPTY_ID)
    verdict = may_block(await record_facts(session, account_id, now=now), professional_id)
    if not verdict.allowed:
        await _audit(
            session, caller, account_id, "authorisation.block_refused", now,
            professional=professional_id, reason=verdict.reason,
        )  # fmt: skip
        return StandingOutcome(verdict)
    row = await _row(session, account_id, professional_id)
    row.state = BLOCKED
    row.blocked_at = now
    row.authorised_at = None
    row.authorised_via = None
    row.changed_by = caller.name
    await session.flush()
    await _audit(
        session, caller, account_id, "authorisation.blocked", now, professional=professional_id
    )
    return StandingOutcome(verdict, BLOCKED)


async def unblock_professional(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    professional_id: str,
    *,
    now: datetime | None = None,
) -> StandingOutcome:
    """Lift a block: the professional returns to ``none`` and needs a new authorisation."""
    now = now_or_utc(now)
    entry = await holder_entry(session, caller, account_id, now)
    if not entry.allowed:
        return StandingOutcome(entry)
    row = await _row(session, account_id, professional_id)
    if row.state == BLOCKED:
        row.state = NONE
        row.blocked_at = None
        row.changed_by = caller.name
        await session.flush()
        await _audit(
            session, caller, account_id, "authorisation.unblocked", now,
            professional=professional_id,
        )  # fmt: skip
    return StandingOutcome(DONE, row.state)


async def set_attending_physician(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    professional_id: str | None,
    *,
    now: datetime | None = None,
) -> StandingOutcome:
    """Name the attending physician (médecin traitant), or clear it with None."""
    now = now_or_utc(now)
    entry = await holder_entry(session, caller, account_id, now)
    if not entry.allowed:
        return StandingOutcome(entry)
    settings = await settings_row(session, account_id, create=True, now=now)
    assert settings is not None
    previous = settings.attending_physician_id
    settings.attending_physician_id = professional_id or None
    settings.attending_since = now if professional_id else None
    settings.updated_at = now
    await session.flush()
    await _audit(
        session, caller, account_id,
        "attending_physician.set" if professional_id else "attending_physician.cleared", now,
        professional=professional_id, previous=previous,
    )  # fmt: skip
    return StandingOutcome(DONE, None)


@dataclass(frozen=True)
class ProfessionalView:
    """One professional as the patient's authorisations page shows them."""

    professional_id: str
    state: str  # authorised | blocked | none
    attending_physician: bool
    #: Whether they may read the record now (authorised or attending, not blocked).
    can_see: bool
    family_name: str = ""
    given_name: str = ""
    profession_label: str = ""
    specialty_label: str = ""
    authorised_at: datetime | None = None
    authorised_via: str | None = None
    blocked_at: datetime | None = None
    last_access_at: datetime | None = None


async def list_professionals(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    *,
    now: datetime | None = None,
) -> tuple[Decision, list[ProfessionalView]]:
    """The professionals who can see the record, the blocked ones and the attending physician,
    with their directory names and last access (for the holder only)."""
    now = now_or_utc(now)
    entry = await holder_entry(session, caller, account_id, now)
    if not entry.allowed:
        return entry, []
    record = await record_facts(session, account_id, now=now)
    rows = {
        r.professional_id: r
        for r in (
            await session.execute(
                select(RecordProfessional)
                .where(
                    RecordProfessional.account_id == account_id,
                    RecordProfessional.state != NONE,
                )
                .execution_options(populate_existing=True)
            )
        ).scalars()
    }
    ids = set(rows)
    attending = record.attending_physician
    if attending:
        ids.add(attending)
        if attending not in rows:
            found = await session.get(
                RecordProfessional, (account_id, attending), populate_existing=True
            )
            if found is not None:
                rows[attending] = found
    people = await people_by_national_id(session, ids)
    views = []
    for pid in sorted(ids):
        row = rows.get(pid)
        state = row.state if row is not None else NONE
        person = people.get(pid)
        is_attending = pid == attending
        views.append(
            ProfessionalView(
                professional_id=pid,
                state=state,
                attending_physician=is_attending,
                can_see=is_attending or state == AUTHORISED,
                family_name=person.family_name if person else "",
                given_name=person.given_name if person else "",
                profession_label=person.profession_label if person else "",
                specialty_label=person.specialty_label if person else "",
                authorised_at=_opt(row.authorised_at if row else None),
                authorised_via=row.authorised_via if row else None,
                blocked_at=_opt(row.blocked_at if row else None),
                last_access_at=_opt(row.last_access_at if row else None),
            )
        )
    views.sort(key=lambda v: (not v.attending_physician, v.state != AUTHORISED, v.family_name))
    return entry, views


def _opt(value: datetime | None) -> datetime | None:
    return aware(value) if value is not None else None
