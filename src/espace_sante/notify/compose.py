"""The notice itself: French, short, and free of health data by construction.

Its only inputs are counts and the portal's address — no sender, subject, document title or
name of the patient reaches this function, so none can leak into the notice.
"""

from __future__ import annotations

import email.utils
from email.message import EmailMessage
from email.policy import SMTP


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


def build_notice(
    *, sender: str, to: str, messages: int, documents: int, portal_url: str, hostname: str
) -> bytes:
    """The notice as RFC 5322 bytes, ready for the outbound queue."""
    subject, body = notice_text(messages, documents, portal_url)
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
