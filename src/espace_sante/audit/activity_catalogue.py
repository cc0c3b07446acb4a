"""Every audit action the code writes, with its filter group and its French sentence.

The sentences read the detail fields the writers really put there (``records``, ``accounts``,
``notify``, ``mta``, ``mailbox``, ``web``, ``portal``), only as plain values:
- documents: ``document`` (its id; the page links it, the sentence never names it),
  ``replacement`` (the new version's id), ``source`` (``xdm`` | ``attachment`` | ``upload``),
  ``operation`` (``list`` | ``metadata`` | ``view`` | ``download`` | ``versions``), ``reason`` (the
  access decision's code: ``owner``, ``attending_physician``, ``emergency``, ``blocked``…),
  ``emergency`` and ``first_access`` (booleans);
- professionals: the actor ``ps:<national id>`` for every professional's act (break-glass and
  SAMU too), ``professional`` (the national id an authorisation, a block or the attending
  physician concerns), ``via`` (``patient`` | ``consultation``); names come from the directory,
  looked up by the page and passed in (``Context.names``);
- emergencies: ``kind`` (``break_glass`` | ``samu``), ``stated_reason`` (the motive the
  professional typed), ``expires_at`` (ISO 8601), ``reason`` (a refusal code);
  ``samu``/``break_glass``/``masked_documents`` (the consents, booleans);
- logins: ``service``, ``channel``, ``remote``, ``until``, ``sessions_ended``, ``reason``;
- mail: ``recipients`` (addresses of ``message.submitted``), ``uids``, ``folder``, ``name``,
  ``messages``, ``recipient`` and ``kind`` (outbound rows);
- settings and notices: the notification switches and ``changed``, ``notice``
  (``first_access`` | ``emergency``), ``recipients`` and ``sms`` (counts), ``label`` (app
  passwords), ``dependant`` (guardianships and the guardian's switch into a dependant's space).
Never a subject, a title, a diagnosis, a file name, nor a count of documents (it could reveal a
document hidden from the viewer): the writers keep the first ones out of the detail, and these
templates do not look for them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
    #: National id → « Dr Jean DUPONT (médecin) », as the page found them in the directory.
    names: Mapping[str, str] = field(default_factory=dict)
    #: The acting professional's national id (from the actor ``ps:<id>``), if one acted.
    actor_pid: str | None = None

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

    def named(self, pid: str | None) -> str:
        """A professional by national id: their directory name, else « un professionnel de
        santé (identifiant …) »."""
        pid = clean(pid, 32) if pid else ""
        name = clean(self.names.get(pid, ""), 160) if pid else ""
        if name:
            return name
        return (
            f"un professionnel de santé (identifiant {pid})"
            if pid
            else ("un professionnel de santé")
        )

    def pro(self) -> str:
        """The professional the entry is about: ``professional`` in the detail, else the one who
        acted."""
        subject = self.text("professional", 32)
        return self.named(subject or self.actor_pid)

    def who(self) -> str:
        """Who acted, inside a sentence."""
        if self.actor_type == "professionnel":
            if self.actor_pid:
                return self.named(self.actor_pid)
            address = clean(self.actor, 254)  # a professional's mail address (a message)
            return address or "un professionnel de santé"
        return {
            "patient": "vous",
            "representant_legal": "votre représentant légal",
            "etablissement": "un établissement de santé",
            "service": "un service référencé",
            "inconnu": "une personne non identifiée",
        }.get(self.actor_type, "le service espace santé")

    def by(self) -> str:
        """ " par …" naming who acted (empty for the service itself)."""
        if self.actor_type == "systeme":
            return ""
        return f" par {self.who()}"

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
#: The refusal codes of ``policy.record_access`` (and of the record's changes), as the patient
#: reads them.
_REFUSALS = {
    "blocked": "vous avez bloqué ce professionnel",
    "not_authorised": "vous ne l'avez pas autorisé à consulter votre dossier",
    "profession_not_allowed": "sa profession ne permet pas de consulter ce type de document",
    "masked": "vous avez masqué ce document aux professionnels",
    "emergency_refused": "vous vous êtes opposé à l'accès en urgence",
    "no_emergency_grant": "aucun accès en urgence en cours",
    "space_not_open": "votre espace n'est pas ouvert",
    "not_found": "document introuvable",
    "not_yours": "ce document n'appartient pas à votre dossier",
    "attending_not_blockable": "votre médecin traitant ne peut pas être bloqué",
    "closed": "votre espace est fermé",
    "locked": "votre compte est temporairement verrouillé",
}
#: How an allowed access came about (``reason`` of an allowed decision), when worth saying.
_GROUNDS = {
    "attending_physician": " en tant que médecin traitant",
    "author": " en tant qu'auteur du document",
    "emergency": " en urgence",
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


def _grounds(c: Context) -> str:
    """How a professional's allowed access came about, and whether it was their first."""
    text = _GROUNDS.get(c.text("reason", 40), "")
    if c.flag("emergency") and "urgence" not in text:
        text += " en urgence"
    if c.flag("first_access"):
        text += " (premier accès à votre dossier)"
    return text


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


def _password_changed(what: str) -> Callable[[Context], str]:
    def text(c: Context) -> str:
        n = c.num("sessions_ended")
        ended = f" ({_plural(n, 'autre session fermée', 'autres sessions fermées')})" if n else ""
        return f"{what}{ended}{c.remote()}"

    return text


def _reset_refused(c: Context) -> str:
    return f"Demande de réinitialisation du mot de passe refusée{_refusal(c)}{c.remote()}"


def _guardian_mail_login(c: Context) -> str:
    return f"Connexion de votre représentant légal à votre messagerie{_service(c)}"


def _space_switch(opened: bool) -> Callable[[Context], str]:
    def text(c: Context) -> str:
        if c.num("dependant") == c.account_id:  # the dependant's own chain
            return (
                "Ouverture de votre espace santé par votre représentant légal"
                if opened
                else "Fin de la consultation de votre espace santé par votre représentant légal"
            )
        return (
            "Ouverture de l'espace santé d'une personne que vous représentez"
            if opened
            else "Retour à votre propre espace après celui d'une personne que vous représentez"
        )

    return text


def _received(c: Context) -> str:
    sender = clean(c.actor, 254)
    return f"Réception d'un message de {sender}" if sender else "Réception d'un message"


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
    source = c.text("source", 16)
    if source == "upload":
        return f"Ajout d'un document à votre dossier{c.by()}"
    how = {
        "xdm": " (reçu par messagerie sécurisée)",
        "attachment": " (pièce jointe d'un message)",
    }.get(source, "")
    return f"Dépôt d'un document dans votre dossier{c.by()}{how}"


def _doc(what: str) -> Callable[[Context], str]:
    return lambda c: f"{what}{c.by()}"


def _read(what: str) -> Callable[[Context], str]:
    """A read of a document or of the list: by whom, and on which grounds for a professional."""

    def text(c: Context) -> str:
        grounds = _grounds(c) if c.actor_type == "professionnel" else ""
        return f"{what}{c.by()}{grounds}"

    return text


def _refused_doc(c: Context) -> str:
    what = {
        "view": "la consultation d'un document",
        "download": "le téléchargement d'un document",
        "versions": "les versions d'un document",
    }.get(c.text("operation", 16), "un document")
    return f"Accès refusé à {what} pour {c.who()}{_refusal(c)}"


def _record_refused(c: Context) -> str:
    return f"Accès à votre dossier refusé à {c.who()}{_refusal(c)}"


def _archived(verb: str) -> Callable[[Context], str]:
    return lambda c: f"{verb} d'un document{c.by()}"


def _granted(c: Context) -> str:
    if c.text("via", 16) == "consultation":
        return (
            f"{_capital(c.pro())} a déclaré votre accord, donné lors d'une consultation, pour "
            "accéder à votre dossier"
        )
    return f"Autorisation d'accès à votre dossier donnée à {c.pro()}{c.by()}"


def _de(text: str) -> str:
    """« de » before ``text``, elided before a vowel (« d'un professionnel »)."""
    return f"d'{text}" if text[:1].lower() in "aeiouyéèh" else f"de {text}"


def _pro(template: str) -> Callable[[Context], str]:
    return lambda c: template.format(de_pro=_de(c.pro()), by=c.by())


def _block_refused(c: Context) -> str:
    return f"Blocage {_de(c.pro())} refusé{_refusal(c)}"


def _attending(c: Context) -> str:
    if not c.text("professional", 32):
        return f"Fin de la désignation de votre médecin traitant{c.by()}"
    return f"Désignation de votre médecin traitant : {c.pro()}{c.by()}"


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
    return f"Modification de vos consentements en cas d'urgence{c.by()}{listed}"


def _mode(c: Context) -> str:
    return "régulation du SAMU" if c.text("kind", 16) == "samu" else "bris de glace"


def _emergency_opened(c: Context) -> str:
    reason = c.text("stated_reason", 300)
    until = c.when("expires_at")
    text = f"Accès en urgence ({_mode(c)}) à votre dossier par {c.who()}"
    if reason:
        text += f" : motif « {reason} »"
    return text + (f" (jusqu'au {until})" if until else "")


def _emergency_refused(c: Context) -> str:
    return f"Accès en urgence ({_mode(c)}) refusé à {c.who()}{_refusal(c)}"


def _emergency_ended(c: Context) -> str:
    return f"Fin de l'accès en urgence {_de(c.who())} à votre dossier"


def _settings_changed(c: Context) -> str:
    changed = c.detail.get("changed")
    keys = {k for k in changed if isinstance(k, str)} if isinstance(changed, list) else None
    parts = [
        f"{label} : {_yes_no(c.flag(key))}"
        for key, label in _NOTICE_SWITCHES
        if c.flag(key) is not None and (keys is None or key in keys)
    ]
    listed = f" ({' ; '.join(parts)})" if parts else ""
    return f"Modification de vos préférences de notification{c.by()}{listed}"


def _notice(c: Context) -> str:
    notice = c.text("notice", 16)
    if notice == "first_access":
        what = "Avis du premier accès d'un professionnel à votre dossier"
    elif notice == "emergency":
        what = "Avis d'un accès en urgence à votre dossier"
    else:
        what = "Avis de nouveautés dans votre espace"
    channels = []
    n, sms = c.num("recipients"), c.num("sms")
    if n:
        channels.append(f"par courriel ({_plural(n, 'destinataire', 'destinataires')})")
    if sms:
        channels.append(f"par SMS ({_plural(sms, 'numéro', 'numéros')})")
    sent = f" {' et '.join(channels)}" if channels else ""
    return f"{what} envoyé{sent}"


def _skipped(c: Context) -> str:
    why = {
        "settings": "vos préférences de notification ne le prévoient pas",
        "no_address": "aucune adresse personnelle ni numéro de mobile connu",
    }.get(c.text("reason", 16), "notifications désactivées ou aucune adresse personnelle")
    return f"Aucun avis envoyé ({why})"


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


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


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
    "web.activated": _s(
        "connexions",
        "Activation de votre espace santé",
        lambda c: f"Activation de votre espace santé{c.remote()}",
    ),
    "web.login.code_sent": _s(
        "connexions", "Envoi d'un code de connexion", _code_sent("Envoi d'un code de connexion")
    ),
    "web.login.code_expired": _s("connexions", "Utilisation d'un code de connexion expiré"),
    "web.login.unknown_identifier": _s(
        "connexions", "Tentative de connexion avec un identifiant inconnu"
    ),
    "web.logout": _s("connexions", "Déconnexion", lambda c: f"Déconnexion{c.remote()}"),
    "web.session.expired": _s("connexions", "Fin de session (inactivité ou durée maximale)"),
    "web.password.changed": _s(
        "connexions",
        "Changement de votre mot de passe",
        _password_changed("Changement de votre mot de passe"),
    ),
    "web.password.reset_unknown": _s(
        "connexions", "Demande de réinitialisation pour un identifiant inconnu"
    ),
    "web.password.reset_refused": _s(
        "connexions", "Demande de réinitialisation du mot de passe refusée", _reset_refused
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
    "web.password.reset": _s(
        "connexions",
        "Réinitialisation de votre mot de passe",
        _password_changed("Réinitialisation de votre mot de passe"),
    ),
    "mailbox.guardian_login": _s(
        "connexions",
        "Connexion de votre représentant légal à votre messagerie",
        _guardian_mail_login,
    ),  # fmt: skip
    "web.space_opened": _s(
        "connexions",
        "Ouverture de l'espace santé d'un proche par son représentant légal",
        _space_switch(opened=True),
    ),
    "web.space_left": _s(
        "connexions",
        "Retour du représentant légal à son propre espace",
        _space_switch(opened=False),
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
    "document.uploaded": _s(
        "documents",
        "Ajout d'un document à votre dossier",
        _doc("Ajout d'un document à votre dossier"),
    ),
    "document.viewed": _s(
        "documents", "Consultation d'un document", _read("Consultation d'un document")
    ),
    "document.downloaded": _s(
        "documents", "Téléchargement d'un document", _read("Téléchargement d'un document")
    ),
    "document.metadata_read": _s(
        "documents",
        "Consultation de la description d'un document",
        _read("Consultation de la description d'un document"),
    ),
    "document.listed": _s(
        "documents",
        "Affichage d'un document dans une liste",
        _read("Affichage d'un document dans une liste"),
    ),
    "document.versions_read": _s(
        "documents",
        "Consultation des versions d'un document",
        _read("Consultation des versions d'un document"),
    ),
    "document.access_refused": _s("documents", "Accès refusé à un document", _refused_doc),
    "document.masked": _s(
        "documents",
        "Masquage d'un document aux professionnels de santé",
        _doc("Masquage d'un document aux professionnels de santé"),
    ),
    "document.unmasked": _s(
        "documents",
        "Document rendu visible aux professionnels de santé",
        _doc("Fin du masquage d'un document aux professionnels de santé"),
    ),
    "document.made_visible": _s(
        "documents",
        "Document rendu visible dans votre dossier",
        _doc("Document rendu visible dans votre dossier"),
    ),
    "document.deleted": _s(
        "documents", "Suppression d'un document", _doc("Suppression d'un document")
    ),
    "document.replaced": _s(
        "documents",
        "Remplacement d'un document par une nouvelle version",
        _doc("Remplacement d'un document par une nouvelle version"),
    ),
    "document.deprecated": _s(
        "documents", "Document marqué comme obsolète", _doc("Document marqué comme obsolète")
    ),
    "document.archived": _s("documents", "Archivage d'un document", _archived("Archivage")),
    "document.unarchived": _s("documents", "Désarchivage d'un document", _archived("Désarchivage")),
    # -- professionals' access -----------------------------------------------------------------
    "record.listed": _s(
        "acces_professionnels",
        "Consultation de la liste des documents de votre dossier",
        _read("Consultation de la liste des documents de votre dossier"),
    ),
    "record.access_refused": _s(
        "acces_professionnels", "Accès à votre dossier refusé à un professionnel", _record_refused
    ),
    "authorisation.granted": _s(
        "acces_professionnels",
        "Autorisation d'accès à votre dossier donnée à un professionnel",
        _granted,
    ),
    "authorisation.revoked": _s(
        "acces_professionnels",
        "Retrait de l'autorisation d'accès d'un professionnel",
        _pro("Retrait de l'autorisation d'accès {de_pro} à votre dossier{by}"),
    ),
    "authorisation.blocked": _s(
        "acces_professionnels",
        "Blocage de l'accès d'un professionnel à votre dossier",
        _pro("Blocage de l'accès {de_pro} à votre dossier{by}"),
    ),
    "authorisation.unblocked": _s(
        "acces_professionnels",
        "Déblocage de l'accès d'un professionnel à votre dossier",
        _pro(
            "Déblocage de l'accès {de_pro} à votre dossier{by} (votre accord lui sera de nouveau "
            "demandé lors d'une consultation)"
        ),
    ),
    "authorisation.block_refused": _s(
        "acces_professionnels",
        "Blocage refusé : le médecin traitant ne peut pas être bloqué",
        _block_refused,
    ),
    "attending_physician.set": _s(
        "acces_professionnels", "Désignation de votre médecin traitant", _attending
    ),
    "attending_physician.cleared": _s(
        "acces_professionnels", "Fin de la désignation de votre médecin traitant", _attending
    ),
    # -- emergencies ---------------------------------------------------------------------------
    "emergency.consents_changed": _s(
        "urgence", "Modification de vos consentements en cas d'urgence", _consents
    ),
    "emergency.access_opened": _s("urgence", "Accès en urgence à votre dossier", _emergency_opened),
    "emergency.access_refused": _s(
        "urgence", "Accès en urgence à votre dossier refusé", _emergency_refused
    ),
    "emergency.access_ended": _s(
        "urgence", "Fin d'un accès en urgence à votre dossier", _emergency_ended
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
    # -- others --------------------------------------------------------------------------------
    "account.created": _s("autres", "Création de votre espace santé"),
    "notification.queued": _s("autres", "Avis envoyé à votre adresse personnelle", _notice),
    "notification.skipped": _s("autres", "Aucun avis envoyé", _skipped),
}
