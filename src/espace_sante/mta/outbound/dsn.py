"""Delivery status notifications (RFC 3464): a ``multipart/report`` whose human-readable part is
in French, with the machine-readable ``message/delivery-status`` and the original's headers."""

from __future__ import annotations

import email.charset
import email.encoders
import email.utils
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.parser import BytesHeaderParser
from email.policy import SMTP
from email.policy import default as default_policy

_UTF8_QP = email.charset.Charset("utf-8")
_UTF8_QP.body_encoding = email.charset.QP


@dataclass(frozen=True)
class Failure:
    """Why a message was given up."""

    recipient: str
    status: str  # RFC 3463 code, e.g. 5.1.1 or 4.4.7
    diagnostic: str  # the peer's reply, or our own reason
    remote_host: str | None
    expired: bool  # True: still failing when its lifetime ran out; False: refused (5xx)
    attempts: int
    arrival: datetime
    last_attempt: datetime


def build_dsn(
    *,
    original: bytes,
    failure: Failure,
    reporting_mta: str,
    postmaster: str,
    to: str,
) -> bytes:
    """The DSN (RFC 5322 bytes, CRLF) telling ``to`` that ``original`` was not delivered."""
    original_headers = _header_block(original)
    parsed = BytesHeaderParser(policy=default_policy).parsebytes(original)
    subject = " ".join(str(parsed.get("Subject", "") or "").split())
    message_id = str(parsed.get("Message-ID", "") or "").strip()

    report = MIMEMultipart("report", report_type="delivery-status", policy=SMTP)
    report["From"] = email.utils.formataddr(("Messagerie espace santé", postmaster))
    report["To"] = to
    report["Subject"] = f"Non remis : {subject}" if subject else "Message non remis"
    report["Date"] = email.utils.formatdate(localtime=False)
    report["Message-ID"] = email.utils.make_msgid(domain=reporting_mta)
    report["Auto-Submitted"] = "auto-replied"
    if message_id:
        report["In-Reply-To"] = message_id
        report["References"] = message_id
    text = MIMEBase("text", "plain", policy=SMTP)
    text.set_payload(_french_text(failure, subject), _UTF8_QP)
    report.attach(text)

    per_message = Message(policy=SMTP)
    per_message["Reporting-MTA"] = f"dns; {reporting_mta}"
    per_message["Arrival-Date"] = email.utils.format_datetime(failure.arrival)
    per_recipient = Message(policy=SMTP)
    per_recipient["Final-Recipient"] = f"rfc822; {failure.recipient}"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = failure.status
    if failure.remote_host:
        per_recipient["Remote-MTA"] = f"dns; {failure.remote_host}"
    per_recipient["Diagnostic-Code"] = f"smtp; {_one_line(failure.diagnostic)}"
    per_recipient["Last-Attempt-Date"] = email.utils.format_datetime(failure.last_attempt)
    status = MIMEBase("message", "delivery-status", policy=SMTP)
    status.set_payload([per_message, per_recipient])
    report.attach(status)

    headers = MIMEBase("text", "rfc822-headers", policy=SMTP)
    if original_headers.isascii():
        headers.set_payload(original_headers)
    else:  # 8-bit header bytes: keep them intact, base64-encoded
        headers.set_payload(original_headers.encode("utf-8", "surrogateescape"))
        email.encoders.encode_base64(headers)
    report.attach(headers)
    return report.as_bytes()


def _french_text(failure: Failure, subject: str) -> str:
    what = f"« {subject} »" if subject else "sans objet"
    if failure.expired:
        why = (
            f"Le serveur de messagerie du destinataire n'a pas pu être joint ou a refusé "
            f"temporairement le message pendant toute la durée prévue ({failure.attempts} "
            "tentatives). Nous avons cessé d'essayer."
        )
    else:
        why = "Le serveur de messagerie du destinataire a refusé définitivement le message."
    return "\n".join(
        [
            "Bonjour,",
            "",
            f"Votre message {what} n'a pas pu être remis à :",
            "",
            f"    {failure.recipient}",
            "",
            why,
            "",
            "Réponse du serveur :",
            f"    {_one_line(failure.diagnostic)}",
            "",
            "Vous pouvez vérifier l'adresse et renvoyer le message, ou contacter le",
            "professionnel de santé par un autre moyen.",
            "",
            "-- ",
            "Message automatique de votre messagerie espace santé, merci de ne pas y répondre.",
            "",
            "(English) Your message could not be delivered to the recipient above; details are",
            "in the attached delivery status report.",
            "",
        ]
    )


def _header_block(raw: bytes) -> str:
    end = raw.find(b"\r\n\r\n")
    head = raw if end < 0 else raw[: end + 2]
    return head.decode("utf-8", "surrogateescape")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:900]
