"""The patient's activity history ("Historique d'activité"): audit entries as French lines.

Pure presentation data: :func:`describe` turns one audit entry (anything with ``account_id``,
``at``, ``actor``, ``action`` and ``detail``) into an :class:`ActivityItem` with its kind (the
filter groups of :data:`KINDS`, after the real service's ``activityTraces`` groups), who acted and
one French sentence, told from the space holder's point of view (« vous » is the holder; a guardian
acting with their own login is « votre représentant légal »). The sentences are built from the
detail fields the writers really put there (``activity_catalogue`` lists them) — never a message
subject nor a document title — and every value is flattened to one short line of plain text: the
page template escapes it, the CSV quotes it. An action nobody described yet gets a generic
sentence, never an error.

The page names what the sentence does not: :func:`mentions` says which document and which
professionals (national ids) an entry concerns, so that the page looks up the directory once per
page and passes the names in (``professionals``), and links the document next to the sentence.

Not in charge of: reading the entries (``audit.history``), rendering pages (``portal``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from espace_sante.audit.activity_catalogue import CATALOGUE, Context, clean

#: The filter groups, in the order of the filter menu: (kind, French label).
KINDS: tuple[tuple[str, str], ...] = (
    ("connexions", "Connexions"),
    ("documents", "Documents"),
    ("messages", "Messagerie"),
    ("acces_professionnels", "Accès des professionnels de santé"),
    ("urgence", "Accès en urgence"),
    ("parametres", "Paramètres"),
    ("autres", "Autres"),
)
KIND_LABELS: dict[str, str] = dict(KINDS)

#: Actor types and their French labels.
PATIENT = "patient"
GUARDIAN = "representant_legal"
PROFESSIONAL = "professionnel"
FACILITY = "etablissement"
SERVICE = "service"
SYSTEM = "systeme"
ANONYMOUS = "inconnu"
ACTOR_LABELS: dict[str, str] = {
    PATIENT: "Vous",
    GUARDIAN: "Votre représentant légal",
    PROFESSIONAL: "Un professionnel de santé",
    FACILITY: "Un établissement de santé",
    SERVICE: "Un service référencé",
    SYSTEM: "Le service espace santé",
    ANONYMOUS: "Une personne non identifiée",
}
#: What the page shows instead of an entry about a document the viewer may not see.
UNDISCLOSED_TEXT = "Activité sur un document non consultable"
UNDISCLOSED_ACTOR = "Non communiqué"

#: Who writes for the service itself: the gateway, the notices, the queue, the command line (the
#: operator) and its demo.
_SYSTEM_ACTORS = frozenset(
    {"", "gateway", "notify", "mta", "outbound", "cli", "system", "operator", "demo"}
)
#: Someone not logged in (a failed login, a password reset asked for the account).
_ANONYMOUS_ACTORS = frozenset({"anonymous"})
#: Prefixed actors: the record store writes ``ps:<national id>`` for professionals (break-glass
#: and SAMU included); the others are kept for the FHIR API's referenced services.
_PREFIXES = {
    "professional": PROFESSIONAL,
    "ps": PROFESSIONAL,
    "rpps": PROFESSIONAL,
    "samu": PROFESSIONAL,
    "break_glass": PROFESSIONAL,
    "facility": FACILITY,
    "organisation": FACILITY,
    "org": FACILITY,
    "service": SERVICE,
    "client": SERVICE,
    "guardian": GUARDIAN,
}


class EntryLike(Protocol):
    """What :func:`describe` reads of an audit entry (``storage.schema.AuditEntry`` fits)."""

    @property
    def account_id(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def detail(self) -> str | Mapping[str, Any]: ...


@dataclass(frozen=True)
class ActivityItem:
    """One line of the activity history."""

    at: datetime  # aware, UTC
    kind: str
    kind_label_fr: str
    actor_type: str
    actor_label_fr: str
    text_fr: str
    action: str
    #: The document the entry concerns (the page links it when the viewer may see it).
    document_id: int | None = None
    #: The entry's place in its chain.
    seq: int | None = None


@dataclass(frozen=True)
class Mentions:
    """What an entry names that the page may look up: a document, professionals."""

    document_id: int | None
    professional_ids: frozenset[str]


#: Detail fields naming the document an action concerns, most relevant first (a replacement:
#: the new version).
_DOCUMENT_FIELDS = ("replacement", "document")
#: Document ids are 64-bit database keys: anything else names no document.
_MAX_ID = 2**63
#: Detail fields naming a professional by national id.
_PROFESSIONAL_FIELDS = ("professional",)
#: Profession codes whose holders are « Dr » (médecin, chirurgien-dentiste).
_DOCTOR_CODES = frozenset({"10", "40"})


def professional_label(
    family_name: str, given_name: str, profession_code: str = "", profession_label: str = ""
) -> str:
    """How the history names a professional: « Dr Jean DUPONT (médecin) »."""
    name = " ".join(x for x in (clean(given_name, 60), clean(family_name, 60).upper()) if x)
    if not name:
        return ""
    if profession_code in _DOCTOR_CODES:
        name = f"Dr {name}"
    job = clean(profession_label, 60)
    if job:
        job = job[:1].lower() + job[1:]
        return f"{name} ({job})"
    return name


def _national_id(actor: str) -> str | None:
    prefix, sep, rest = (actor or "").strip().partition(":")
    if sep and prefix.lower() in ("ps", "professional", "rpps") and rest.strip():
        return clean(rest.strip(), 32)
    return None


def mentions(entry: EntryLike) -> Mentions:
    """The document and the professionals ``entry`` names (for the page's look-ups)."""
    detail = _detail(entry.detail)
    document = None
    for key in _DOCUMENT_FIELDS:
        value = detail.get(key)
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < _MAX_ID:
            document = value
            break
    pids = set()
    own = _national_id(entry.actor)
    if own:
        pids.add(own)
    for key in _PROFESSIONAL_FIELDS:
        value = detail.get(key)
        if isinstance(value, str) and value.strip():
            pids.add(clean(value.strip(), 32))
    return Mentions(document, frozenset(pids))


def kind_of(action: str) -> str:
    """The filter group of ``action`` (``autres`` when unknown)."""
    spec = CATALOGUE.get(action)
    return spec.kind if spec is not None else "autres"


def actions_of(kind: str) -> frozenset[str]:
    """The described actions in filter group ``kind``."""
    return frozenset(a for a, spec in CATALOGUE.items() if spec.kind == kind)


def known_actions() -> frozenset[str]:
    return frozenset(CATALOGUE)


def describe(
    entry: EntryLike,
    *,
    holder_address: str | None = None,
    patient_domain: str = "patient.mssante.fr",
    professionals: Mapping[str, str] | None = None,
) -> ActivityItem:
    """The history line of ``entry``. ``holder_address`` (the account's own address) tells the
    holder from a guardian acting with their own address; ``patient_domain`` tells patients'
    addresses from professionals'; ``professionals`` maps national ids to their names
    (:func:`professional_label`), when the page looked them up."""
    detail = _detail(entry.detail)
    actor_type = _actor_type(entry, detail, holder_address, patient_domain.lower())
    names = dict(professionals or {})
    actor_pid = _national_id(entry.actor)
    ctx = Context(entry.account_id, entry.actor, actor_type, detail, names, actor_pid)
    spec = CATALOGUE.get(entry.action)
    if spec is None:
        kind = "autres"
        text = f"Action enregistrée ({clean(entry.action, 64)})"
    else:
        kind = spec.kind
        try:
            text = spec.text(ctx)
        except Exception:  # a detail of an unexpected shape: say what happened, not how
            text = spec.fallback
    at = entry.at if entry.at.tzinfo is not None else entry.at.replace(tzinfo=UTC)
    actor_label = ACTOR_LABELS[actor_type]
    if actor_type == PROFESSIONAL and actor_pid and names.get(actor_pid):
        actor_label = clean(names[actor_pid], 160)
    seq = getattr(entry, "seq", None)
    return ActivityItem(
        at=at.astimezone(UTC),
        kind=kind,
        kind_label_fr=KIND_LABELS[kind],
        actor_type=actor_type,
        actor_label_fr=actor_label,
        text_fr=clean(text, 600),
        action=entry.action,
        document_id=mentions(entry).document_id,
        seq=seq if isinstance(seq, int) else None,
    )


def undisclosed(item: ActivityItem) -> ActivityItem:
    """``item`` as shown to a viewer who may not see the document it concerns: no sentence, no
    actor, no document (the date and the group stay, so the trace is still there)."""
    return replace(
        item,
        text_fr=UNDISCLOSED_TEXT,
        actor_label_fr=UNDISCLOSED_ACTOR,
        document_id=None,
    )


def _detail(raw: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _actor_type(
    entry: EntryLike, detail: dict[str, Any], holder: str | None, patient_domain: str
) -> str:
    actor = (entry.actor or "").strip().lower()
    if actor in _ANONYMOUS_ACTORS:
        return ANONYMOUS
    if actor in _SYSTEM_ACTORS:
        return SYSTEM
    prefix, sep, rest = actor.partition(":")
    if sep and prefix == "account":
        return PATIENT if rest == str(entry.account_id) else GUARDIAN
    if sep and prefix in _PREFIXES:
        return _PREFIXES[prefix]
    if "@" in actor:
        domain = actor.rpartition("@")[2]
        if domain == patient_domain or domain.startswith("patient."):
            if holder is not None and actor != holder.lower():
                return GUARDIAN
            return PATIENT
        return PROFESSIONAL
    return SYSTEM
