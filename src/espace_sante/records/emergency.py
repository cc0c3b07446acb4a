"""Emergency access to a record: the patient's three consents and time-limited grants.

The consents (Code de la santé publique L1111-17; each allowed unless the patient objected):
the SAMU's regulating doctor, break-glass by an emergency professional, and whether masked
documents show in an emergency. A grant is opened by the professional with a stated reason for
``[records] break_glass_minutes``; ``policy.record_access`` refuses it when the patient objected
or blocked them, and ignores it once expired. Everything is audited; the outcome says
``emergency`` so that the caller notifies the patient at once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante import audit
from espace_sante.config import RecordsSettings
from espace_sante.policy.record_access import (
    ActorKind,
    Decision,
    EmergencyConsents,
    record_entry,
)
from espace_sante.records.access import Caller, holder_entry, now_or_utc
from espace_sante.records.facts import consents_of, record_facts, settings_row
from espace_sante.storage.schema import EmergencyGrant

REASON_REQUIRED = Decision(
    False,
    "reason_required",
    "Indiquez le motif de l'accès en urgence",
    existence_disclosed=True,
)
NOT_EMERGENCY_ACTOR = Decision(
    False,
    "not_emergency_actor",
    "Seul un professionnel en situation d'urgence ou le médecin régulateur du SAMU peut "
    "ouvrir un accès en urgence",
    existence_disclosed=True,
)
MAX_REASON = 2000


@dataclass(frozen=True)
class ConsentsOutcome:
    decision: Decision
    consents: EmergencyConsents | None = None


@dataclass(frozen=True)
class GrantOutcome:
    decision: Decision
    grant: EmergencyGrant | None = None
    #: Always an emergency access when allowed: notify the patient at once.
    emergency: bool = False

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


async def get_consents(
    session: AsyncSession, caller: Caller, account_id: int, *, now: datetime | None = None
) -> ConsentsOutcome:
    """The record's emergency consents, for its holder."""
    now = now_or_utc(now)
    entry = await holder_entry(session, caller, account_id, now)
    if not entry.allowed:
        return ConsentsOutcome(entry)
    return ConsentsOutcome(entry, consents_of(await settings_row(session, account_id)))


async def set_consents(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    *,
    samu: bool | None = None,
    break_glass: bool | None = None,
    masked_documents: bool | None = None,
    now: datetime | None = None,
) -> ConsentsOutcome:
    """Change any of the three consents (None: unchanged); audited with the new values."""
    now = now_or_utc(now)
    entry = await holder_entry(session, caller, account_id, now)
    if not entry.allowed:
        return ConsentsOutcome(entry)
    row = await settings_row(session, account_id, create=True, now=now)
    assert row is not None
    if samu is not None:
        row.consent_samu = samu
    if break_glass is not None:
        row.consent_break_glass = break_glass
    if masked_documents is not None:
        row.consent_masked_in_emergency = masked_documents
    row.updated_at = now
    await session.flush()
    consents = consents_of(row)
    await audit.append(
        session,
        account_id=account_id,
        actor=caller.name,
        action="emergency.consents_changed",
        detail={
            "samu": consents.samu,
            "break_glass": consents.break_glass,
            "masked_documents": consents.masked_documents,
        },
        at=now,
    )
    return ConsentsOutcome(entry, consents)


async def open_emergency_access(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    *,
    reason: str,
    settings: RecordsSettings,
    now: datetime | None = None,
) -> GrantOutcome:
    """Open an emergency access for ``caller`` (kind BREAK_GLASS or SAMU) with its stated
    ``reason``, for ``settings.break_glass_minutes``. Refused (and audited) when the patient
    objected, blocked them, or the space is not open."""
    now = now_or_utc(now)
    kind = caller.actor.kind
    pid = caller.actor.professional_id
    reason = " ".join((reason or "").split())[:MAX_REASON]
    if kind not in (ActorKind.BREAK_GLASS, ActorKind.SAMU) or not pid:
        return GrantOutcome(NOT_EMERGENCY_ACTOR)
    if not reason:
        return GrantOutcome(REASON_REQUIRED)
    expires = now + timedelta(minutes=settings.break_glass_minutes)
    record = await record_facts(session, account_id, now=now)
    # Would the grant let them in? Ask the policy with the grant in place.
    hypothetical = dataclasses.replace(
        record, emergency_grants={**record.emergency_grants, pid: expires}
    )
    entry = record_entry(caller.actor, hypothetical, now=now)
    if not entry.allowed:
        await audit.append(
            session,
            account_id=account_id,
            actor=caller.name,
            action="emergency.access_refused",
            detail={"kind": kind.value, "reason": entry.reason, "stated_reason": reason},
            at=now,
        )
        return GrantOutcome(entry)
    grant = EmergencyGrant(
        account_id=account_id,
        professional_id=pid,
        kind=kind.value,
        reason=reason,
        granted_at=now,
        expires_at=expires,
    )
    session.add(grant)
    await session.flush()
    await audit.append(
        session,
        account_id=account_id,
        actor=caller.name,
        action="emergency.access_opened",
        detail={
            "grant": grant.id,
            "kind": kind.value,
            "stated_reason": reason,
            "expires_at": expires.isoformat(),
            "emergency": True,
        },
        at=now,
    )
    return GrantOutcome(entry, grant, emergency=True)


async def end_emergency_access(
    session: AsyncSession,
    caller: Caller,
    account_id: int,
    grant_id: int,
    *,
    now: datetime | None = None,
) -> bool:
    """End the caller's grant before it expires; False when it was not theirs or already over."""
    now = now_or_utc(now)
    result = await session.execute(
        update(EmergencyGrant)
        .where(
            EmergencyGrant.id == grant_id,
            EmergencyGrant.account_id == account_id,
            EmergencyGrant.professional_id == (caller.actor.professional_id or ""),
            EmergencyGrant.ended_at.is_(None),
            EmergencyGrant.expires_at > now,
        )
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        return False
    await audit.append(
        session,
        account_id=account_id,
        actor=caller.name,
        action="emergency.access_ended",
        detail={"grant": grant_id},
        at=now,
    )
    return True
