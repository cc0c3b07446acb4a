"""SMTP submission (RFC 6409) for the webmail and mail apps, with the MSSanté rules applied to
every client.

Two listeners: STARTTLS (``submission.port``) and implicit TLS (``submission.tls_port``, RFC 8314).
AUTH is required before MAIL and offered only under TLS: PLAIN and LOGIN with an app password,
XOAUTH2 and OAUTHBEARER (RFC 7628) with an access token (``accounts.mail_auth``). The envelope
sender and the header From must be the authenticated account's address; a patient's recipients
are checked at RCPT by ``policy.submission``. At DATA, in one transaction: the copy in the
sender's Sent folder (\\Seen), one ``outbound_queue`` row per recipient (kind ``reply``) and the
audit entries; 250 is sent only after that commit.

Not in charge of: delivering the queued message (``mta.outbound``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import email.utils
import json
import logging
import re
import secrets
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy as email_policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import Any, cast

from aiosmtpd.smtp import MISSING, AuthResult, Envelope, Session
from sqlalchemy import select

from espace_sante import audit
from espace_sante.accounts import mail_auth
from espace_sante.accounts.mail_auth import MailLogin
from espace_sante.accounts.tokens import TokenError, TokenSigner
from espace_sante.config import Settings
from espace_sante.mta.inbound import is_domain_allowed
from espace_sante.mta.localstore import discard_copy, file_message, prepare_copy
from espace_sante.mta.smtpserver import GatewaySMTP
from espace_sante.policy import addresses, inbound, verdicts
from espace_sante.policy import submission as rules
from espace_sante.policy.conversation import ConversationState
from espace_sante.storage.engine import transaction
from espace_sante.storage.outbox import enqueue
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Conversation, Professional

log = logging.getLogger("espace_sante.submission")

_BARE_LINE_END = re.compile(rb"(?<!\r)\n|\r(?!\n)")
_HEADER_END = b"\r\n\r\n"
SERVICE = "submission"

BAD_RECIPIENT_SYNTAX = "553 5.1.3 Adresse destinataire mal formée / Malformed recipient address"
AUTH_SUCCESS = "235 2.7.0 Authentification réussie / Authentication successful"

# aiosmtpd's own replies, in our words.
_AUTH_REPLACED = {
    "530 5.7.0 Authentication required": verdicts.AUTH_REQUIRED.smtp_reply(),
    "538 5.7.11 Encryption required for requested authentication mechanism": (
        "538 5.7.11 Chiffrement requis : STARTTLS d'abord / Encryption required for requested "
        "authentication mechanism"
    ),
    "503 Already authenticated": "503 5.5.1 Déjà authentifié / Already authenticated",
    "504 5.5.4 Unrecognized authentication type": (
        "504 5.5.4 Mécanisme d'authentification inconnu / Unrecognized authentication type"
    ),
    "501 5.7.0 Auth aborted": "501 5.7.0 Authentification abandonnée / Auth aborted",
    "501 5.5.2 Can't decode base64": "501 5.5.2 Base64 invalide / Can't decode base64",
}


class SubmissionEnvelope(Envelope):
    """The envelope plus the verdict facts gathered at RCPT."""

    def __init__(self) -> None:
        super().__init__()
        self.recipients: list[str] = []  # lower-cased, accepted, without duplicates


class SubmissionSMTP(GatewaySMTP):
    """The submission protocol: GatewaySMTP plus our AUTH mechanisms (they need the database,
    which aiosmtpd's synchronous ``authenticator`` cannot reach)."""

    def __init__(
        self,
        handler: SubmissionHandler,
        *,
        implicit_tls: bool,
        registry: set[SubmissionSMTP],
        **kwargs: Any,
    ) -> None:
        # On the implicit-TLS port the transport is encrypted before aiosmtpd sees it; aiosmtpd
        # only knows about STARTTLS, hence auth_require_tls=False there.
        super().__init__(
            handler,
            offer_auth=True,
            auth_required=True,
            auth_require_tls=not implicit_tls,
            **kwargs,
        )
        self.submission = handler
        self.implicit_tls = implicit_tls
        self._registry = registry

    def _create_envelope(self) -> Envelope:
        return SubmissionEnvelope()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._registry.add(self)
        super().connection_made(transport)
        if self.implicit_tls and self.session is not None and self.session.ssl is None:
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is not None:
                self.session.ssl = {
                    "ssl_object": ssl_object,
                    "cipher": transport.get_extra_info("cipher"),
                    "peercert": transport.get_extra_info("peercert"),
                }

    def connection_lost(self, error: Exception | None) -> None:
        self._registry.discard(self)
        super().connection_lost(error)

    async def push(self, status: Any) -> None:
        if isinstance(status, bytes):
            status = status.decode("utf-8", "replace")
        await super().push(_AUTH_REPLACED.get(status, status))

    # -- SASL ----------------------------------------------------------------------------------

    async def _initial_response(self, args: list[str]) -> bytes | None:
        """The decoded initial response, asking for it when absent; None when the exchange
        already ended (reply sent)."""
        if len(args) == 1:
            answer = await self.challenge_auth("")
            return None if answer is MISSING else cast(bytes, answer)
        if args[1] == "=":  # RFC 4954: an empty initial response
            return b""
        try:
            return base64.b64decode(args[1], validate=True)
        except (binascii.Error, ValueError):
            await self.push("501 5.5.2 Base64 invalide / Can't decode base64")
            return None

    async def auth_PLAIN(self, _: Any, args: list[str]) -> AuthResult:
        data = await self._initial_response(args)
        if data is None:
            return AuthResult(success=False, handled=True)
        parts = data.split(b"\x00")
        if len(parts) != 3:
            await self.push("501 5.5.2 Réponse PLAIN mal formée / Malformed PLAIN response")
            return AuthResult(success=False, handled=True)
        authzid, user, password = (p.decode("utf-8", "replace") for p in parts)
        acting_for = authzid if authzid and authzid.lower() != user.lower() else None
        return await self._password(user, password, acting_for)

    async def auth_LOGIN(self, _: Any, args: list[str]) -> AuthResult:
        user: bytes | None
        if len(args) == 1:
            asked = await self.challenge_auth("Username:")
            user = None if asked is MISSING else cast(bytes, asked)
        else:
            user = await self._initial_response(args)
        if user is None:
            return AuthResult(success=False, handled=True)
        password = await self.challenge_auth("Password:")
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        return await self._password(
            user.decode("utf-8", "replace"), cast(bytes, password).decode("utf-8", "replace")
        )

    async def auth_XOAUTH2(self, _: Any, args: list[str]) -> AuthResult:
        return await self._bearer("XOAUTH2", args)

    async def auth_OAUTHBEARER(self, _: Any, args: list[str]) -> AuthResult:
        return await self._bearer("OAUTHBEARER", args)

    async def _password(
        self, user: str, password: str, acting_for: str | None = None
    ) -> AuthResult:
        outcome = await mail_auth.password_login(
            self.submission.storage.sessions,
            user,
            password,
            service=SERVICE,
            remote=_peer_ip(self.session),
            acting_for=acting_for,
        )
        if outcome.busy:  # not checked: no delay, no failure counted
            log.info("submission: login from %s refused: too many password checks at once",
                     _peer_ip(self.session))  # fmt: skip
            return _refused(verdicts.AUTH_BUSY)
        if outcome.forbidden:
            log.info("submission: a login from %s may not act for another account",
                     _peer_ip(self.session))  # fmt: skip
            return _refused(verdicts.AUTH_FAILED)
        if outcome.locked:
            log.info("submission: locked account refused from %s", _peer_ip(self.session))
            return _refused(verdicts.AUTH_LOCKED)
        if outcome.login is None:
            await self.submission.sleep(outcome.failure_delay)
            log.info("submission: failed login from %s", _peer_ip(self.session))
            return _refused(verdicts.AUTH_FAILED)
        log.info(
            "submission: account %s logged in from %s",
            outcome.login.account_id,
            _peer_ip(self.session),
        )
        return AuthResult(success=True, auth_data=outcome.login, message=AUTH_SUCCESS)

    async def _bearer(self, mechanism: str, args: list[str]) -> AuthResult:
        data = await self._initial_response(args)
        if data is None:
            return AuthResult(success=False, handled=True)
        try:
            user, token = mail_auth.parse_bearer_response(mechanism, data)
            login = await mail_auth.token_login(
                self.submission.storage.sessions,
                self.submission.signer,
                user,
                token,
                service=SERVICE,
            )
        except (ValueError, TokenError) as exc:
            log.info("submission: %s refused from %s: %s", mechanism, _peer_ip(self.session), exc)
            # RFC 7628 §3.2.2: an error challenge, the client's dummy response, then 535
            error = json.dumps({"status": "invalid_token", "schemes": "bearer"}).encode()
            await self.challenge_auth(error)
            return _refused(verdicts.AUTH_FAILED)
        log.info(
            "submission: account %s logged in with a token from %s",
            login.account_id,
            _peer_ip(self.session),
        )
        return AuthResult(success=True, auth_data=login, message=AUTH_SUCCESS)


class SubmissionHandler:
    """aiosmtpd handler of the submission listeners."""

    def __init__(
        self, storage: Storage, settings: Settings, signer: TokenSigner | None = None
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.signer = signer
        self.sleep = asyncio.sleep  # the delay before answering a failed AUTH (tests shorten it)
        #: Called after each commit that queued mail (the outbound worker's ``wake``).
        self.on_queued: Callable[[], None] | None = None
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    async def handle_EHLO(
        self,
        server: Any,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        last = responses.pop()  # "250 HELP"
        return [*responses, "250-ENHANCEDSTATUSCODES", "250-PIPELINING", last]

    async def handle_MAIL(
        self,
        server: Any,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        login = _login(session)
        if login is None:
            return verdicts.AUTH_REQUIRED.smtp_reply()
        verdict = rules.check_envelope_sender(login.address, address)
        if not verdict.accepted:
            log.info("submission: account %s MAIL FROM <%s> refused", login.account_id, address)
            return verdict.smtp_reply()
        envelope.mail_from = login.address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Expéditeur accepté / Sender OK"

    async def handle_RCPT(
        self,
        server: Any,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        login = _login(session)
        assert isinstance(envelope, SubmissionEnvelope)
        if login is None:
            return verdicts.AUTH_REQUIRED.smtp_reply()
        if len(envelope.recipients) >= self.settings.submission.max_recipients:
            return verdicts.TOO_MANY_RECIPIENTS.smtp_reply()
        mailbox = addresses.parse_mailbox(address)
        if mailbox is None:
            return BAD_RECIPIENT_SYNTAX
        recipient = mailbox.address.lower()
        facts = await self._recipient_facts(login, recipient, mailbox.domain)
        verdict = rules.check_recipient(facts)
        if not verdict.accepted:
            log.info(
                "submission: account %s RCPT <%s> refused=%s",
                login.account_id,
                recipient,
                verdict.key,
            )
            return verdict.smtp_reply()
        if recipient not in envelope.recipients:
            envelope.recipients.append(recipient)
            envelope.rcpt_tos.append(recipient)
            envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Destinataire accepté / Recipient OK"

    async def _recipient_facts(
        self, login: MailLogin, recipient: str, domain: str
    ) -> rules.SubmissionRecipientFacts:
        mssante = self.settings.mssante
        async with self.storage.sessions() as db:
            allowed = await is_domain_allowed(db, domain)
            profession = (
                await db.execute(
                    select(Professional.profession_code).where(Professional.address == recipient)
                )
            ).first()
            conversation: ConversationState | None = None
            if login.kind == "patient":
                rows = (
                    await db.execute(
                        select(Conversation.state, Conversation.last_message_at).where(
                            Conversation.account_id == login.account_id,
                            (Conversation.professional_address == recipient)
                            | (Conversation.reply_to == recipient),
                        )
                    )
                ).all()
                if rows:
                    latest = max(rows, key=lambda r: r.last_message_at)
                    conversation = ConversationState(latest.state)
        return rules.SubmissionRecipientFacts(
            sender_kind=login.kind,
            recipient_is_patient_address=domain == mssante.patient_domain.lower(),
            recipient_domain_allowed=allowed,
            recipient_in_directory=profession is not None,
            conversation=conversation,
            recipient_profession_code=profession[0] if profession is not None else None,
            patient_initiated_professions=mssante.patient_initiated_profession_set,
        )

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        started = time.monotonic()
        login = _login(session)
        assert isinstance(envelope, SubmissionEnvelope)
        if login is None:
            return verdicts.AUTH_REQUIRED.smtp_reply()
        raw = envelope.original_content or b""
        if isinstance(raw, str):  # pragma: no cover - we never decode data
            raw = raw.encode("utf-8", "surrogateescape")
        txid = secrets.token_hex(8)
        reply = await self._data(login, envelope, raw, txid)
        log.info(
            "submission id=%s account=%s rcpt=%s size=%d reply=%r ms=%.1f",
            txid,
            login.account_id,
            ",".join(f"<{r}>" for r in envelope.recipients),
            len(raw),
            reply,
            (time.monotonic() - started) * 1000,
        )
        return reply

    async def _data(
        self, login: MailLogin, envelope: SubmissionEnvelope, raw: bytes, txid: str
    ) -> str:
        if _BARE_LINE_END.search(raw):
            return verdicts.BARE_LINEFEED.smtp_reply()
        size_verdict = inbound.check_size(len(raw), self.settings.mssante.max_message_size)
        if not size_verdict.accepted:
            return size_verdict.smtp_reply()
        if _HEADER_END not in raw and not raw.startswith(b"\r\n"):
            raw = raw + (b"" if raw.endswith(b"\r\n") or not raw else b"\r\n") + b"\r\n"
        try:
            headers = BytesHeaderParser(policy=email_policy.default).parsebytes(raw)
            froms = _addresses(headers, "From")
            senders = _addresses(headers, "Sender")
        except Exception:
            return verdicts.MALFORMED_MESSAGE.smtp_reply()
        if headers.defects and any(
            type(d).__name__ in ("MissingHeaderBodySeparatorDefect",) for d in headers.defects
        ):
            return verdicts.MALFORMED_MESSAGE.smtp_reply()
        verdict = rules.check_header_from(login.address, froms, senders)
        if not verdict.accepted:
            return verdict.smtp_reply()
        message = _completed(raw, headers, self.settings.mssante.hostname, txid)
        try:
            await asyncio.shield(self._start(login, envelope.recipients, message, txid))
        except Exception:
            log.exception("submission: storing id=%s failed", txid)
            return verdicts.TEMPORARY_FAILURE.smtp_reply()
        return f"250 2.0.0 Message accepté pour remise / Message queued for delivery (id={txid})"

    def _start(
        self, login: MailLogin, recipients: list[str], message: bytes, txid: str
    ) -> asyncio.Task[None]:
        """Commit as a task of its own: a client that disconnects does not cut it short, and
        shutdown waits for it."""
        task = asyncio.ensure_future(self._commit(login, list(recipients), message, txid))
        self._in_flight.add(task)
        self._idle.clear()

        def done(t: asyncio.Task[Any]) -> None:
            self._in_flight.discard(t)
            if not self._in_flight:
                self._idle.set()

        task.add_done_callback(done)
        return task

    async def _commit(
        self, login: MailLogin, recipients: list[str], message: bytes, txid: str
    ) -> None:
        """The Sent copy, the queue rows and the audit entries, in one durable transaction."""
        copy = await prepare_copy(self.storage, login.account_id, message)
        outgoing = _without_bcc(message)
        now = datetime.now(UTC)
        try:
            async with transaction(self.storage.sessions) as session:
                stored = await file_message(session, copy, folder="Sent", flags="\\Seen", at=now)
                ids = await enqueue(
                    session,
                    kind="reply",
                    mail_from=login.address,
                    recipients=recipients,
                    raw=outgoing,
                    account_id=login.account_id,
                    at=now,
                )
                await audit.append(
                    session,
                    account_id=login.account_id,
                    actor=login.address,
                    action="message.submitted",
                    detail={
                        "id": txid,
                        "message_id": copy.message_id,
                        "recipients": recipients,
                        "queue_ids": ids,
                        "sent_uid": stored.uid,
                        "size": len(message),
                    },
                    at=now,
                )
        except BaseException:
            await asyncio.shield(asyncio.to_thread(discard_copy, self.storage, copy))
            raise
        if self.on_queued is not None:
            self.on_queued()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait for commits in progress; False if some are still running after ``timeout``."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False


class SubmissionListener:
    """The two submission listeners of one process (STARTTLS and implicit TLS)."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        tls_context: Any,
        signer: TokenSigner | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.tls_context = tls_context
        self.handler = SubmissionHandler(storage, settings, signer)
        self._protocols: set[SubmissionSMTP] = set()
        mail_auth.configure_password_checks(
            settings.mail_login.password_checks, settings.mail_login.password_check_queue
        )
        self._servers: list[asyncio.base_events.Server] = []

    def _protocol(self, implicit_tls: bool) -> SubmissionSMTP:
        with warnings.catch_warnings():
            # aiosmtpd warns about AUTH without its own TLS: here the transport is TLS already.
            warnings.simplefilter("ignore", UserWarning)
            return self._new_protocol(implicit_tls)

    def _new_protocol(self, implicit_tls: bool) -> SubmissionSMTP:
        s = self.settings
        return SubmissionSMTP(
            self.handler,
            implicit_tls=implicit_tls,
            registry=self._protocols,
            hostname=s.mssante.hostname,
            ident="espace-sante ESMTP submission",
            tls_context=None if implicit_tls else self.tls_context,
            require_starttls=not implicit_tls,
            data_size_limit=s.mssante.max_message_size,
            enable_SMTPUTF8=True,
            timeout=s.submission.idle_timeout,
            loop=asyncio.get_running_loop(),
        )

    async def start(self, reuse_port: bool = False) -> None:
        loop = asyncio.get_running_loop()
        sub = self.settings.submission
        self._servers.append(
            await loop.create_server(
                lambda: self._protocol(False),
                host=sub.listen_host,
                port=sub.port,
                reuse_port=reuse_port,
                backlog=256,
            )
        )
        self._servers.append(
            await loop.create_server(
                lambda: self._protocol(True),
                host=sub.listen_host,
                port=sub.tls_port,
                ssl=self.tls_context,
                reuse_port=reuse_port,
                backlog=256,
            )
        )

    @property
    def port(self) -> int:
        return int(self._servers[0].sockets[0].getsockname()[1])

    @property
    def tls_port(self) -> int:
        return int(self._servers[1].sockets[0].getsockname()[1])

    async def stop(self, grace: float = 30.0) -> None:
        """Stop accepting, let commits in progress finish, then close every session with 421."""
        for server in self._servers:
            server.close()
        if not await self.handler.wait_idle(grace):
            log.warning("shutdown: submissions still being stored after %.0fs", grace)
        await asyncio.sleep(0.1)  # let the sessions whose commit just ended send their 250
        for protocol in list(self._protocols):
            transport = cast(asyncio.Transport | None, protocol.transport)
            if transport is not None and not transport.is_closing():
                with contextlib.suppress(Exception):
                    transport.write(
                        "421 4.3.2 Arrêt du service, réessayez plus tard / "
                        "Service shutting down, try again later\r\n".encode()
                    )
                transport.close()
        for server in self._servers:
            await server.wait_closed()


# -- helpers ------------------------------------------------------------------------------------


def _refused(verdict: verdicts.Verdict) -> AuthResult:
    return AuthResult(success=False, handled=False, message=verdict.smtp_reply())


def _login(session: Session) -> MailLogin | None:
    data = getattr(session, "auth_data", None)
    return data if isinstance(data, MailLogin) and session.authenticated else None


def _peer_ip(session: Session | None) -> str:
    peer = session.peer if session is not None else None
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)


def _addresses(headers: Any, name: str) -> list[str]:
    values = headers.get_all(name) or []
    found = []
    for _, addr in getaddresses([str(v) for v in values]):
        found.append(addr.strip())
    if values and not found:
        found.append("")  # a header with no readable address counts, and matches nobody
    return found


def _completed(raw: bytes, headers: Any, hostname: str, txid: str) -> bytes:
    """The message with the trace and the fields an MSA supplies when missing (RFC 6409 §8):
    Date, Message-ID. The Received line names no client IP address: a patient's whereabouts
    are none of the recipient's business."""
    added = [
        f"Received: by {hostname} (espace-sante) with ESMTPSA id {txid};\r\n"
        f"\t{email.utils.formatdate(localtime=False)}\r\n"
    ]
    if headers.get("Date") is None:
        added.append(f"Date: {email.utils.formatdate(localtime=False)}\r\n")
    if headers.get("Message-ID") is None:
        added.append(f"Message-ID: {email.utils.make_msgid(domain=hostname)}\r\n")
    return "".join(added).encode("ascii") + raw


def _without_bcc(raw: bytes) -> bytes:
    """The message without its Bcc header lines (RFC 6409 §8.1: the MSA may remove them; here
    every recipient gets the same copy, so Bcc recipients must not be shown)."""
    end = raw.find(_HEADER_END)
    head, body = (raw, b"") if end < 0 else (raw[: end + 2], raw[end + 2 :])
    kept: list[bytes] = []
    dropping = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line[:4].lower() == b"bcc:"
        if not dropping:
            kept.append(line)
    return b"\r\n".join(kept) + body
