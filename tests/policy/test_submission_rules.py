"""The submission rules as tables: envelope sender, header From, a patient's recipients."""

from __future__ import annotations

import pytest

from espace_sante.policy import verdicts as v
from espace_sante.policy.conversation import ConversationState
from espace_sante.policy.submission import (
    SubmissionRecipientFacts,
    check_envelope_sender,
    check_header_from,
    check_recipient,
)

ME = "280017512345678@patient.mssante.fr"
OPEN = ConversationState.OPEN
CLOSED = ConversationState.CLOSED
PHARMACIES = frozenset({"21"})


@pytest.mark.parametrize(
    ("mail_from", "expected"),
    [
        (ME, v.ACCEPT),
        (ME.upper(), v.ACCEPT),
        ("", v.ENVELOPE_SENDER_MISMATCH),
        ("<>", v.ENVELOPE_SENDER_MISMATCH),
        ("280017512345678@patient.mssante.fr.evil.example", v.ENVELOPE_SENDER_MISMATCH),
        ("dr.dupont@medecin.mssante.fr", v.ENVELOPE_SENDER_MISMATCH),
    ],
)
def test_envelope_sender(mail_from: str, expected: v.Verdict) -> None:
    assert check_envelope_sender(ME, mail_from) == expected


@pytest.mark.parametrize(
    ("froms", "senders", "expected"),
    [
        ([ME], [], v.ACCEPT),
        ([ME.upper()], [ME], v.ACCEPT),
        ([], [], v.HEADER_FROM_MISMATCH),
        ([ME, ME], [], v.HEADER_FROM_MISMATCH),
        ([ME, "x@medecin.mssante.fr"], [], v.HEADER_FROM_MISMATCH),
        (["dr.dupont@medecin.mssante.fr"], [ME], v.HEADER_FROM_MISMATCH),
        ([ME], ["dr.dupont@medecin.mssante.fr"], v.HEADER_FROM_MISMATCH),
        ([ME], [ME, ME], v.HEADER_FROM_MISMATCH),
    ],
)
def test_header_from(froms: list[str], senders: list[str], expected: v.Verdict) -> None:
    assert check_header_from(ME, froms, senders) == expected


def facts(
    kind: str = "patient",
    patient: bool = False,
    allowed: bool = True,
    directory: bool = True,
    conversation: ConversationState | None = None,
    profession: str | None = "10",
) -> SubmissionRecipientFacts:
    return SubmissionRecipientFacts(
        sender_kind=kind,
        recipient_is_patient_address=patient,
        recipient_domain_allowed=allowed,
        recipient_in_directory=directory,
        conversation=conversation,
        recipient_profession_code=profession,
        patient_initiated_professions=PHARMACIES,
    )


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        # a patient replying in an open conversation
        (facts(conversation=OPEN), v.ACCEPT),
        # to the professional's Reply-To (a secretariat not in the directory)
        (facts(conversation=OPEN, directory=False, profession=None), v.ACCEPT),
        # writing first to a pharmacy, or again after it closed the conversation
        (facts(profession="21"), v.ACCEPT),
        (facts(profession="21", conversation=CLOSED), v.ACCEPT),
        # a pharmacist's code on an address outside the directory does not count
        (facts(profession="21", directory=False), v.RECIPIENT_NOT_IN_DIRECTORY),
        # a doctor who never wrote, or who closed the conversation
        (facts(), v.CONVERSATION_NOT_OPEN),
        (facts(conversation=CLOSED), v.CONVERSATION_CLOSED),
        # another patient, even one "in conversation"
        (facts(patient=True, allowed=False, directory=False), v.PATIENT_TO_PATIENT),
        (facts(patient=True, conversation=OPEN), v.PATIENT_TO_PATIENT),
        # outside the trust space, whatever else is true
        (facts(allowed=False), v.RECIPIENT_OUTSIDE_TRUST_SPACE),
        (facts(allowed=False, conversation=OPEN), v.RECIPIENT_OUTSIDE_TRUST_SPACE),
        (facts(allowed=False, profession="21"), v.RECIPIENT_OUTSIDE_TRUST_SPACE),
        # an allowed domain, unknown address, no conversation
        (facts(directory=False, profession=None), v.RECIPIENT_NOT_IN_DIRECTORY),
        # hosted professionals and operators write anywhere in the trust space
        (facts(kind="professional"), v.ACCEPT),
        (facts(kind="professional", patient=True, allowed=False), v.ACCEPT),
        (facts(kind="professional", allowed=False), v.RECIPIENT_OUTSIDE_TRUST_SPACE),
        (facts(kind="operator", allowed=False, directory=False), v.RECIPIENT_OUTSIDE_TRUST_SPACE),
    ],
)
def test_patient_recipients(f: SubmissionRecipientFacts, expected: v.Verdict) -> None:
    assert check_recipient(f) == expected


def test_every_refusal_has_its_own_key_and_french_english_reply() -> None:
    refusals = [
        v.PATIENT_TO_PATIENT,
        v.RECIPIENT_OUTSIDE_TRUST_SPACE,
        v.RECIPIENT_NOT_IN_DIRECTORY,
        v.CONVERSATION_CLOSED,
        v.CONVERSATION_NOT_OPEN,
        v.ENVELOPE_SENDER_MISMATCH,
        v.HEADER_FROM_MISMATCH,
    ]
    assert len({r.key for r in refusals}) == len(refusals)
    for r in refusals:
        assert not r.accepted and r.code >= 500 and r.enhanced.startswith("5.")
        assert " / " in r.smtp_reply() and r.reason_fr != r.reason_en
