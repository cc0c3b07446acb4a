"""Building a patient's reply (RFC 5322) from the original message's header and the form.

The patient types a subject and a text; everything else comes from the message being answered
as the IMAP server gave it: the recipient (its Reply-To if any, else its From), In-Reply-To and
References. Every value that ends up in a header is checked for line breaks and control
characters (header injection) and every field for its size; refusals carry a French message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr

from espace_sante.webmail.mail.message_view import header

MAX_SUBJECT_CHARS = 200
MAX_BODY_CHARS = 100_000
MAX_REFERENCES = 20
_ADDRESS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9.-]{1,253}$")
_MSG_ID = re.compile(r"^<[!-;=?-~]{1,250}>$")  # printable ASCII, no < > or spaces inside
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ComposeError(ValueError):
    """The reply cannot be built; ``str(exc)`` says why, in French, for the patient."""


@dataclass(frozen=True)
class ReplyDraft:
    """What the reply form shows before the patient writes."""

    to: str
    subject: str


def reply_recipient(original: EmailMessage) -> str:
    """Where a reply goes: the Reply-To address if the professional set one, else the From."""
    _, reply_to = parseaddr(header(original, "Reply-To"))
    _, sender = parseaddr(header(original, "From"))
    chosen = (reply_to or sender).strip().lower()
    if not _ADDRESS.match(chosen):
        raise ComposeError("L'adresse de l'expéditeur de ce message ne permet pas de répondre.")
    return chosen


def reply_subject(subject: str) -> str:
    """``Re: <subject>``, without piling up ``Re:`` prefixes."""
    subject = re.sub(r"\s+", " ", subject).strip()
    if re.match(r"^re\s*:", subject, re.I):
        return subject[:MAX_SUBJECT_CHARS]
    return f"Re: {subject}"[:MAX_SUBJECT_CHARS] if subject else "Re: (sans objet)"


def draft_for(original: EmailMessage) -> ReplyDraft:
    return ReplyDraft(reply_recipient(original), reply_subject(header(original, "Subject")))


def check_subject(subject: str) -> str:
    if "\r" in subject or "\n" in subject or _CONTROL.search(subject):
        raise ComposeError(
            "L'objet ne peut pas contenir de retour à la ligne ni de caractère de contrôle."
        )
    subject = subject.strip()
    if not subject:
        raise ComposeError("Veuillez indiquer un objet.")
    if len(subject) > MAX_SUBJECT_CHARS:
        raise ComposeError(f"L'objet est trop long (au plus {MAX_SUBJECT_CHARS} caractères).")
    return subject


def check_body(body: str) -> str:
    if len(body) > MAX_BODY_CHARS:
        raise ComposeError(
            f"Votre message est trop long (au plus {MAX_BODY_CHARS:,} caractères).".replace(
                ",", "\u202f"
            )
        )
    if _CONTROL.search(body):
        raise ComposeError("Votre message contient des caractères non autorisés.")
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    if not body.strip():
        raise ComposeError("Votre message est vide.")
    return body


def build_reply(
    *,
    from_address: str,
    from_name: str,
    original: EmailMessage,
    subject: str,
    body: str,
    now: datetime | None = None,
) -> EmailMessage:
    """The reply, ready for submission. Raises :class:`ComposeError` on any unsafe value."""
    from_address = from_address.strip().lower()
    if not _ADDRESS.match(from_address):
        raise ComposeError("Votre adresse de messagerie est invalide.")
    if _CONTROL.search(from_name) or "\r" in from_name or "\n" in from_name:
        raise ComposeError("Votre nom contient des caractères non autorisés.")
    to = reply_recipient(original)
    subject = check_subject(subject)
    body = check_body(body)
    in_reply_to = header(original, "Message-ID")
    references = header(original, "References").split()
    msg = EmailMessage(policy=SMTP)
    local, domain = from_address.split("@", 1)
    msg["From"] = Address(display_name=from_name[:100], username=local, domain=domain)
    to_local, to_domain = to.split("@", 1)
    msg["To"] = Address(username=to_local, domain=to_domain)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=domain)
    if _MSG_ID.match(in_reply_to):
        refs = [r for r in references if _MSG_ID.match(r)][-(MAX_REFERENCES - 1) :]
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = " ".join([*refs, in_reply_to])
    msg.set_content(body, charset="utf-8")
    return msg
