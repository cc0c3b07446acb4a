"""What an authenticated client may send through submission: whose address it writes from, and,
for a patient, to whom (an open conversation, a Reply-To of it, or a profession that accepts
patient-initiated mail). Pure: the submission server gathers the facts."""

from __future__ import annotations

from dataclasses import dataclass

from espace_sante.policy import verdicts as v
from espace_sante.policy.conversation import ConversationState
from espace_sante.policy.verdicts import Verdict


def check_envelope_sender(account_address: str, mail_from: str) -> Verdict:
    """MAIL FROM must be the authenticated account's address (case-insensitive); the null
    reverse-path is not for clients."""
    if not mail_from or mail_from == "<>" or mail_from.lower() != account_address.lower():
        return v.ENVELOPE_SENDER_MISMATCH
    return v.ACCEPT


def check_header_from(
    account_address: str, from_addresses: list[str], sender_addresses: list[str]
) -> Verdict:
    """Exactly one From header with exactly one mailbox, the account's; a Sender header, when
    present, names the account too."""
    own = account_address.lower()
    if len(from_addresses) != 1 or from_addresses[0].lower() != own:
        return v.HEADER_FROM_MISMATCH
    if len(sender_addresses) > 1 or any(a.lower() != own for a in sender_addresses):
        return v.HEADER_FROM_MISMATCH
    return v.ACCEPT


@dataclass(frozen=True)
class SubmissionRecipientFacts:
    """What is known of one recipient of an authenticated sender."""

    sender_kind: str  # patient | professional | operator
    recipient_is_patient_address: bool  # in our patient domain
    recipient_domain_allowed: bool  # on the MSSanté allow-list
    recipient_in_directory: bool
    #: The patient's conversation reached through this address (the professional's own address
    #: or the Reply-To of their last message), None when there is none.
    conversation: ConversationState | None
    recipient_profession_code: str | None
    patient_initiated_professions: frozenset[str]


def check_recipient(f: SubmissionRecipientFacts) -> Verdict:
    """May this sender write to this recipient? Patients: only to a professional who wrote to
    them and has not closed the conversation (their Reply-To included), or first to a profession
    that accepts it; never to a patient, never outside the trust space. Professionals and
    operators: anywhere in the trust space."""
    if f.sender_kind != "patient":
        if f.recipient_is_patient_address or f.recipient_domain_allowed:
            return v.ACCEPT
        return v.RECIPIENT_OUTSIDE_TRUST_SPACE
    if f.recipient_is_patient_address:
        return v.PATIENT_TO_PATIENT
    if not f.recipient_domain_allowed:
        return v.RECIPIENT_OUTSIDE_TRUST_SPACE
    if f.conversation is ConversationState.OPEN:
        return v.ACCEPT
    if (
        f.recipient_in_directory
        and f.recipient_profession_code is not None
        and f.recipient_profession_code in f.patient_initiated_professions
    ):
        return v.ACCEPT  # as policy.conversation.may_patient_write: a pharmacy, even after [FIN]
    if f.conversation is ConversationState.CLOSED:
        return v.CONVERSATION_CLOSED
    if not f.recipient_in_directory:
        return v.RECIPIENT_NOT_IN_DIRECTORY
    return v.CONVERSATION_NOT_OPEN
