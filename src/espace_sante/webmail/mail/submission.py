"""Sending a patient's message through our own SMTP submission server (aiosmtplib).

The webmail is one more mail client: implicit TLS to ``[submission] tls_port``, ``AUTH
XOAUTH2`` with a short-lived token for the account (service ``submission``), then the message.
The submission server applies the MSSanté rules and files the copy in Sent; its refusals are
turned into French sentences for the page.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from espace_sante.accounts.tokens import TokenSigner
from espace_sante.config import Settings
from espace_sante.webmail.mail.imap_client import client_tls_context, connect_host

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30.0


class SubmissionFailed(Exception):
    """The message was not accepted; ``str(exc)`` is a French sentence for the patient."""


@dataclass(frozen=True)
class SubmissionTarget:
    host: str
    port: int


def submission_target(settings: Settings) -> SubmissionTarget:
    """``[submission] listen_host`` and ``tls_port`` (defaults until that section exists)."""
    section = getattr(settings, "submission", None)
    return SubmissionTarget(
        host=connect_host(str(getattr(section, "listen_host", "127.0.0.1"))),
        port=int(getattr(section, "tls_port", 4650)),
    )


def french_reason(message: str) -> str:
    """The French half of a ``<enhanced code> <French> / <English>`` reply text."""
    text = re.sub(r"^\d\.\d{1,3}\.\d{1,3}\s+", "", message.strip())
    french = text.split(" / ", 1)[0].strip()
    return french or "refus sans explication"


async def submit(
    settings: Settings, account_id: int, address: str, message: EmailMessage, recipients: list[str]
) -> None:
    """Hand ``message`` to the submission server for ``recipients``; raises
    :class:`SubmissionFailed` with a French explanation when it is not accepted."""
    target = submission_target(settings)
    token = TokenSigner.from_settings(settings).issue(
        account_id, address, services=frozenset({"submission"}), ttl=120
    )
    smtp = aiosmtplib.SMTP(
        hostname=target.host,
        port=target.port,
        use_tls=True,
        tls_context=client_tls_context(settings),
        timeout=TIMEOUT_SECONDS,
    )
    try:
        await smtp.connect()
        await smtp.auth_xoauth2(address, token)
        await smtp.send_message(message, sender=address, recipients=recipients)
    except aiosmtplib.SMTPAuthenticationError as exc:
        log.warning("webmail submission: AUTH refused for account %s: %s", account_id, exc)
        raise SubmissionFailed(
            "Le service d'envoi a refusé votre connexion. Veuillez vous reconnecter."
        ) from exc
    except aiosmtplib.SMTPRecipientsRefused as exc:
        reasons = "; ".join(french_reason(e.message) for e in exc.recipients)
        raise SubmissionFailed(f"Votre message n'a pas été envoyé : {reasons}.") from exc
    except aiosmtplib.SMTPResponseException as exc:  # sender refused, data refused…
        raise SubmissionFailed(
            f"Votre message n'a pas été envoyé : {french_reason(exc.message)}."
        ) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        log.warning("webmail submission: %s:%s unavailable: %r", target.host, target.port, exc)
        raise SubmissionFailed(
            "Le service d'envoi est momentanément indisponible. Votre message n'a pas été "
            "envoyé ; veuillez réessayer plus tard."
        ) from exc
    finally:
        if smtp.is_connected:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                smtp.close()
