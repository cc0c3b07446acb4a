"""The patient's activity history ("Historique d'activité"): audit entries as French lines.

Pure presentation data: :func:`describe` turns one audit entry (anything with ``account_id``,
``at``, ``actor``, ``action`` and ``detail``) into an :class:`ActivityItem` with its kind (the
filter groups of :data:`KINDS`, after the real service's ``activityTraces`` groups), who acted and
one French sentence. The sentences are built from a few plain detail fields only (numbers, ids,
professional identities, fixed codes) — never a message subject or a document title — and every
value is flattened to one short line of plain text: the page template escapes it, the CSV quotes
it. An action nobody described yet gets a generic sentence, never an error.

Not in charge of: reading the entries (``audit.history``), rendering pages (``portal``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
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
ACTOR_LABELS: dict[str, str] = {
    PATIENT: "Vous",
    GUARDIAN: "Représentant légal",
    PROFESSIONAL: "Professionnel de santé",
    FACILITY: "Établissement de santé",
    SERVICE: "Service référencé",
    SYSTEM: "Système",
}

_SYSTEM_ACTORS = frozenset(
    {"", "anonymous", "gateway", "notify", "mta", "outbound", "cli", "system", "operator"}
)
#: Prefixed actors the record store and the FHIR API write ("professional:<RPPS>"…).
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
#: ``detail["actor_kind"]`` as ``policy.record_access.ActorKind`` spells it.
_ACTOR_KINDS = {
    "patient": PATIENT,
    "guardian": GUARDIAN,
    "professional": PROFESSIONAL,
    "break_glass": PROFESSIONAL,
    "samu": PROFESSIONAL,
    "facility": FACILITY,
    "service": SERVICE,
    "system": SYSTEM,
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
) -> ActivityItem:
    """The history line of ``entry``. ``holder_address`` (the account's own address) tells the
    holder from a guardian acting with their own address; ``patient_domain`` tells patients'
    addresses from professionals'."""
    detail = _detail(entry.detail)
    actor_type = _actor_type(entry, detail, holder_address, patient_domain.lower())
    ctx = Context(entry.account_id, entry.actor, actor_type, detail)
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
    return ActivityItem(
        at=at.astimezone(UTC),
        kind=kind,
        kind_label_fr=KIND_LABELS[kind],
        actor_type=actor_type,
        actor_label_fr=ACTOR_LABELS[actor_type],
        text_fr=clean(text, 600),
        action=entry.action,
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
    hinted = detail.get("actor_kind")
    if isinstance(hinted, str) and hinted in _ACTOR_KINDS:
        return _ACTOR_KINDS[hinted]
    actor = (entry.actor or "").strip().lower()
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
