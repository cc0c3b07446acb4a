"""The inbound MX handler: gathers facts for ``policy`` at MAIL, RCPT and DATA, and delivers.

Verdicts are given as early as the facts allow: the sender's trust at MAIL FROM, each recipient
at RCPT TO, the message itself (size, bare line ends, headers, the header From's trust) after
DATA. Nothing is acknowledged before ``Delivering.deliver`` has committed it durably.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante.accounts.patients import find_patient_by_ins
from espace_sante.config import Settings
from espace_sante.mta.delivery import Delivering, first_address
from espace_sante.mta.mime import parse_message
from espace_sante.mta.smtpserver import NULL_SENDER, GatewayEnvelope
from espace_sante.mta.trace import authentication_results_header, received_header
from espace_sante.policy import addresses, inbound, verdicts
from espace_sante.policy.inbound import RecipientFacts, SenderFacts, SpaceStatus
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AllowedDomain, Professional

log = logging.getLogger("espace_sante.smtp")

_BARE_LINE_END = re.compile(rb"(?<!\r)\n|\r(?!\n)")


class InboundHandler:
    """aiosmtpd handler of the inbound MX."""

    def __init__(self, storage: Storage, settings: Settings | None = None) -> None:
        self.storage = storage
        self.settings = settings or storage.settings
        self.delivering = Delivering(storage)
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    # -- EHLO -------------------------------------------------------------------------------

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        # The MX takes no authentication: operators are known by their TLS client certificate.
        kept = [r for r in responses if not r.startswith("250-AUTH")]
        last = kept.pop()  # "250 HELP"
        return [*kept, "250-ENHANCEDSTATUSCODES", "250-PIPELINING", last]

    # -- MAIL FROM --------------------------------------------------------------------------

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        started = time.monotonic()
        if self.settings.smtp.trust_ca_file and not _peer_certificate(session):
            return self._refuse(session, address, None, verdicts.CLIENT_CERT_REQUIRED, started)
        if address == NULL_SENDER:
            # RFC 5321 §4.5.5: a null reverse-path must be accepted here; the header From of
            # the report is checked against the trust space after DATA.
            return self._accept_mail(envelope, address, mail_options)
        mailbox = addresses.parse_mailbox(address)
        if mailbox is None:
            return self._refuse(session, address, None, verdicts.MALFORMED_ADDRESS, started)
        # Directory addresses are kept lower-case; MSSanté local parts are not case-sensitive.
        sender = mailbox.address.lower()
        facts = await self._sender_facts(sender, mailbox.domain)
        verdict = inbound.check_sender(facts)
        if not verdict.accepted:
            return self._refuse(session, address, None, verdict, started)
        assert isinstance(envelope, GatewayEnvelope)
        envelope.sender_facts = facts
        return self._accept_mail(envelope, sender, mail_options)

    def _accept_mail(self, envelope: Envelope, address: str, mail_options: list[str]) -> str:
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Expéditeur accepté / Sender OK"

    async def _sender_facts(self, address: str, domain: str) -> SenderFacts:
        patient_domain = self.settings.mssante.patient_domain.lower()
        async with self.storage.sessions() as db:
            allowed = await is_domain_allowed(db, domain)
            in_directory = (
                await db.execute(
                    select(Professional.address).where(Professional.address == address)
                )
            ).scalar() is not None
        return SenderFacts(
            address=address,
            domain_allowed=allowed,
            in_directory=in_directory,
            is_patient_domain=domain == patient_domain,
        )

    # -- RCPT TO ----------------------------------------------------------------------------

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        started = time.monotonic()
        assert isinstance(envelope, GatewayEnvelope)
        if len(envelope.rcpt_tos) >= self.settings.smtp.max_recipients:
            return self._refuse(
                session, envelope.mail_from, address, verdicts.TOO_MANY_RECIPIENTS, started
            )
        verdict, matricule = addresses.classify_recipient(
            address, self.settings.mssante.patient_domain
        )
        if not verdict.accepted or matricule is None:
            return self._refuse(session, envelope.mail_from, address, verdict, started)
        async with self.storage.sessions() as db:
            patient = await find_patient_by_ins(db, matricule)
        facts = RecipientFacts(
            exists=patient is not None,
            status=SpaceStatus(patient.status) if patient is not None else None,
        )
        verdict = inbound.check_recipient(facts)
        if not verdict.accepted or patient is None:
            return self._refuse(session, envelope.mail_from, address, verdict, started)
        if all(r.account_id != patient.account_id for r in envelope.recipients):
            envelope.recipients.append(patient)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Destinataire accepté / Recipient OK"

    # -- DATA -------------------------------------------------------------------------------

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return await self._data(session, envelope)

    def _start_delivery(self, **kwargs: Any) -> asyncio.Task[Any]:
        """Run a delivery as its own task: a client that disconnects while we store its
        message does not cut the transaction short, and shutdown waits for it."""
        task = asyncio.ensure_future(self.delivering.deliver(**kwargs))
        self._in_flight.add(task)
        self._idle.clear()

        def done(t: asyncio.Task[Any]) -> None:
            self._in_flight.discard(t)
            if not self._in_flight:
                self._idle.set()

        task.add_done_callback(done)
        return task

    async def _data(self, session: Session, envelope: Envelope) -> str:
        started = time.monotonic()
        assert isinstance(envelope, GatewayEnvelope)
        raw = envelope.original_content or b""
        if isinstance(raw, str):  # pragma: no cover - we never decode data
            raw = raw.encode("utf-8", "surrogateescape")
        txid = secrets.token_hex(8)
        if _BARE_LINE_END.search(raw):
            return self._log_data(
                session, envelope, txid, verdicts.BARE_LINEFEED.smtp_reply(), started, len(raw)
            )
        size_verdict = inbound.check_size(len(raw), self.settings.mssante.max_message_size)
        if not size_verdict.accepted:
            return self._log_data(
                session, envelope, txid, size_verdict.smtp_reply(), started, len(raw)
            )
        try:
            parsed = parse_message(raw)
        except Exception:  # the parser is lenient; this is a last resort
            return self._log_data(
                session, envelope, txid, verdicts.MALFORMED_MESSAGE.smtp_reply(), started, len(raw)
            )
        problem = await self._check_message(envelope, parsed)
        if problem is not None:
            return self._log_data(session, envelope, txid, problem, started, len(raw))
        stamped = self._trace_headers(session, envelope, txid) + raw
        try:
            outcome = await asyncio.shield(
                self._start_delivery(
                    raw=stamped,
                    parsed=parsed,
                    envelope_sender=envelope.mail_from or "",
                    recipients=list(envelope.recipients),
                    received_at=datetime.now(UTC),
                )
            )
        except Exception:
            log.exception("delivery failed id=%s", txid)
            return self._log_data(
                session, envelope, txid, verdicts.TEMPORARY_FAILURE.smtp_reply(), started, len(raw)
            )
        detail = f"id={txid}"
        if outcome.duplicates and not outcome.delivered:
            reply = f"250 2.0.0 Déjà reçu, ignoré / Already delivered, ignored ({detail})"
        else:
            reply = f"250 2.0.0 Message remis / Message delivered ({detail})"
        return self._log_data(
            session,
            envelope,
            txid,
            reply,
            started,
            len(raw),
            extra=f" delivered={len(outcome.delivered)} duplicates={len(outcome.duplicates)}"
            f" documents={outcome.documents} notices={outcome.problems}",
        )

    async def _check_message(self, envelope: GatewayEnvelope, parsed: EmailMessage) -> str | None:
        """Header-level checks; a reply when the message must be refused."""
        try:
            from_values = parsed.get_all("From") or []
        except Exception:
            from_values = []
        if len(from_values) != 1:
            return verdicts.MALFORMED_MESSAGE.smtp_reply()
        if parsed.defects and not parsed.keys():
            return verdicts.MALFORMED_MESSAGE.smtp_reply()
        header_from = first_address(parsed, "From")
        if header_from is None:
            return verdicts.MALFORMED_MESSAGE.smtp_reply()
        mailbox = addresses.parse_mailbox(header_from)
        if mailbox is None:
            return verdicts.MALFORMED_MESSAGE.smtp_reply()
        if envelope.mail_from == NULL_SENDER:
            # A report (DSN/MDN) about a patient's message: it must come from the trust space.
            if parsed.get_content_type() != "multipart/report":
                return verdicts.NULL_SENDER_REFUSED.smtp_reply()
            async with self.storage.sessions() as db:
                allowed = await is_domain_allowed(db, mailbox.domain)
            if not allowed:
                return verdicts.SENDER_DOMAIN_NOT_TRUSTED.smtp_reply()
            return None
        if mailbox.address != (envelope.mail_from or "").lower():
            # The conversation is with the header From: it must be in the trust space too.
            facts = await self._sender_facts(mailbox.address.lower(), mailbox.domain)
            verdict = inbound.check_sender(facts)
            if not verdict.accepted:
                return verdict.smtp_reply()
        return None

    def _trace_headers(self, session: Session, envelope: GatewayEnvelope, txid: str) -> bytes:
        hostname = self.settings.mssante.hostname
        recipient = envelope.rcpt_tos[0] if len(envelope.rcpt_tos) == 1 else None
        cert = _peer_certificate(session)
        return received_header(
            helo=session.host_name,
            peer=session.peer,
            hostname=hostname,
            tls=session.ssl,
            transaction_id=txid,
            recipient=recipient,
        ) + authentication_results_header(
            hostname=hostname,
            envelope_sender=envelope.mail_from or "",
            client_cert="pass" if cert else "none",
            trust="pass",
            dkim=None,
        )

    # -- logging ----------------------------------------------------------------------------

    def _refuse(
        self,
        session: Session,
        sender: str | None,
        rcpt: str | None,
        verdict: verdicts.Verdict,
        started: float,
    ) -> str:
        reply = verdict.smtp_reply()
        log.info(
            "smtp peer=%s tls=%s from=<%s> rcpt=<%s> refused=%s reply=%r ms=%.1f",
            _peer_ip(session),
            _tls_version(session),
            sender or "",
            rcpt or "",
            verdict.key,
            reply,
            (time.monotonic() - started) * 1000,
        )
        return reply

    def _log_data(
        self,
        session: Session,
        envelope: Envelope,
        txid: str,
        reply: str,
        started: float,
        size: int,
        extra: str = "",
    ) -> str:
        log.info(
            "smtp id=%s peer=%s tls=%s from=<%s> rcpt=%s size=%d reply=%r ms=%.1f%s",
            txid,
            _peer_ip(session),
            _tls_version(session),
            envelope.mail_from or "",
            ",".join(f"<{r}>" for r in envelope.rcpt_tos),
            size,
            reply,
            (time.monotonic() - started) * 1000,
            extra,
        )
        return reply

    # -- shutdown ---------------------------------------------------------------------------

    async def wait_idle(self, timeout: float) -> bool:
        """Wait for deliveries in progress to finish; False if some are still running."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False


async def is_domain_allowed(db: AsyncSession, domain: str) -> bool:
    """Is ``domain`` on the MSSanté allow-list? (one primary-key lookup)"""
    found = await db.execute(select(AllowedDomain.name).where(AllowedDomain.name == domain.lower()))
    return found.scalar() is not None


def _peer_certificate(session: Session) -> dict[str, Any] | None:
    if not session.ssl:
        return None
    cert = session.ssl.get("peercert")
    return cert or None


def _peer_ip(session: Session) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)


def _tls_version(session: Session) -> str:
    if not session.ssl:
        return "none"
    ssl_object = session.ssl.get("ssl_object")
    return ssl_object.version() if ssl_object is not None else "yes"
