"""Error notices for the sender when a document of their message could not be integrated.

The MSSanté convention: a message back to the sender whose subject starts with
``[KO Intégration système !][code]``, explaining in French what went wrong, with the original
message attached. The notice is queued for the outbound delivery (a later piece of ``mta``).
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP

#: Notice codes, one per reason a document is not deposited.
PATIENT_MISMATCH = "INS_DIFFERENT"
PATIENT_MISSING = "INS_ABSENT"
XDM_INVALID = "XDM_INVALIDE"


@dataclass(frozen=True)
class IntegrationProblem:
    code: str
    detail_fr: str
    detail_en: str


def build_error_notice(
    *,
    postmaster: str,
    to: str,
    original: bytes,
    original_subject: str,
    original_message_id: str | None,
    problems: list[IntegrationProblem],
    hostname: str,
) -> bytes:
    """The notice message (RFC 5322 bytes) for ``problems`` found in ``original``."""
    notice = EmailMessage(policy=SMTP)
    first = problems[0].code if problems else XDM_INVALID
    notice["From"] = postmaster
    notice["To"] = to
    notice["Subject"] = f"[KO Intégration système !][{first}] {original_subject}".strip()
    notice["Date"] = email.utils.formatdate(localtime=False)
    notice["Message-ID"] = email.utils.make_msgid(domain=hostname)
    notice["Auto-Submitted"] = "auto-replied"
    if original_message_id:
        notice["In-Reply-To"] = original_message_id
        notice["References"] = original_message_id
    lines = [
        "Bonjour,",
        "",
        "Votre message a bien été remis dans la messagerie du patient, mais un ou plusieurs",
        "documents qu'il contenait n'ont pas pu être intégrés à son dossier médical :",
        "",
    ]
    lines += [f"  - [{p.code}] {p.detail_fr}" for p in problems]
    lines += [
        "",
        "Le message d'origine est joint. Merci de vérifier l'identité du patient (INS) et",
        "le contenu de l'archive IHE_XDM.ZIP, puis de renvoyer le document si nécessaire.",
        "",
        "-- ",
        "Message automatique, merci de ne pas y répondre.",
        "",
        "(English) One or more documents of your message could not be filed in the patient's",
        "record:",
    ]
    lines += [f"  - [{p.code}] {p.detail_en}" for p in problems]
    notice.set_content("\n".join(lines) + "\n", charset="utf-8")
    # message/rfc822 may not be base64-encoded (RFC 2046 §5.2.1): attach it as a message.
    attached = BytesParser(policy=SMTP).parsebytes(original)
    notice.add_attachment(attached, disposition="attachment", filename="original.eml")
    return notice.as_bytes()
