"""Listing a patient's conversations with the professionals' directory entries (for pages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante.storage.schema import Conversation, Professional


@dataclass(frozen=True)
class ConversationSummary:
    """One patient ↔ professional conversation as stored, with the directory's description."""

    professional_address: str
    state: str  # open | closed
    reply_to: str | None
    opened_at: datetime
    closed_at: datetime | None
    last_message_at: datetime
    message_count: int
    family_name: str
    given_name: str
    profession_label: str
    specialty_label: str
    organisation: str

    @property
    def display_name(self) -> str:
        """« Jean DUPONT », else the organisation, else the address."""
        name = f"{self.given_name} {self.family_name}".strip()
        return name or self.organisation or self.professional_address


async def list_conversations(session: AsyncSession, account_id: int) -> list[ConversationSummary]:
    """The account's conversations, most recent first."""
    rows = (
        await session.execute(
            select(Conversation, Professional)
            .outerjoin(Professional, Professional.address == Conversation.professional_address)
            .where(Conversation.account_id == account_id)
            .order_by(Conversation.last_message_at.desc())
        )
    ).all()
    out = []
    for conv, pro in rows:
        out.append(
            ConversationSummary(
                professional_address=conv.professional_address,
                state=conv.state,
                reply_to=conv.reply_to,
                opened_at=conv.opened_at,
                closed_at=conv.closed_at,
                last_message_at=conv.last_message_at,
                message_count=conv.message_count or 0,
                family_name=pro.family_name if pro else "",
                given_name=pro.given_name if pro else "",
                profession_label=pro.profession_label if pro else "",
                specialty_label=pro.specialty_label if pro else "",
                organisation=pro.organisation if pro else "",
            )
        )
    return out
