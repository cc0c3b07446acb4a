"""The stored state of each patient ↔ professional conversation (rules in ``policy``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from espace_sante.policy.conversation import (
    ConversationState,
    ReplyFacts,
    may_patient_write,
    state_after_professional_message,
)
from espace_sante.policy.verdicts import Verdict
from espace_sante.storage.schema import Conversation, Professional


async def record_professional_message(
    session: AsyncSession,
    *,
    account_id: int,
    professional_address: str,
    closing: bool,
    reply_to: str | None,
    at: datetime | None = None,
) -> ConversationState:
    """Open, reopen or close the conversation after a professional's message; returns the state."""
    return await session.run_sync(
        lambda sync: record_professional_message_sync(
            sync,
            account_id=account_id,
            professional_address=professional_address,
            closing=closing,
            reply_to=reply_to,
            at=at,
        )
    )


def record_professional_message_sync(
    session: Session,
    *,
    account_id: int,
    professional_address: str,
    closing: bool,
    reply_to: str | None,
    at: datetime | None = None,
) -> ConversationState:
    """:func:`record_professional_message` for a synchronous session."""
    at = at or datetime.now(UTC)
    professional_address = professional_address.lower()
    state = state_after_professional_message(closing)
    conv = session.execute(
        select(Conversation)
        .where(
            Conversation.account_id == account_id,
            Conversation.professional_address == professional_address,
        )
        .with_for_update()
    ).scalar()
    if conv is None:
        conv = Conversation(
            account_id=account_id,
            professional_address=professional_address,
            state=state.value,
            opened_at=at,
            last_message_at=at,
            message_count=0,
        )
        session.add(conv)
    elif conv.state != state.value and state is ConversationState.OPEN:
        conv.opened_at = at
    conv.state = state.value
    conv.closed_at = at if state is ConversationState.CLOSED else None
    conv.reply_to = reply_to.lower() if reply_to else None
    conv.last_message_at = at
    conv.message_count = (conv.message_count or 0) + 1
    session.flush()
    return state


async def conversation_state(
    session: AsyncSession, account_id: int, professional_address: str
) -> ConversationState | None:
    value = (
        await session.execute(
            select(Conversation.state).where(
                Conversation.account_id == account_id,
                Conversation.professional_address == professional_address.lower(),
            )
        )
    ).scalar()
    return ConversationState(value) if value else None


async def may_write(
    session: AsyncSession,
    account_id: int,
    recipient: str,
    patient_initiated_professions: frozenset[str],
) -> Verdict:
    """May this patient write to this address now? (a professional's address or its Reply-To)."""
    recipient = recipient.lower()
    rows = (
        await session.execute(
            select(Conversation.state, Conversation.last_message_at).where(
                Conversation.account_id == account_id,
                (Conversation.professional_address == recipient)
                | (Conversation.reply_to == recipient),
            )
        )
    ).all()
    state: ConversationState | None = None
    if rows:
        latest = max(rows, key=lambda r: r.last_message_at)
        state = ConversationState(latest.state)
    profession = (
        await session.execute(
            select(Professional.profession_code).where(Professional.address == recipient)
        )
    ).scalar()
    return may_patient_write(
        ReplyFacts(
            state=state,
            recipient_profession_code=profession,
            patient_initiated_professions=patient_initiated_professions,
        )
    )
