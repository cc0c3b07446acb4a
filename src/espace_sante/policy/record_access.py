"""Who may see and change what in a patient's record (DMP): one pure decision for every access.

Facts in, decision out: the actor (the patient, a guardian, a professional, an emergency actor),
the document's facts (codes, visibility, author, status) and the record's facts (authorisations,
blocks, the attending physician, emergency consents, break-glass grants) give an allowed or refused
:class:`Decision` with its reason. ``records.access`` gathers the facts, asks here and writes the
audit entry; pages and the FHIR API never decide on their own.

Where the rules come from (DESIGN.md §4, NOTES-record.md):
- visibility codes TRE_A07 (OID 1.2.250.1.213.1.1.4.13): ``INVISIBLE_PATIENT`` hides a document
  from the patient and their representatives until its author lifts it (authorised professionals
  see it); ``INVISIBLE_REPRESENTANTS_LEGAUX`` (also spelt ``INVISIBLE_REP_LEGAUX``) hides it from
  legal representatives; ``MASQUE_PS`` hides it from professionals except its author and the
  attending physician (and, when the patient allows it, in an emergency). ``MASQUE_PSOCIAL`` and
  ``MASQUE_PT`` are kept as they come; they decide nothing yet;
- a professional reads only when authorised (by the patient, or declared at a consultation) and
  not blocked, and then only the types their profession may read (the access matrix of the
  arrêté of 26 October 2023, given here as a fact: ``profession_may_read``); the attending
  physician cannot be blocked (Code de la santé publique L1111-15);
- emergencies (L1111-17): the SAMU's regulating doctor and break-glass by an emergency
  professional, each allowed unless the patient objected, during a limited grant; masked documents
  show in an emergency unless the patient objected;
- the patient masks any document, deletes only what they uploaded; nothing a professional deposited
  is ever physically deleted; any professional may deposit, blocked or not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

VISIBILITY_OID = "1.2.250.1.213.1.1.4.13"
INVISIBLE_PATIENT = "INVISIBLE_PATIENT"
INVISIBLE_REPRESENTANTS_LEGAUX = "INVISIBLE_REPRESENTANTS_LEGAUX"
MASQUE_PS = "MASQUE_PS"
MASQUE_PSOCIAL = "MASQUE_PSOCIAL"
MASQUE_PT = "MASQUE_PT"
#: The HL7v2 gateway's spelling of INVISIBLE_REPRESENTANTS_LEGAUX.
_ALIASES = {"INVISIBLE_REP_LEGAUX": INVISIBLE_REPRESENTANTS_LEGAUX}
VISIBILITY_CODES = frozenset(
    {INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX, MASQUE_PS, MASQUE_PSOCIAL, MASQUE_PT}
)


def normalise_visibility(codes: object) -> frozenset[str]:
    """The known TRE_A07 codes among ``codes`` (an iterable of strings), aliases resolved."""
    if not isinstance(codes, list | tuple | set | frozenset):
        return frozenset()
    out = set()
    for code in codes:
        if isinstance(code, str):
            code = _ALIASES.get(code.strip().upper(), code.strip().upper())
            if code in VISIBILITY_CODES:
                out.add(code)
    return frozenset(out)


class Operation(StrEnum):
    """What the actor does with a document's content or metadata."""

    LIST = "list"  # the document appears in a list or a search result
    METADATA = "metadata"  # its metadata page or FHIR DocumentReference
    VIEW = "view"  # its content rendered in a page
    DOWNLOAD = "download"  # its original bytes


class Change(StrEnum):
    """What the actor changes on a document."""

    MASK = "mask"  # add or remove MASQUE_PS
    DELETE = "delete"
    REPLACE = "replace"
    DEPRECATE = "deprecate"
    LIFT_INVISIBLE_PATIENT = "lift_invisible_patient"
    ARCHIVE = "archive"


class ActorKind(StrEnum):
    PATIENT = "patient"  # a person acting on their own space
    GUARDIAN = "guardian"  # a person acting for a dependant
    PROFESSIONAL = "professional"
    BREAK_GLASS = "break_glass"  # an emergency professional under a break-glass grant
    SAMU = "samu"  # the SAMU's regulating doctor on a call


class DocumentStatus(StrEnum):
    APPROVED = "approved"
    DEPRECATED = "deprecated"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    #: The person's own account (patients and guardians).
    account_id: int | None = None
    #: The professional's national identifier (RPPS/ADELI, as the directory keeps it).
    professional_id: str | None = None
    profession_code: str = ""
    specialty: str = ""


@dataclass(frozen=True)
class DocumentFacts:
    account_id: int  # whose record
    class_code: str | None = None
    type_code: str | None = None
    visibility: frozenset[str] = frozenset()
    #: The national identifier of the professional who authored or deposited it, if one did.
    author_professional_id: str | None = None
    #: Uploaded by the patient (or their guardian) themselves.
    uploaded_by_patient: bool = False
    status: DocumentStatus = DocumentStatus.APPROVED
    archived: bool = False


@dataclass(frozen=True)
class EmergencyConsents:
    """The patient's three emergency consents, each allowed unless they objected."""

    samu: bool = True
    break_glass: bool = True
    masked_documents: bool = True


@dataclass(frozen=True)
class RecordFacts:
    account_id: int
    #: The space is open (``active``): closed, opposed or not yet opened spaces show nothing to
    #: professionals.
    open: bool = True
    authorised: frozenset[str] = frozenset()
    blocked: frozenset[str] = frozenset()
    attending_physician: str | None = None
    consents: EmergencyConsents = field(default_factory=EmergencyConsents)
    #: Active emergency grants: professional id → until when.
    emergency_grants: Mapping[str, datetime] = field(default_factory=dict)
    #: Accounts that may act for this record's holder today (``policy.guardianship.may_act``).
    guardians: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    reason_fr: str
    #: Through an emergency grant (audited and notified as such).
    emergency: bool = False
    #: When refused: whether the actor may learn that the document exists (False → answer as if
    #: it did not: 404, absent from lists).
    existence_disclosed: bool = False


def _allow(reason: str, fr: str, *, emergency: bool = False) -> Decision:
    return Decision(True, reason, fr, emergency=emergency, existence_disclosed=True)


def _refuse(reason: str, fr: str, *, disclosed: bool = False) -> Decision:
    return Decision(False, reason, fr, existence_disclosed=disclosed)


OWNER = _allow("owner", "Votre propre dossier")
GUARDIAN = _allow("guardian", "Dossier d'une personne que vous représentez")
NOT_YOURS = _refuse("not_yours", "Ce document n'appartient pas à votre espace")
HIDDEN_FROM_PATIENT = _refuse(
    "invisible_patient", "Document non visible tant que le professionnel ne l'a pas rendu visible"
)
HIDDEN_FROM_REPRESENTATIVES = _refuse(
    "invisible_representatives", "Document non visible des représentants légaux"
)
SPACE_NOT_OPEN = _refuse("space_not_open", "Cet espace santé n'est pas ouvert", disclosed=True)
BLOCKED = _refuse("blocked", "Le patient a bloqué votre accès à son dossier", disclosed=True)
NOT_AUTHORISED = _refuse(
    "not_authorised", "Le patient ne vous a pas autorisé à consulter son dossier", disclosed=True
)
PROFESSION_NOT_ALLOWED = _refuse(
    "profession_not_allowed", "Votre profession ne permet pas de consulter ce type de document"
)
MASKED = _refuse("masked", "Document masqué aux professionnels par le patient")
EMERGENCY_REFUSED = _refuse(
    "emergency_refused",
    "Le patient s'est opposé à l'accès en urgence à son dossier",
    disclosed=True,
)
NO_GRANT = _refuse(
    "no_emergency_grant", "Aucun accès en urgence en cours (ou il a expiré)", disclosed=True
)
ATTENDING = _allow("attending_physician", "Médecin traitant")
AUTHOR = _allow("author", "Auteur du document")
AUTHORISED = _allow("authorised", "Professionnel autorisé par le patient")

ProfessionMayRead = Callable[[str, str | None], bool]


def decide(
    actor: Actor,
    operation: Operation,
    document: DocumentFacts,
    record: RecordFacts,
    *,
    profession_may_read: ProfessionMayRead,
    now: datetime,
) -> Decision:
    """May ``actor`` perform ``operation`` on ``document`` of ``record``?

    ``profession_may_read(profession_code, type_code)`` is the access matrix (``records`` loads
    it from its data file); ``now`` decides whether an emergency grant is still running.
    """
    if document.account_id != record.account_id:
        return NOT_YOURS
    del operation  # the same rules today for list, metadata, view and download; kept for audit
    if actor.kind is ActorKind.PATIENT:
        if actor.account_id != record.account_id:
            return NOT_YOURS
        if INVISIBLE_PATIENT in document.visibility:
            return HIDDEN_FROM_PATIENT
        return OWNER
    if actor.kind is ActorKind.GUARDIAN:
        if actor.account_id is None or actor.account_id not in record.guardians:
            return NOT_YOURS
        if INVISIBLE_PATIENT in document.visibility:
            return HIDDEN_FROM_PATIENT
        if INVISIBLE_REPRESENTANTS_LEGAUX in document.visibility:
            return HIDDEN_FROM_REPRESENTATIVES
        return GUARDIAN
    return _decide_professional(actor, document, record, profession_may_read, now)


def record_entry(actor: Actor, record: RecordFacts, *, now: datetime) -> Decision:
    """May ``actor`` open ``record`` at all (before any document)? The reason shown to a
    professional when the whole record is refused."""
    if actor.kind is ActorKind.PATIENT:
        return OWNER if actor.account_id == record.account_id else NOT_YOURS
    if actor.kind is ActorKind.GUARDIAN:
        ok = actor.account_id is not None and actor.account_id in record.guardians
        return GUARDIAN if ok else NOT_YOURS
    pid = actor.professional_id
    if not pid:
        return NOT_AUTHORISED
    if not record.open:
        return SPACE_NOT_OPEN
    if pid == record.attending_physician:
        return ATTENDING
    if pid in record.blocked:  # a block holds in an emergency too
        return BLOCKED
    if actor.kind in (ActorKind.BREAK_GLASS, ActorKind.SAMU):
        return _emergency_entry(actor, record, now)
    if pid in record.authorised:
        return AUTHORISED
    return NOT_AUTHORISED


def _emergency_entry(actor: Actor, record: RecordFacts, now: datetime) -> Decision:
    consent = record.consents.samu if actor.kind is ActorKind.SAMU else record.consents.break_glass
    if not consent:
        return EMERGENCY_REFUSED
    until = record.emergency_grants.get(actor.professional_id or "")
    if until is None or until <= now:
        return NO_GRANT
    return _allow("emergency", "Accès en urgence", emergency=True)


def _decide_professional(
    actor: Actor,
    document: DocumentFacts,
    record: RecordFacts,
    profession_may_read: ProfessionMayRead,
    now: datetime,
) -> Decision:
    entry = record_entry(actor, record, now=now)
    pid = actor.professional_id
    is_author = pid is not None and pid == document.author_professional_id
    if not entry.allowed:
        # The author keeps sight of what they deposited unless the patient blocked them.
        if is_author and record.open and entry is not BLOCKED:
            return AUTHOR
        return entry
    if is_author:
        return AUTHOR
    if not profession_may_read(actor.profession_code, document.type_code):
        return PROFESSION_NOT_ALLOWED
    if MASQUE_PS in document.visibility:
        if entry is ATTENDING:
            return ATTENDING
        if entry.emergency and record.consents.masked_documents:
            return entry
        return MASKED
    return entry


# -- changes ----------------------------------------------------------------------------------

MAY_CHANGE = _allow("may_change", "Modification permise")
ONLY_OWN_UPLOADS = _refuse(
    "only_own_uploads",
    "Vous ne pouvez supprimer ou remplacer que les documents que vous avez ajoutés",
    disclosed=True,
)
ONLY_AUTHOR = _refuse(
    "only_author", "Seul l'auteur du document peut faire cette modification", disclosed=True
)
ONLY_PATIENT = _refuse(
    "only_patient",
    "Seul le patient ou son représentant peut faire cette modification",
    disclosed=True,
)


def may_change(
    actor: Actor,
    change: Change,
    document: DocumentFacts,
    record: RecordFacts,
    *,
    profession_may_read: ProfessionMayRead,
    now: datetime,
) -> Decision:
    """May ``actor`` make ``change`` to ``document``? Seeing it comes first: what one may not see
    one may not change (and learns nothing of)."""
    seen = decide(
        actor,
        Operation.METADATA,
        document,
        record,
        profession_may_read=profession_may_read,
        now=now,
    )
    if not seen.allowed:
        return seen
    holder = actor.kind in (ActorKind.PATIENT, ActorKind.GUARDIAN)
    if change in (Change.MASK, Change.ARCHIVE):
        return MAY_CHANGE if holder else ONLY_PATIENT
    if change is Change.DELETE:
        if not holder:
            return ONLY_PATIENT
        return MAY_CHANGE if document.uploaded_by_patient else ONLY_OWN_UPLOADS
    if change is Change.REPLACE:
        if holder:
            return MAY_CHANGE if document.uploaded_by_patient else ONLY_OWN_UPLOADS
        return MAY_CHANGE if seen is AUTHOR else ONLY_AUTHOR
    # DEPRECATE, LIFT_INVISIBLE_PATIENT: the author's alone.
    if holder:
        return (
            MAY_CHANGE
            if document.uploaded_by_patient and change is Change.DEPRECATE
            else (ONLY_AUTHOR)
        )
    return MAY_CHANGE if seen is AUTHOR else ONLY_AUTHOR


# -- professionals and deposits ---------------------------------------------------------------

ATTENDING_NOT_BLOCKABLE = _refuse(
    "attending_not_blockable",
    "Votre médecin traitant ne peut pas être bloqué : il a accès à votre dossier pour vous "
    "soigner (article L1111-15 du code de la santé publique)",
    disclosed=True,
)


def may_block(record: RecordFacts, professional_id: str) -> Decision:
    """May the patient block ``professional_id``? Everyone but the attending physician."""
    if professional_id and professional_id == record.attending_physician:
        return ATTENDING_NOT_BLOCKABLE
    return MAY_CHANGE


def may_deposit(actor: Actor, record: RecordFacts) -> Decision:
    """Any professional may deposit into an open record, blocked or not; the patient and their
    guardians may upload to their own."""
    if actor.kind in (ActorKind.PATIENT, ActorKind.GUARDIAN):
        return record_entry(actor, record, now=datetime.max)
    if not actor.professional_id:
        return NOT_AUTHORISED
    if not record.open:
        return SPACE_NOT_OPEN
    return MAY_CHANGE
