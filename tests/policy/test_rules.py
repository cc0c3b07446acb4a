"""The MSSanté rules, as tables: INS, addresses, senders, recipients, size, conversations."""

from __future__ import annotations

import pytest

from espace_sante.policy import verdicts as v
from espace_sante.policy.addresses import classify_recipient, parse_mailbox, patient_address
from espace_sante.policy.conversation import (
    ConversationState,
    ReplyFacts,
    is_closing_message,
    may_patient_write,
    state_after_professional_message,
)
from espace_sante.policy.headers import parse_x_mss_codecda, parse_x_mss_ins
from espace_sante.policy.inbound import (
    RecipientFacts,
    SenderFacts,
    SpaceStatus,
    check_recipient,
    check_sender,
    check_size,
)
from espace_sante.policy.ins import (
    DEMO_NIR_OID,
    INS_NIA_OID,
    INS_NIR_OID,
    TEST_NIR_OID,
    accepted_oids,
    check_matricule,
    normalise_matricule,
)


def key(prefix13: str) -> str:
    """The rule itself, written independently of the code under test."""
    n = int(prefix13.replace("2A", "19").replace("2B", "18"))
    return f"{97 - n % 97:02d}"


VALID = [
    "2800175123456" + key("2800175123456"),
    "1750269123123" + key("1750269123123"),
    "165062A004012" + key("165062A004012"),  # Corsica, Corse-du-Sud
    "178052B033101" + key("178052B033101"),  # Corsica, Haute-Corse
    "1991299999999" + key("1991299999999"),
    "3650575123456" + key("3650575123456"),  # NIA-like first digit, same key rule
]


@pytest.mark.parametrize("matricule", VALID)
def test_valid_matricules(matricule: str) -> None:
    assert check_matricule(matricule) is v.ACCEPT


@pytest.mark.parametrize(
    ("matricule", "expected"),
    [
        (VALID[0][:13] + f"{(int(VALID[0][13:]) + 1) % 97:02d}", v.BAD_INS_KEY),
        (VALID[2][:13] + f"{(int(VALID[2][13:]) + 1) % 97:02d}", v.BAD_INS_KEY),
        (VALID[0][:14], v.MALFORMED_ADDRESS),
        (VALID[0] + "0", v.MALFORMED_ADDRESS),
        ("", v.MALFORMED_ADDRESS),
        ("28001751234561X", v.MALFORMED_ADDRESS),
        ("2800175 2345610", v.MALFORMED_ADDRESS),
        ("1650622C0040121", v.MALFORMED_ADDRESS),
        ("١٢٣٤٥٦٧٨٩٠١٢٣٤٥", v.MALFORMED_ADDRESS),
    ],
)
def test_invalid_matricules(matricule: str, expected: v.Verdict) -> None:
    assert check_matricule(matricule) == expected


def test_normalise_matricule() -> None:
    assert normalise_matricule(" 1 65062a004012 96 ") == "165062A00401296"


@pytest.mark.parametrize(
    ("accept_test", "oid", "accepted"),
    [
        (False, INS_NIR_OID, True),
        (False, INS_NIA_OID, True),
        (False, TEST_NIR_OID, False),
        (False, DEMO_NIR_OID, False),
        (True, TEST_NIR_OID, True),
        (True, DEMO_NIR_OID, True),
        (True, "1.2.3", False),
    ],
)
def test_accepted_oids(accept_test: bool, oid: str, accepted: bool) -> None:
    assert (oid in accepted_oids(accept_test)) is accepted


@pytest.mark.parametrize(
    ("address", "parsed"),
    [
        ("dr.dupont@medecin.mssante.fr", ("dr.dupont", "medecin.mssante.fr")),
        ("Dr.Dupont@MEDECIN.MSSANTE.FR", ("Dr.Dupont", "medecin.mssante.fr")),
        ("jérôme@ch-demo.mssante.fr", ("jérôme", "ch-demo.mssante.fr")),
        ("a+tag@x.fr", ("a+tag", "x.fr")),
        ("no-at-sign", None),
        ("@x.fr", None),
        ("a@", None),
        ("a b@x.fr", None),
        ("a@x", None),
        ("a@-x.fr", None),
        ("a@x..fr", None),
        (".a@x.fr", None),
        ("a..b@x.fr", None),
        ("a@[127.0.0.1]", None),
        ("a\r\n@x.fr", None),
        ("x" * 65 + "@x.fr", None),
        ("a@" + "x" * 250 + ".fr", None),
        ("<a@x.fr>", None),
    ],
)
def test_parse_mailbox(address: str, parsed: tuple[str, str] | None) -> None:
    mailbox = parse_mailbox(address)
    assert (None if mailbox is None else (mailbox.local, mailbox.domain)) == parsed


@pytest.mark.parametrize(
    ("address", "expected", "matricule"),
    [
        (f"{VALID[0]}@patient.mssante.fr", v.ACCEPT, VALID[0]),
        (f"{VALID[2].lower()}@Patient.MSSante.fr", v.ACCEPT, VALID[2]),
        (f"{VALID[0][:13]}00@patient.mssante.fr", v.BAD_INS_KEY, None),
        ("12345@patient.mssante.fr", v.MALFORMED_ADDRESS, None),
        (f"{VALID[0]}@patient.mssante.fr.evil.example", v.NOT_PATIENT_DOMAIN, None),
        (f"{VALID[0]}@gmail.com", v.NOT_PATIENT_DOMAIN, None),
        ("not an address", v.MALFORMED_ADDRESS, None),
    ],
)
def test_classify_recipient(address: str, expected: v.Verdict, matricule: str | None) -> None:
    if expected is v.BAD_INS_KEY and address.startswith(VALID[0]):
        pytest.skip("key 00 happens to be valid")
    assert classify_recipient(address, "patient.mssante.fr") == (expected, matricule)


def test_patient_address() -> None:
    assert (
        patient_address(VALID[2].lower(), "Patient.MSSante.fr") == f"{VALID[2]}@patient.mssante.fr"
    )


@pytest.mark.parametrize(
    ("allowed", "in_directory", "patient", "expected"),
    [
        (True, True, False, v.ACCEPT),
        (True, False, False, v.SENDER_NOT_IN_DIRECTORY),
        (False, True, False, v.SENDER_DOMAIN_NOT_TRUSTED),
        (False, False, False, v.SENDER_DOMAIN_NOT_TRUSTED),
        (True, True, True, v.SENDER_NOT_PROFESSIONAL),
        (False, False, True, v.SENDER_NOT_PROFESSIONAL),
    ],
)
def test_check_sender(
    allowed: bool, in_directory: bool, patient: bool, expected: v.Verdict
) -> None:
    assert check_sender(SenderFacts("x@y.fr", allowed, in_directory, patient)) == expected


@pytest.mark.parametrize(
    ("exists", "status", "expected"),
    [
        (True, SpaceStatus.ACTIVE, v.ACCEPT),
        (True, SpaceStatus.CLOSED, v.SPACE_CLOSED),
        (True, SpaceStatus.OPPOSED, v.SPACE_OPPOSED),
        (True, SpaceStatus.CREATED, v.SPACE_NOT_ACTIVE),
        (False, None, v.UNKNOWN_PATIENT),
        (True, None, v.UNKNOWN_PATIENT),
    ],
)
def test_check_recipient(exists: bool, status: SpaceStatus | None, expected: v.Verdict) -> None:
    assert check_recipient(RecipientFacts(exists, status)) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [(0, v.ACCEPT), (25 * 1024 * 1024, v.ACCEPT), (25 * 1024 * 1024 + 1, v.MESSAGE_TOO_LARGE)],
)
def test_check_size(size: int, expected: v.Verdict) -> None:
    assert check_size(size, 25 * 1024 * 1024) == expected


@pytest.mark.parametrize(
    ("subject", "header", "closing"),
    [
        ("[FIN] Suivi", None, True),
        ("Re: suivi [fin]", None, True),
        ("[ FIN ] x", None, True),
        ("Suivi", "FIN", True),
        ("Suivi", " fin ", True),
        (None, "FIN", True),
        ("FIN du traitement", None, False),
        ("[FINAL] x", None, False),
        ("Suivi", "OUVERT", False),
        (None, None, False),
        ("", "", False),
    ],
)
def test_is_closing_message(subject: str | None, header: str | None, closing: bool) -> None:
    assert is_closing_message(subject, header) is closing


def test_state_after_professional_message() -> None:
    assert state_after_professional_message(False) is ConversationState.OPEN
    assert state_after_professional_message(True) is ConversationState.CLOSED


PHARMACY = frozenset({"21"})


@pytest.mark.parametrize(
    ("state", "profession", "expected"),
    [
        (ConversationState.OPEN, "10", v.ACCEPT),
        (ConversationState.CLOSED, "10", v.CONVERSATION_CLOSED),
        (None, "10", v.CONVERSATION_NOT_OPEN),
        (None, None, v.CONVERSATION_NOT_OPEN),
        (None, "21", v.ACCEPT),
        (ConversationState.CLOSED, "21", v.ACCEPT),
    ],
)
def test_may_patient_write(
    state: ConversationState | None, profession: str | None, expected: v.Verdict
) -> None:
    assert may_patient_write(ReplyFacts(state, profession, PHARMACY)) == expected


@pytest.mark.parametrize(
    ("value", "parsed"), [("O", True), (" n ", False), ("X", None), (None, None)]
)
def test_parse_x_mss_ins(value: str | None, parsed: bool | None) -> None:
    assert parse_x_mss_ins(value) is parsed


def test_parse_x_mss_codecda() -> None:
    assert parse_x_mss_codecda("11488-4^2.16.840.1.113883.6.1; 34133-9 , X") == [
        "11488-4^2.16.840.1.113883.6.1",
        "34133-9",
        "X",
    ]
    assert parse_x_mss_codecda(None) == []


def test_every_refusal_has_its_own_key_and_a_proper_reply() -> None:
    refusals = [x for x in vars(v).values() if isinstance(x, v.Verdict) and not x.accepted]
    assert len({r.key for r in refusals}) == len(refusals)
    for r in refusals:
        assert r.code // 100 in (4, 5)
        assert r.enhanced.split(".")[0] == str(r.code // 100)
        reply = r.smtp_reply()
        assert (
            reply.startswith(f"{r.code} {r.enhanced} ") and "\r" not in reply and "\n" not in reply
        )
        assert r.reason_fr and r.reason_en and r.reason_fr != r.reason_en
