"""Every audit action the code writes, with its filter group and its French sentence.

Each sentence reads only these detail fields, and only as plain values:
- ``document``, ``new_document`` (document ids), ``uid``, ``documents``, ``messages``, ``size``,
  ``sessions_ended``, ``recipients`` (counts, or addresses for ``message.submitted``);
- ``professional_id`` (RPPS/ADELI), ``professional_name``, ``profession`` (a label), ``mode``
  (``break_glass`` | ``samu``), ``reason`` (the break-glass motive the professional typed, or a
  fixed refusal code), ``until`` (ISO 8601), ``via`` (``portal`` | ``fhir``);
- ``service``, ``channel``, ``remote`` (logins), ``label`` (app passwords), ``name``/``folder``
  (mail folders the patient named), ``recipient`` and ``kind`` (outbound rows), ``notice``
  (``first_access`` | ``emergency``), ``samu``/``break_glass``/``masked_documents`` and the
  notification switches (booleans).
Never a subject, a title, a diagnosis or a file name: the writers keep those out of the detail,
and these templates do not look for them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def clean(value: object, limit: int = 200) -> str:
    """``value`` as one line of plain text, at most ``limit`` characters: control and format
    characters (newlines, bidi overrides…) become spaces, runs of spaces one space."""
    text = value if isinstance(value, str) else str(value)
    text = text[: limit * 4]
    out = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    out = " ".join(out.split())
    return out if len(out) <= limit else out[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Context:
    account_id: int
    actor: str
    actor_type: str
    detail: dict[str, Any]

    def num(self, key: str) -> int | None:
        value = self.detail.get(key)
        if isinstance(value, bool) or not isinstance(value, int | str):
            return None
        try:
            return int(value)
        except ValueError:
            return None

    def text(self, key: str, limit: int = 120) -> str:
        value = self.detail.get(key)
        if value is None or isinstance(value, dict | list):
            return ""
        return clean(value, limit)

    def flag(self, key: str) -> bool | None:
        value = self.detail.get(key)
        return value if isinstance(value, bool) else None

    def doc(self, key: str = "document") -> str:
        n = self.num(key)
        return f"du document n° {n}" if n is not None else "d'un document"

    def pro(self) -> str:
        """The professional concerned: name and national id when the entry has them."""
        name, pid = self.text("professional_name", 120), self.text("professional_id", 32)
        profession = self.text("profession", 80)
        who = name or "un professionnel de santé"
        extras = [x for x in (profession, f"identifiant {pid}" if pid else "") if x]
        return f"{who} ({', '.join(extras)})" if extras else who

    def by(self) -> str:
        """ " par …" naming who acted (empty for the system)."""
        if self.actor_type == "professionnel":
            return f" par {self.pro()}"
        return {
            "patient": " par vous",
            "representant_legal": " par un représentant légal",
            "etablissement": " par un établissement de santé",
            "service": " par un service référencé",
        }.get(self.actor_type, "")

    def remote(self) -> str:
        ip = self.text("remote", 64)
        return f" depuis l'adresse {ip}" if ip else ""

    def channel(self) -> str:
        return {"sms": "par SMS", "email": "par courriel"}.get(self.text("channel", 8), "")

    def when(self, key: str) -> str:
        raw = self.text(key, 40)
        try:
            at = datetime.fromisoformat(raw)
        except ValueError:
            return ""
        if at.tzinfo is None:
            return ""
        return at.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")


@dataclass(frozen=True)
class Spec:
    kind: str
    text: Callable[[Context], str]
    #: What to say if the detail has an unexpected shape.
    fallback: str


def _s(kind: str, fallback: str, text: Callable[[Context], str] | None = None) -> Spec:
    return Spec(kind, text or (lambda _c: fallback), fallback)


def _plural(n: int | None, one: str, many: str) -> str:
    return f"1 {one}" if n == 1 else f"{n if n is not None else 'des'} {many}"


_SERVICES = {
    "web": "site web",
    "imap": "messagerie IMAP",
    "submission": "envoi de messages SMTP",
    "web-activation": "activation",
    "web-code": "code de connexion",
    "web-password": "site web",
    "web-password-change": "changement de mot de passe",
    "web-reset": "réinitialisation du mot de passe",
}
_REFUSALS = {
    "blocked": "vous avez bloqué ce professionnel",
    "not_authorised": "vous ne l'avez pas autorisé",
    "profession_not_allowed": "sa profession ne permet pas de consulter ce type de document",
    "masked": "vous avez masqué ce document aux professionnels",
    "emergency_refused": "vous vous êtes opposé à l'accès en urgence",
    "no_emergency_grant": "aucun accès en urgence en cours",
    "space_not_open": "votre espace n'est pas ouvert",
}
_NOTICE_SWITCHES = (
    ("new_message", "nouveaux messages"),
    ("new_document", "nouveaux documents"),
    ("first_professional_access", "premier accès d'un professionnel"),
    ("emergency_access", "accès en urgence"),
    ("channel_email", "par courriel"),
    ("channel_sms", "par SMS"),
)


def _service(c: Context) -> str:
    label = _SERVICES.get(c.text("service", 32))
    return f" ({label})" if label else ""


def _refusal(c: Context) -> str:
    why = _REFUSALS.get(c.text("reason", 40))
    return f" : {why}" if why else ""


def _yes_no(value: bool | None) -> str:
    return "oui" if value else "non"


def _login_ok(c: Context) -> str:
    return f"Connexion à votre espace{_service(c)}{c.remote()}"


def _login_failed(c: Context) -> str:
    return f"Échec de connexion{_service(c)}{c.remote()}"


def _locked(c: Context) -> str:
    until = c.when("until")
    return "Compte verrouillé temporairement après plusieurs échecs de connexion" + (
        f" (jusqu'au {until})" if until else ""
    )


def _code_sent(what: str) -> Callable[[Context], str]:
    return lambda c: " ".join(x for x in (what, c.channel()) if x)


def _password_changed(c: Context) -> str:
    n = c.num("sessions_ended")
    ended = f" ({_plural(n, 'autre session fermée', 'autres sessions fermées')})" if n else ""
    return f"Changement de votre mot de passe{ended}{c.remote()}"


def _received(c: Context) -> str:
    sender = clean(c.actor, 254)
    n = c.num("documents")
    docs = (
        f" ({_plural(n, 'document déposé', 'documents déposés')} dans votre dossier)" if n else ""
    )
    return f"Réception d'un message de {sender}{docs}" if sender else "Réception d'un message"


def _submitted(c: Context) -> str:
    rcpts = c.detail.get("recipients")
    names = [clean(r, 254) for r in rcpts[:5]] if isinstance(rcpts, list) else []
    more = " et d'autres destinataires" if isinstance(rcpts, list) and len(rcpts) > 5 else ""
    return f"Envoi d'un message à {', '.join(names)}{more}" if names else "Envoi d'un message"


def _expunged(c: Context) -> str:
    uids = c.detail.get("uids")
    n = len(uids) if isinstance(uids, list) else None
    folder = c.text("folder", 80)
    where = f" du dossier « {folder} »" if folder else ""
    return f"Suppression définitive de {_plural(n, 'message', 'messages')}{where}"


def _folder(verb: str) -> Callable[[Context], str]:
    def text(c: Context) -> str:
        name = c.text("name", 80)
        return f"{verb} du dossier de messagerie « {name} »" if name else f"{verb} d'un dossier"

    return text


_OUTBOUND_WHAT = {
    "reply": "d'un message",
    "notification": "d'un avis",
    "login_code": "d'un code de connexion",
    "mdn": "d'un accusé de lecture",
    "dsn": "d'un avis de non-remise",
}


def _delivered(c: Context) -> str:
    what = _OUTBOUND_WHAT.get(c.text("kind", 32), "d'un message")
    to = c.text("recipient", 254)
    return f"Remise {what}" + (f" à {to}" if to else "")


def _outbound(c: Context) -> str:
    what = _OUTBOUND_WHAT.get(c.text("kind", 32), "d'un message")
    to = c.text("recipient", 254)
    return f"Échec définitif de l'envoi {what}" + (f" à {to}" if to else "")


def _deposited(c: Context) -> str:
    how = {
        "xdm": " (reçu par messagerie)",
        "attachment": " (pièce jointe d'un message)",
        "upload": "",
    }.get(c.text("source", 16), "")
    return f"Dépôt {c.doc()} dans votre dossier{how}{c.by()}"


def _doc(template: str) -> Callable[[Context], str]:
    return lambda c: template.format(doc=c.doc()) + c.by()


def _replaced(c: Context) -> str:
    new = c.num("new_document")
    by_new = f" (nouvelle version : document n° {new})" if new is not None else ""
    return f"Remplacement {c.doc()}{by_new}{c.by()}"


def _archived(c: Context) -> str:
    verb = "Désarchivage" if c.flag("archived") is False else "Archivage"
    return f"{verb} {c.doc()}{c.by()}"


def _refused_doc(c: Context) -> str:
    return f"Accès refusé à la consultation {c.doc()}{c.by()}{_refusal(c)}"


def _listed(c: Context) -> str:
    return f"Consultation de la liste des documents de votre dossier{c.by()}"


def _pro(template: str) -> Callable[[Context], str]:
    return lambda c: template.format(pro=c.pro())


def _attending(c: Context) -> str:
    if not c.text("professional_id") and not c.text("professional_name"):
        return "Fin de la désignation de votre médecin traitant"
    return f"Désignation de votre médecin traitant : {c.pro()}"


def _consents(c: Context) -> str:
    parts = [
        f"{label} : {'autorisé' if c.flag(key) else 'refusé'}"
        for key, label in (
            ("samu", "régulation du SAMU"),
            ("break_glass", "bris de glace"),
            ("masked_documents", "documents masqués visibles en urgence"),
        )
        if c.flag(key) is not None
    ]
    listed = f" ({' ; '.join(parts)})" if parts else ""
    return f"Modification de vos consentements en cas d'urgence{listed}"


def _mode(c: Context) -> str:
    return "régulation du SAMU" if c.text("mode", 16) == "samu" else "bris de glace"


def _emergency_opened(c: Context) -> str:
    reason = c.text("reason", 300)
    until = c.when("until")
    text = f"Accès en urgence ({_mode(c)}) à votre dossier par {c.pro()}"
    if reason:
        text += f" : motif « {reason} »"
    return text + (f" (jusqu'au {until})" if until else "")


def _emergency_refused(c: Context) -> str:
    return f"Accès en urgence ({_mode(c)}) refusé à {c.pro()}{_refusal(c)}"


def _settings_changed(c: Context) -> str:
    parts = [
        f"{label} : {_yes_no(c.flag(key))}"
        for key, label in _NOTICE_SWITCHES
        if c.flag(key) is not None
    ]
    listed = f" ({' ; '.join(parts)})" if parts else ""
    return f"Modification de vos préférences de notification{listed}"


def _notice(c: Context) -> str:
    notice = c.text("notice", 16)
    if notice == "first_access":
        what = "Avis de premier accès d'un professionnel à votre dossier"
    elif notice == "emergency":
        what = "Avis d'accès en urgence à votre dossier"
    else:
        items = [
            _plural(c.num(k), one, many)
            for k, one, many in (
                ("messages", "nouveau message", "nouveaux messages"),
                ("documents", "nouveau document", "nouveaux documents"),
            )
            if c.num(k)
        ]
        what = "Avis de nouveautés" + (f" ({' et '.join(items)})" if items else "")
    return f"{what} envoyé à votre adresse personnelle"


def _skipped(c: Context) -> str:
    return "Aucun avis envoyé (notifications désactivées ou aucune adresse personnelle)"


def _guardianship(verb: str) -> Callable[[Context], str]:
    def text(c: Context) -> str:
        if c.num("dependant") == c.account_id:
            return f"Représentation légale {verb} pour votre espace"
        return f"Représentation légale {verb} : vous représentez une personne mineure"

    return text


def _app_password(verb: str) -> Callable[[Context], str]:
    def text(c: Context) -> str:
        label = c.text("label", 100)
        named = f" « {label} »" if label else ""
        return f"{verb} du mot de passe d'application{named}"

    return text


CATALOGUE: dict[str, Spec] = {
    # -- connexions ----------------------------------------------------------------------------
    "login.succeeded": _s("connexions", "Connexion à votre espace", _login_ok),
    "login.failed": _s("connexions", "Échec de connexion", _login_failed),
    "login.locked": _s("connexions", "Compte verrouillé temporairement", _locked),
    "login.refused_locked": _s(
        "connexions", "Connexion refusée : compte temporairement verrouillé"
    ),
    "web.activation_code.issued": _s("connexions", "Création d'un code provisoire d'activation"),
    "web.activation.expired_code": _s(
        "connexions", "Tentative d'activation avec un code provisoire expiré"
    ),
    "web.activated": _s("connexions", "Activation de votre espace santé"),
    "web.login.code_sent": _s(
        "connexions", "Envoi d'un code de connexion", _code_sent("Envoi d'un code de connexion")
    ),
    "web.login.code_expired": _s("connexions", "Utilisation d'un code de connexion expiré"),
    "web.login.unknown_identifier": _s(
        "connexions", "Tentative de connexion avec un identifiant inconnu"
    ),
    "web.logout": _s("connexions", "Déconnexion"),
    "web.session.expired": _s("connexions", "Fin de session (inactivité ou durée maximale)"),
    "web.password.changed": _s("connexions", "Changement de votre mot de passe", _password_changed),
    "web.password.reset_unknown": _s(
        "connexions", "Demande de réinitialisation pour un identifiant inconnu"
    ),
    "web.password.reset_refused": _s(
        "connexions", "Demande de réinitialisation du mot de passe refusée"
    ),
    "web.password.reset_requested": _s(
        "connexions",
        "Demande de réinitialisation du mot de passe",
        _code_sent("Demande de réinitialisation du mot de passe : code envoyé"),
    ),
    "web.password.reset_code_sent": _s(
        "connexions",
        "Envoi d'un code de réinitialisation du mot de passe",
        _code_sent("Envoi d'un code de réinitialisation du mot de passe"),
    ),
    "web.password.reset_code_ok": _s(
        "connexions", "Code de réinitialisation du mot de passe validé"
    ),
    "web.password.reset": _s("connexions", "Réinitialisation de votre mot de passe"),
    "mailbox.guardian_login": _s(
        "connexions",
        "Connexion d'un représentant légal à la messagerie",
        lambda c: f"Connexion d'un représentant légal à votre messagerie{_service(c)}",
    ),
    # -- messages ------------------------------------------------------------------------------
    "message.received": _s("messages", "Réception d'un message", _received),
    "message.submitted": _s("messages", "Envoi d'un message", _submitted),
    "message.expunged": _s("messages", "Suppression définitive de messages", _expunged),
    "folder.created": _s("messages", "Création d'un dossier", _folder("Création")),
    "folder.deleted": _s("messages", "Suppression d'un dossier", _folder("Suppression")),
    "receipt.mdn_queued": _s("messages", "Envoi d'un accusé de lecture à l'expéditeur"),
    "dsn.received": _s("messages", "Réception d'un avis de non-remise d'un message envoyé"),
    "outbound.delivered": _s("messages", "Remise d'un message au destinataire", _delivered),
    "outbound.failed": _s("messages", "Échec définitif d'un envoi", _outbound),
    "outbound.expired": _s("messages", "Échec définitif d'un envoi", _outbound),
    # -- documents -----------------------------------------------------------------------------
    "document.deposited": _s("documents", "Dépôt d'un document dans votre dossier", _deposited),
    "document.rejected": _s(
        "documents",
        "Document reçu par messagerie non intégré à votre dossier (identité du patient non "
        "concordante ou document illisible) ; l'expéditeur en a été averti",
    ),
    "document.viewed": _s("documents", "Consultation d'un document", _doc("Consultation {doc}")),
    "document.downloaded": _s(
        "documents", "Téléchargement d'un document", _doc("Téléchargement {doc}")
    ),
    "document.uploaded": _s(
        "documents", "Ajout d'un document", _doc("Ajout {doc} à votre dossier")
    ),
    "document.masked": _s(
        "documents",
        "Masquage d'un document aux professionnels de santé",
        _doc("Masquage {doc} aux professionnels de santé"),
    ),
    "document.unmasked": _s(
        "documents",
        "Document rendu visible aux professionnels de santé",
        _doc("Fin du masquage {doc} aux professionnels de santé"),
    ),
    "document.deleted": _s("documents", "Suppression d'un document", _doc("Suppression {doc}")),
    "document.replaced": _s("documents", "Remplacement d'un document", _replaced),
    "document.deprecated": _s(
        "documents", "Document marqué comme obsolète", _doc("Marquage {doc} comme obsolète")
    ),
    "document.archived": _s("documents", "Archivage d'un document", _archived),
    "document.access_refused": _s("documents", "Accès refusé à un document", _refused_doc),
    # -- professionals' access -----------------------------------------------------------------
    "record.listed": _s(
        "acces_professionnels", "Consultation de la liste des documents de votre dossier", _listed
    ),
    "authorisation.granted": _s(
        "acces_professionnels",
        "Autorisation d'accès à votre dossier donnée à un professionnel",
        _pro("Autorisation d'accès à votre dossier donnée à {pro}"),
    ),
    "authorisation.blocked": _s(
        "acces_professionnels",
        "Blocage de l'accès d'un professionnel à votre dossier",
        _pro("Blocage de l'accès de {pro} à votre dossier"),
    ),
    "authorisation.unblocked": _s(
        "acces_professionnels",
        "Déblocage de l'accès d'un professionnel à votre dossier",
        _pro(
            "Déblocage de l'accès de {pro} à votre dossier (votre accord lui sera de nouveau "
            "demandé lors d'une consultation)"
        ),
    ),
    "authorisation.declared": _s(
        "acces_professionnels",
        "Un professionnel a déclaré votre accord pour accéder à votre dossier",
        _pro(
            "{pro} a déclaré votre accord, donné lors d'une consultation, pour accéder à "
            "votre dossier"
        ),
    ),  # fmt: skip
    "attending_physician.set": _s(
        "acces_professionnels", "Modification de votre médecin traitant", _attending
    ),
    # -- emergencies ---------------------------------------------------------------------------
    "emergency.consents_changed": _s(
        "urgence", "Modification de vos consentements en cas d'urgence", _consents
    ),
    "emergency.access_opened": _s("urgence", "Accès en urgence à votre dossier", _emergency_opened),
    "emergency.access_refused": _s(
        "urgence", "Accès en urgence à votre dossier refusé", _emergency_refused
    ),
    # -- settings ------------------------------------------------------------------------------
    "notification_settings.changed": _s(
        "parametres", "Modification de vos préférences de notification", _settings_changed
    ),
    "app_password.created": _s(
        "parametres", "Création d'un mot de passe d'application", _app_password("Création")
    ),
    "app_password.revoked": _s(
        "parametres", "Révocation d'un mot de passe d'application", _app_password("Révocation")
    ),
    "guardianship.granted": _s(
        "parametres", "Représentation légale enregistrée", _guardianship("enregistrée")
    ),
    "guardianship.revoked": _s(
        "parametres", "Fin d'une représentation légale", _guardianship("terminée")
    ),
    "web.space_opened": _s(
        "connexions", "Ouverture de l'espace santé d'un proche par son représentant légal"
    ),
    "web.space_left": _s("connexions", "Retour du représentant légal à son propre espace"),
    "attending_physician.cleared": _s(
        "acces_professionnels", "Fin de la déclaration du médecin traitant"
    ),
    "authorisation.block_refused": _s(
        "acces_professionnels", "Blocage refusé : le médecin traitant ne peut pas être bloqué"
    ),
    "authorisation.revoked": _s(
        "acces_professionnels",
        "Retrait de l'autorisation d'accès d'un professionnel",
        _pro("Retrait de l'autorisation d'accès de {pro} à votre dossier"),
    ),
    "document.unarchived": _s(
        "documents", "Désarchivage d'un document", _doc("Désarchivage {doc}")
    ),
    "document.versions_read": _s(
        "documents",
        "Consultation des versions d'un document",
        _doc("Consultation des versions {doc}"),
    ),
    "emergency.access_ended": _s("urgence", "Fin d'un accès en urgence à votre dossier"),
    "record.access_refused": _s(
        "acces_professionnels", "Accès à votre dossier refusé à un professionnel"
    ),
    # -- others --------------------------------------------------------------------------------
    "account.created": _s("autres", "Création de votre espace santé"),
    "notification.queued": _s("autres", "Avis envoyé à votre adresse personnelle", _notice),
    "notification.skipped": _s("autres", "Aucun avis envoyé", _skipped),
}
