"""The mail pages in a tiny Starlette app, against a real IMAP server over TLS whose mailbox the
gateway's delivery code filled, and a recording SMTP submission stand-in (aiosmtpd, implicit TLS,
AUTH XOAUTH2 checked with our token signer).

The stand-in plays the submission server until the real one (``mta``) is merged; it records the
envelope, the message and the token's claims, and can be told to refuse recipients the way the
real one does (``550 5.7.1 Français / English``).
"""

from __future__ import annotations

import base64
import email
import email.policy
import shutil
import socket
import ssl
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, fields, make_dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, Session
from jinja2 import FileSystemLoader
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from espace_sante.accounts.tokens import TokenClaims, TokenError, TokenSigner
from espace_sante.config import Settings
from espace_sante.mailbox.imap.server import ImapListener
from espace_sante.mta.delivery import Delivering
from espace_sante.mta.tls import DevPki
from espace_sante.storage.runtime import Storage
from fixtures.seed import CARDIO, DOCTOR, PHARMACY, Seeded

try:
    from espace_sante.web.auth import WebAccount  # the shell's, once merged
except ImportError:  # pragma: no cover - until the web shell lands

    @dataclass(frozen=True)
    class WebAccount:  # type: ignore[no-redef]
        account_id: int
        address: str
        display_name: str


TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parents[2] / "src" / "espace_sante" / "webmail" / "static"
CSRF = "jeton-csrf-de-test"
#: The "unread" badge that may precede a subject in a message list.
UNREAD = r'(?:<span class="mail-badge">Non lu</span> )?'
SECRETARIAT = "secretariat@medecin.mssante.fr"


def message(
    *,
    sender: str = DOCTOR,
    name: str = "Dr Jean Dupont",
    to: str,
    subject: str,
    text: str = "Bonjour,\n\nVoici le compte rendu.\n\nDr Dupont\n",
    html: str | None = None,
    closing: bool = False,
    reply_to: str | None = None,
    pdf: bool = False,
    date: datetime | None = None,
) -> bytes:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    if reply_to:
        msg["Reply-To"] = reply_to
    if closing:
        msg["X-MSS-MES"] = "FIN"
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    if pdf:
        msg.add_attachment(
            b"%PDF-1.4\n% test\n", maintype="application", subtype="pdf",
            filename="compte-rendu-écho.pdf",
        )  # fmt: skip
    return msg.as_bytes()


async def deliver(storage: Storage, seeded: Seeded, raw: bytes, patient: str = "active") -> None:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    _, sender = email.utils.parseaddr(str(parsed["From"]))
    await Delivering(storage).deliver(
        raw=raw,
        parsed=parsed,
        envelope_sender=sender,
        recipients=[getattr(seeded, patient)],
        received_at=datetime.now(UTC),
    )


@dataclass
class Filled:
    """What the mailbox of the ``active`` patient holds (oldest first)."""

    subjects: list[str]


@pytest.fixture
async def filled(storage: Storage, seeded: Seeded) -> Filled:
    to = seeded.active.address
    start = datetime.now(UTC) - timedelta(days=3)
    specs: list[dict[str, Any]] = [
        {"subject": "Compte rendu de consultation", "pdf": True},
        {"subject": "Ordonnance du 20 novembre"},
        {"subject": "Résultats d'analyses sanguines", "text": "Vos résultats sont normaux.\n"},
        {"subject": "Rendez-vous de contrôle", "reply_to": SECRETARIAT},
        {"sender": CARDIO, "name": "Dr Claire Martin", "subject": "Bilan cardiologique"},
        {"sender": CARDIO, "name": "Dr Claire Martin", "subject": "Fin du suivi",
         "closing": True},
    ]  # fmt: skip
    for i, spec in enumerate(specs):
        raw = message(to=to, date=start + timedelta(hours=i), **spec)
        await deliver(storage, seeded, raw)
    # another patient's mail, which must never show up
    await deliver(
        storage,
        seeded,
        message(to=seeded.other.address, subject="Secret d'un autre patient"),
        patient="other",
    )
    return Filled([s["subject"] for s in specs])


@pytest.fixture
async def imap(settings: Settings, storage: Storage, pki: DevPki) -> AsyncIterator[ImapListener]:
    listener_settings = replace(settings, imap=replace(settings.imap, port=0, tls_port=0))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    listener = ImapListener(listener_settings, storage, tls)
    await listener.start()
    try:
        yield listener
    finally:
        await listener.stop()


# -- the submission stand-in ----------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    claims: TokenClaims | None
    mechanism: str


@dataclass
class Recorder:
    signer: TokenSigner
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)  # (mechanism, outcome)
    refuse_rcpt: str = ""  # a full reply line, e.g. "550 5.7.1 … / …"

    async def auth_XOAUTH2(self, server: SMTPServer, args: list[str]) -> AuthResult:  # noqa: N802
        if len(args) != 2:
            self.logins.append(("XOAUTH2", "no initial response"))
            return AuthResult(success=False, handled=False)
        fields_ = base64.b64decode(args[1]).decode().split("\x01")
        user = fields_[0].removeprefix("user=")
        token = next((f.removeprefix("auth=Bearer ") for f in fields_ if f.startswith("auth=")), "")
        try:
            claims = self.signer.verify(token, "submission")
        except TokenError as exc:
            self.logins.append(("XOAUTH2", f"refused: {exc}"))
            return AuthResult(success=False, handled=False)
        if claims.address != user.lower():
            self.logins.append(("XOAUTH2", "user mismatch"))
            return AuthResult(success=False, handled=False)
        self.logins.append(("XOAUTH2", "ok"))
        return AuthResult(success=True, auth_data=claims)

    async def handle_RCPT(  # noqa: N802
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTPServer, session: Session, envelope: Envelope
    ) -> str:
        assert session.authenticated
        assert server.transport is not None
        assert server.transport.get_extra_info("sslcontext") is not None  # TLS all along
        parsed = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        assert isinstance(parsed, EmailMessage)
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed,
                     session.auth_data, "XOAUTH2")
        )  # fmt: skip
        return "250 2.0.0 Message accepté / Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def submission(settings: Settings, pki: DevPki) -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder(TokenSigner.from_settings(settings))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    port = _free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        ssl_context=tls,
        auth_required=True,
        # aiosmtpd only counts STARTTLS as TLS; here the whole session is TLS (implicit), which
        # handle_DATA checks on the transport
        auth_require_tls=False,
        server_hostname="submission.espace-sante.localhost",
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
        controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


# -- the app --------------------------------------------------------------------------------------


class FakeShell:
    """What the web shell does before our routes: the account and the CSRF token."""

    def __init__(self, app: ASGIApp, account: WebAccount) -> None:
        self.app = app
        self.account = account

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            state = scope.setdefault("state", {})
            state["account"] = self.account
            state["csrf_token"] = CSRF
        await self.app(scope, receive, send)


def settings_with_submission(settings: Settings, port: int) -> Settings:
    """``settings`` pointing at the stand-in; works before and after ``[submission]`` exists."""
    if any(f.name == "submission" for f in fields(settings)):
        current = settings.submission  # type: ignore[attr-defined]
        return replace(
            settings, submission=replace(current, listen_host="127.0.0.1", tls_port=port)
        )  # type: ignore[call-arg]
    section = make_dataclass(
        "SubmissionSettings", [("listen_host", str), ("tls_port", int)], frozen=True
    )
    with_section = make_dataclass(
        "SettingsWithSubmission", [("submission", Any, None)], bases=(Settings,), frozen=True
    )
    values = {f.name: getattr(settings, f.name) for f in fields(settings)}
    return with_section(**values, submission=section("127.0.0.1", port))  # type: ignore[no-any-return]


@dataclass
class Web:
    client: httpx.AsyncClient
    app: Starlette
    settings: Settings
    account: WebAccount
    recorder: Recorder


def make_app(settings: Settings, storage: Storage, account: WebAccount) -> Starlette:
    from espace_sante.webmail.mail.routes import routes

    app = Starlette(
        routes=[
            Mount("/mail", routes=routes),
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        ]
    )
    app.state.settings = settings
    app.state.storage = storage
    app.state.mail_template_loader = FileSystemLoader(TEMPLATES)
    return FakeShell(app, account)  # type: ignore[return-value]


@pytest.fixture
async def web(
    settings: Settings,
    storage: Storage,
    seeded: Seeded,
    filled: Filled,
    imap: ImapListener,
    submission: tuple[Recorder, int],
    pki: DevPki,
) -> AsyncIterator[Web]:
    settings.pki_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(pki.ca_cert, settings.pki_dir / "ca.crt")  # as `espace-sante init` leaves it
    recorder, port = submission
    app_settings = replace(settings, imap=replace(settings.imap, tls_port=imap.tls_port))
    app_settings = settings_with_submission(app_settings, port)
    account = WebAccount(seeded.active.account_id, seeded.active.address, "Marie Legrand")
    shell = make_app(app_settings, storage, account)
    inner: Starlette = shell.app  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=shell)
    async with httpx.AsyncClient(transport=transport, base_url="http://webmail.test") as client:
        yield Web(client, inner, app_settings, account, recorder)


__all__ = [
    "CARDIO",
    "CSRF",
    "DOCTOR",
    "PHARMACY",
    "SECRETARIAT",
    "Filled",
    "Web",
    "deliver",
    "message",
]


@pytest.fixture
def backend() -> str:
    """The mail pages run on SQLite: they read through our IMAP server, whose store is tested on
    both databases under tests/imap and tests/smtp."""
    return "sqlite"
