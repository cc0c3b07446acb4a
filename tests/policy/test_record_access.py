"""The record's access decision as tables: every actor kind × every visibility code × every
operation, then the record-level refusals, emergencies and changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from espace_sante.policy.record_access import (
    INVISIBLE_PATIENT,
    INVISIBLE_REPRESENTANTS_LEGAUX,
    MASQUE_PS,
    MASQUE_PSOCIAL,
    Actor,
    ActorKind,
    Change,
    DocumentFacts,
    EmergencyConsents,
    Operation,
    RecordFacts,
    decide,
    may_block,
    may_change,
    may_deposit,
    normalise_visibility,
    record_entry,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PATIENT = 1
OTHER_PATIENT = 2
GUARDIAN_ACCOUNT = 3
OTHER_GUARDIAN = 4
AUTHORISED_DOC = "810000000001"
NURSE = "810000000002"
BLOCKED_DOC = "810000000003"
STRANGER = "810000000004"
ATTENDING = "810000000005"
AUTHOR = "810000000006"
URGENTIST = "810000000007"
SAMU_DOC = "810000000008"
EXPIRED = "810000000009"
RESIDENCE_CERTIFICATE = "RESIDENCE"


def matrix(profession: str, type_code: str | None) -> bool:
    """A small matrix of the same shape as the arrêté's: doctors read all but the residence
    certificate; nurses read reports only."""
    if profession == "10":
        return type_code != RESIDENCE_CERTIFICATE
    if profession == "60":
        return type_code == "11488-4"
    return False


RECORD = RecordFacts(
    account_id=PATIENT,
    authorised=frozenset({AUTHORISED_DOC, NURSE, URGENTIST}),
    blocked=frozenset({BLOCKED_DOC}),
    attending_physician=ATTENDING,
    emergency_grants={
        URGENTIST: NOW + timedelta(minutes=30),
        SAMU_DOC: NOW + timedelta(minutes=30),
        EXPIRED: NOW - timedelta(seconds=1),
        BLOCKED_DOC: NOW + timedelta(minutes=30),
    },
    guardians=frozenset({GUARDIAN_ACCOUNT}),
)


def doc(*codes: str, type_code: str = "11488-4", **kw: object) -> DocumentFacts:
    return DocumentFacts(
        account_id=PATIENT,
        class_code="10",
        type_code=type_code,
        visibility=frozenset(codes),
        author_professional_id=AUTHOR,
        **kw,  # type: ignore[arg-type]
    )


def pro(pid: str, profession: str = "10", kind: ActorKind = ActorKind.PROFESSIONAL) -> Actor:
    return Actor(kind=kind, professional_id=pid, profession_code=profession)


ACTORS: dict[str, Actor] = {
    "patient": Actor(ActorKind.PATIENT, account_id=PATIENT),
    "guardian": Actor(ActorKind.GUARDIAN, account_id=GUARDIAN_ACCOUNT),
    "other_patient": Actor(ActorKind.PATIENT, account_id=OTHER_PATIENT),
    "other_guardian": Actor(ActorKind.GUARDIAN, account_id=OTHER_GUARDIAN),
    "authorised": pro(AUTHORISED_DOC),
    "nurse": pro(NURSE, "60"),
    "blocked": pro(BLOCKED_DOC),
    "not_authorised": pro(STRANGER),
    "attending": pro(ATTENDING),
    "author": pro(AUTHOR),
    "break_glass": pro("810000000010", kind=ActorKind.BREAK_GLASS),  # no grant
    "break_glass_granted": pro(URGENTIST, kind=ActorKind.BREAK_GLASS),
    "samu": pro(SAMU_DOC, kind=ActorKind.SAMU),
    "break_glass_expired": pro(EXPIRED, kind=ActorKind.BREAK_GLASS),
    "break_glass_blocked": pro(BLOCKED_DOC, kind=ActorKind.BREAK_GLASS),
}

VISIBILITIES = {
    "none": (),
    "invisible_patient": (INVISIBLE_PATIENT,),
    "invisible_representatives": (INVISIBLE_REPRESENTANTS_LEGAUX,),
    "masque_ps": (MASQUE_PS,),
    "masque_psocial": (MASQUE_PSOCIAL,),
}

# actor → the visibilities under which it sees the (report-typed) document.
SEES = {
    "patient": {"none", "invisible_representatives", "masque_ps", "masque_psocial"},
    "guardian": {"none", "masque_ps", "masque_psocial"},
    "other_patient": set(),
    "other_guardian": set(),
    "authorised": {"none", "invisible_patient", "invisible_representatives", "masque_psocial"},
    "nurse": {"none", "invisible_patient", "invisible_representatives", "masque_psocial"},
    "blocked": set(),
    "not_authorised": set(),
    "attending": set(VISIBILITIES),
    "author": set(VISIBILITIES),
    "break_glass": set(),
    "break_glass_granted": set(VISIBILITIES),  # masked shown: consent given by default
    "samu": set(VISIBILITIES),
    "break_glass_expired": set(),
    "break_glass_blocked": set(),
}

CASES = [
    (actor, visibility, operation)
    for actor in ACTORS
    for visibility in VISIBILITIES
    for operation in Operation
]


@pytest.mark.parametrize(("actor", "visibility", "operation"), CASES)
def test_leak_matrix(actor: str, visibility: str, operation: Operation) -> None:
    decision = decide(
        ACTORS[actor],
        operation,
        doc(*VISIBILITIES[visibility]),
        RECORD,
        profession_may_read=matrix,
        now=NOW,
    )
    assert decision.allowed == (visibility in SEES[actor]), decision
    if not decision.allowed:
        assert decision.reason_fr
    if (
        actor in {"other_patient", "other_guardian"}
        or visibility
        in {
            "invisible_patient",
            "invisible_representatives",
        }
        and actor in {"patient", "guardian"}
        and not decision.allowed
    ):
        # the document's existence is not revealed
        assert not decision.existence_disclosed


def test_another_records_document_is_never_seen_even_by_its_own_patient_actor() -> None:
    foreign = DocumentFacts(account_id=OTHER_PATIENT)
    for actor in ACTORS.values():
        decision = decide(
            actor, Operation.VIEW, foreign, RECORD, profession_may_read=matrix, now=NOW
        )
        assert not decision.allowed
        assert decision.reason == "not_yours"


@pytest.mark.parametrize(
    ("actor", "type_code", "allowed"),
    [
        ("authorised", "11488-4", True),
        ("authorised", RESIDENCE_CERTIFICATE, False),
        ("nurse", "11488-4", True),
        ("nurse", "57833-6", False),
        ("nurse", None, False),
        ("attending", RESIDENCE_CERTIFICATE, False),  # the matrix binds the attending physician
        ("author", RESIDENCE_CERTIFICATE, True),  # one's own deposit stays visible
        ("patient", RESIDENCE_CERTIFICATE, True),
        ("break_glass_granted", RESIDENCE_CERTIFICATE, False),
    ],
)
def test_profession_matrix(actor: str, type_code: str | None, allowed: bool) -> None:
    d = DocumentFacts(account_id=PATIENT, type_code=type_code, author_professional_id=AUTHOR)
    decision = decide(ACTORS[actor], Operation.VIEW, d, RECORD, profession_may_read=matrix, now=NOW)
    assert decision.allowed is allowed
    if not allowed and actor in {"authorised", "nurse"}:
        assert decision.reason == "profession_not_allowed"


@pytest.mark.parametrize(
    ("consents", "actor", "visibility", "allowed", "reason"),
    [
        (
            EmergencyConsents(break_glass=False),
            "break_glass_granted",
            "none",
            False,
            "emergency_refused",
        ),
        (EmergencyConsents(samu=False), "samu", "none", False, "emergency_refused"),
        (EmergencyConsents(samu=False), "break_glass_granted", "none", True, "emergency"),
        (
            EmergencyConsents(masked_documents=False),
            "break_glass_granted",
            "masque_ps",
            False,
            "masked",
        ),
        (
            EmergencyConsents(masked_documents=False),
            "break_glass_granted",
            "none",
            True,
            "emergency",
        ),
        (EmergencyConsents(), "break_glass_expired", "none", False, "no_emergency_grant"),
        (EmergencyConsents(), "break_glass", "none", False, "no_emergency_grant"),
        (EmergencyConsents(), "break_glass_blocked", "none", False, "blocked"),
    ],
)
def test_emergency_consents(
    consents: EmergencyConsents, actor: str, visibility: str, allowed: bool, reason: str
) -> None:
    record = RecordFacts(
        account_id=PATIENT,
        blocked=RECORD.blocked,
        consents=consents,
        emergency_grants=RECORD.emergency_grants,
    )
    d = doc(*VISIBILITIES[visibility])
    decision = decide(ACTORS[actor], Operation.VIEW, d, record, profession_may_read=matrix, now=NOW)
    assert (decision.allowed, decision.reason) == (allowed, reason)
    assert decision.emergency is (allowed and reason == "emergency")


def test_grant_ends_exactly_at_its_expiry() -> None:
    until = RECORD.emergency_grants[URGENTIST]
    actor = ACTORS["break_glass_granted"]
    assert record_entry(actor, RECORD, now=until - timedelta(microseconds=1)).allowed
    assert not record_entry(actor, RECORD, now=until).allowed


@pytest.mark.parametrize(
    ("actor", "reason"),
    [
        ("authorised", "authorised"),
        ("attending", "attending_physician"),
        ("blocked", "blocked"),
        ("not_authorised", "not_authorised"),
        ("patient", "owner"),
        ("guardian", "guardian"),
        ("other_patient", "not_yours"),
        ("other_guardian", "not_yours"),
    ],
)
def test_record_entry_reasons(actor: str, reason: str) -> None:
    assert record_entry(ACTORS[actor], RECORD, now=NOW).reason == reason


def test_a_closed_space_shows_nothing_to_professionals_but_deposits_are_refused_too() -> None:
    closed = RecordFacts(
        account_id=PATIENT,
        open=False,
        authorised=frozenset({AUTHORISED_DOC}),
        attending_physician=ATTENDING,
    )
    for name in ("authorised", "attending", "author", "break_glass_granted"):
        decision = decide(
            ACTORS[name], Operation.LIST, doc(), closed, profession_may_read=matrix, now=NOW
        )
        assert not decision.allowed and decision.reason == "space_not_open", name
    assert not may_deposit(ACTORS["authorised"], closed).allowed


def test_any_professional_may_deposit_even_blocked() -> None:
    for name in ("authorised", "blocked", "not_authorised", "nurse"):
        assert may_deposit(ACTORS[name], RECORD).allowed, name
    assert may_deposit(ACTORS["patient"], RECORD).allowed
    assert may_deposit(ACTORS["guardian"], RECORD).allowed
    assert not may_deposit(ACTORS["other_patient"], RECORD).allowed
    assert not may_deposit(Actor(ActorKind.PROFESSIONAL), RECORD).allowed


def test_attending_physician_cannot_be_blocked() -> None:
    refused = may_block(RECORD, ATTENDING)
    assert not refused.allowed and "médecin traitant" in refused.reason_fr
    assert may_block(RECORD, AUTHORISED_DOC).allowed
    # even listed as blocked, the attending physician gets in
    record = RecordFacts(
        account_id=PATIENT, blocked=frozenset({ATTENDING}), attending_physician=ATTENDING
    )
    assert record_entry(ACTORS["attending"], record, now=NOW).allowed


UPLOAD = DocumentFacts(account_id=PATIENT, class_code="90", uploaded_by_patient=True)
DEPOSIT = doc()


@pytest.mark.parametrize(
    ("actor", "change", "document", "allowed"),
    [
        ("patient", Change.MASK, DEPOSIT, True),
        ("guardian", Change.MASK, DEPOSIT, True),
        ("authorised", Change.MASK, DEPOSIT, False),
        ("patient", Change.DELETE, UPLOAD, True),
        ("guardian", Change.DELETE, UPLOAD, True),
        ("patient", Change.DELETE, DEPOSIT, False),
        ("author", Change.DELETE, DEPOSIT, False),  # never physically deleted
        ("attending", Change.DELETE, DEPOSIT, False),
        ("patient", Change.REPLACE, UPLOAD, True),
        ("patient", Change.REPLACE, DEPOSIT, False),
        ("author", Change.REPLACE, DEPOSIT, True),
        ("authorised", Change.REPLACE, DEPOSIT, False),
        ("author", Change.DEPRECATE, DEPOSIT, True),
        ("authorised", Change.DEPRECATE, DEPOSIT, False),
        ("author", Change.LIFT_INVISIBLE_PATIENT, doc(INVISIBLE_PATIENT), True),
        ("attending", Change.LIFT_INVISIBLE_PATIENT, doc(INVISIBLE_PATIENT), False),
        ("patient", Change.LIFT_INVISIBLE_PATIENT, doc(INVISIBLE_PATIENT), False),
        ("patient", Change.ARCHIVE, DEPOSIT, True),
        ("other_patient", Change.DELETE, UPLOAD, False),
        ("patient", Change.MASK, doc(INVISIBLE_PATIENT), False),  # cannot see it: cannot touch
    ],
)
def test_changes(actor: str, change: Change, document: DocumentFacts, allowed: bool) -> None:
    decision = may_change(
        ACTORS[actor], change, document, RECORD, profession_may_read=matrix, now=NOW
    )
    assert decision.allowed is allowed, decision


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (["INVISIBLE_PATIENT"], {INVISIBLE_PATIENT}),
        (["invisible_rep_legaux"], {INVISIBLE_REPRESENTANTS_LEGAUX}),
        ([" MASQUE_PS ", "N", "R", 3], {MASQUE_PS}),
        ("MASQUE_PS", set()),
        (None, set()),
    ],
)
def test_normalise_visibility(codes: object, expected: set[str]) -> None:
    assert normalise_visibility(codes) == expected
