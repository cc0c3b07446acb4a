"""The notices themselves: French, short, and free of health data by construction.

Their only inputs are counts, the kind of access and the portal's addresses — no sender,
subject, document title, name of the patient or identity of a professional reaches these
functions, so none can leak into a notice.
"""

from __future__ import annotations

import email.utils
from email.message import EmailMessage
from email.policy import SMTP
from typing import Literal

AccessKind = Literal["first_access", "emergency"]


def _count(n: int, one: str, many: str) -> str:
    return f"1 {one}" if n == 1 else f"{n} {many}"


def notice_text(messages: int, documents: int, portal_url: str) -> tuple[str, str]:
    """(subject, body) of a notice for ``messages`` new messages and ``documents`` documents."""
    items = []
    if messages:
        items.append(_count(messages, "nouveau message", "nouveaux messages"))
    if documents:
        items.append(_count(documents, "nouveau document", "nouveaux documents"))
    what = " et ".join(items) if items else "du nouveau"
    subject = "Du nouveau dans votre espace santé"
    body = "\n".join(
        [
            "Bonjour,",
            "",
            f"Vous avez {what} dans votre espace santé.",
            "",
            "Pour en prendre connaissance, connectez-vous à votre espace :",
            portal_url,
            "",
            "Par sécurité, ce courriel ne contient aucune information de santé : ni l'expéditeur,",
            "ni l'objet, ni le contenu des messages ou des documents.",
            "",
            "Ceci est un message automatique, merci de ne pas y répondre.",
            "",
        ]
    )
    return subject, body


def access_notice_text(kind: AccessKind, history_url: str) -> tuple[str, str]:
    """(subject, body) of the notice of a professional's first access or of an emergency
    access to the record; it names no one and points to the activity history."""
    if kind == "emergency":
        subject = "Accès en urgence à votre dossier médical"
        what = [
            "Un professionnel de santé a accédé à votre dossier médical en urgence.",
            "Chaque accès en urgence vous est signalé.",
        ]
    else:
        subject = "Un professionnel de santé a consulté votre dossier"
        what = [
            "Un professionnel de santé a consulté votre dossier médical pour la première fois.",
        ]
    body = "\n".join(
        [
            "Bonjour,",
            "",
            *what,
            "",
            "Pour savoir qui et quand, consultez l'historique d'activité de votre espace santé :",
            history_url,
            "",
            "Vous pouvez y bloquer l'accès d'un professionnel à votre dossier, et choisir les",
            "avis que vous recevez dans les paramètres de notification.",
            "",
            "Par sécurité, ce courriel ne contient aucune information de santé ni aucun nom.",
            "",
            "Ceci est un message automatique, merci de ne pas y répondre.",
            "",
        ]
    )
    return subject, body


def access_sms_text(history_url: str) -> str:
    """The SMS of an emergency access: no name, no health data."""
    return (
        "espace santé : un professionnel a accédé en urgence à votre dossier médical. "
        f"Détails dans votre historique d'activité : {history_url}"
    )


def build_notice(
    *, sender: str, to: str, messages: int, documents: int, portal_url: str, hostname: str
) -> bytes:
    """The notice as RFC 5322 bytes, ready for the outbound queue."""
    subject, body = notice_text(messages, documents, portal_url)
    return _mail(sender=sender, to=to, subject=subject, body=body, hostname=hostname)


def build_access_notice(
    *, sender: str, to: str, kind: AccessKind, history_url: str, hostname: str
) -> bytes:
    """The access notice as RFC 5322 bytes, ready for the outbound queue."""
    subject, body = access_notice_text(kind, history_url)
    return _mail(sender=sender, to=to, subject=subject, body=body, hostname=hostname)


def _mail(*, sender: str, to: str, subject: str, body: str, hostname: str) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = email.utils.formataddr(("Espace santé", sender))
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = email.utils.make_msgid(domain=hostname)
    msg["Auto-Submitted"] = "auto-generated"
    msg["Content-Language"] = "fr"
    msg.set_content(body, charset="utf-8")
    return msg.as_bytes()
