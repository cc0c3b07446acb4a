"""The conversation between a patient and a professional: opened by the professional, closed by
``[FIN]`` in the subject or ``X-MSS-MES: FIN``, reopened by the professional's next message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from espace_sante.policy.verdicts import (
    ACCEPT,
    CONVERSATION_CLOSED,
    CONVERSATION_NOT_OPEN,
    Verdict,
)

_FIN_IN_SUBJECT = re.compile(r"\[\s*FIN\s*\]", re.IGNORECASE)


class ConversationState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def is_closing_message(subject: str | None, x_mss_mes: str | None) -> bool:
    """``[FIN]`` anywhere in the subject (any case, spaces inside the brackets tolerated), or the
    header ``X-MSS-MES: FIN``."""
    if x_mss_mes is not None and x_mss_mes.strip().upper() == "FIN":
        return True
    return bool(subject and _FIN_IN_SUBJECT.search(subject))


def state_after_professional_message(closing: bool) -> ConversationState:
    """Any message from the professional opens or reopens; a closing one leaves it closed."""
    return ConversationState.CLOSED if closing else ConversationState.OPEN


@dataclass(frozen=True)
class ReplyFacts:
    state: ConversationState | None
    recipient_profession_code: str | None
    patient_initiated_professions: frozenset[str]


def may_patient_write(f: ReplyFacts) -> Verdict:
    """A patient may write to a professional whose conversation with them is open, or first to
    a profession that accepts patient-initiated mail (pharmacies, by configuration)."""
    if f.state is ConversationState.OPEN:
        return ACCEPT
    if (
        f.recipient_profession_code is not None
        and f.recipient_profession_code in f.patient_initiated_professions
    ):
        return ACCEPT
    if f.state is ConversationState.CLOSED:
        return CONVERSATION_CLOSED
    return CONVERSATION_NOT_OPEN
