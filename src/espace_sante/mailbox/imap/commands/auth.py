"""Not-authenticated state: STARTTLS, LOGIN and AUTHENTICATE (PLAIN, LOGIN, XOAUTH2,
OAUTHBEARER; SASL-IR), with app passwords or tokens from ``accounts``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import ssl
from collections.abc import Callable

from espace_sante.accounts import mail_auth
from espace_sante.accounts.tokens import TokenError
from espace_sante.mailbox.imap.core import (
    Bad,
    Handler,
    No,
    SessionCore,
    astring,
    no_args,
)
from espace_sante.mailbox.imap.mailstore import (
    AccountMailStore,
)
from espace_sante.mailbox.imap.parser import (
    Atom,
    Command,
    ConnectionDropped,
)

log = logging.getLogger("espace_sante.mailbox.imap.session")


class AuthCommands(SessionCore):
    """STARTTLS and the logins."""

    #: Called once when the session logs in (the listener counts connections not logged in).
    on_login: Callable[[], None] | None = None

    async def cmd_starttls(self, c: Command) -> None:
        no_args(c)
        if self.secure:
            raise Bad("TLS is already active")
        # CVE-2011-0411: whatever the client sent after this line came in clear and must not
        # run inside TLS. Stop reading (what arrives from now on is fed to the TLS layer once
        # the handshake starts) and drop what was already read, as aiosmtpd does for SMTP.
        transport = self.writer.transport
        if isinstance(transport, asyncio.ReadTransport):
            transport.pause_reading()
        discarded = _discard_buffered(self.reader)
        if discarded:
            log.info("imap: %d octets pipelined after STARTTLS from %s discarded",
                     discarded, self.remote)  # fmt: skip
        await self._send(f"{c.tag} OK Begin TLS negotiation now")
        try:
            await self.writer.start_tls(self.tls)
        except (ssl.SSLError, OSError, TimeoutError) as exc:  # no TLS client: end the session
            log.info("imap: TLS handshake with %s failed: %s", self.remote, type(exc).__name__)
            raise ConnectionDropped from exc
        self.secure = True

    async def cmd_login(self, c: Command) -> None:
        self._require_unauthenticated()
        if len(c.args) != 2:
            raise Bad("LOGIN takes a user name and a password")
        user, password = (astring(a) for a in c.args)
        await self._authenticate(c, user, password)

    async def cmd_authenticate(self, c: Command) -> None:
        self._require_unauthenticated()
        if not c.args or not isinstance(c.args[0], Atom) or len(c.args) > 2:
            raise Bad("AUTHENTICATE takes a mechanism and an optional initial response")
        mechanism = c.args[0].upper
        if mechanism not in _MECHANISMS:
            raise No("[CANNOT] unsupported authentication mechanism")
        if len(c.args) == 2:
            response = astring(c.args[1])
        else:
            await self._send("+ VXNlcm5hbWU6" if mechanism == "LOGIN" else "+ ")  # "Username:"
            response = await self._sasl_line()
        decoded = _sasl_decode(response)
        if mechanism == "LOGIN":  # RFC draft-murchison-sasl-login: user, then password
            user = decoded.decode("utf-8", "replace")
            await self._send("+ UGFzc3dvcmQ6")  # "Password:"
            password = _sasl_decode(await self._sasl_line()).decode("utf-8", "replace")
            await self._authenticate(c, user, password)
            return
        if mechanism == "PLAIN":
            parts = decoded.split(b"\x00")
            if len(parts) != 3:
                raise Bad("malformed PLAIN response")
            authzid, user, password = (p.decode("utf-8", "replace") for p in parts)
            acting_for = authzid if authzid and authzid.lower() != user.lower() else None
            await self._authenticate(c, user, password, acting_for)
            return
        user, token = _bearer(mechanism, decoded)
        await self._authenticate_token(c, mechanism, user, token)

    async def _sasl_line(self) -> str:
        line = await asyncio.wait_for(self.reader.readline(), timeout=self.idle_timeout)
        if not line:
            raise ConnectionDropped
        if len(line) > 8192:
            raise Bad("authentication response too long")
        text = line.strip().decode("ascii", "replace")
        if text == "*":
            raise Bad("authentication cancelled")
        return text

    async def _authenticate_token(self, c: Command, mechanism: str, user: str, token: str) -> None:
        """XOAUTH2 / OAUTHBEARER with a token from ``accounts.tokens``."""
        try:
            account = await mail_auth.token_login(
                self.storage.sessions, self.signer, user, token, service="imap"
            )
        except TokenError as exc:
            log.info("imap: %s refused from %s: %s", mechanism, self.remote, exc)
            # RFC 7628 §3.2.2 / XOAUTH2: an error challenge, the client's dummy answer, then NO
            error = json.dumps({"status": "invalid_token", "schemes": "bearer"}).encode()
            await self._send("+ " + base64.b64encode(error).decode("ascii"))
            await self._sasl_line()
            raise No("[AUTHENTICATIONFAILED] invalid token") from exc
        self._logged_in(account)
        log.info("imap: account %s logged in with a token from %s", account.account_id, self.remote)
        await self._send(f"{c.tag} OK [CAPABILITY {self._capabilities()}] logged in")

    def _require_unauthenticated(self) -> None:
        if self.account_id is not None:
            raise Bad("already authenticated")
        if not self.secure:
            raise No("[PRIVACYREQUIRED] use STARTTLS first")

    async def _authenticate(
        self, c: Command, user: str, password: str, acting_for: str | None = None
    ) -> None:
        """Check an app password; with ``acting_for`` (the SASL authorization identity), a
        guardian opens that dependant's mailbox, if the guardianship allows it."""
        outcome = await mail_auth.password_login(
            self.storage.sessions,
            user,
            password,
            service="imap",
            remote=self.remote,
            acting_for=acting_for,
        )
        if outcome.busy:  # not checked: no delay, no failure counted
            log.info("imap: login from %s refused: too many password checks at once", self.remote)
            raise No("[UNAVAILABLE] too many logins at once, try again later")
        if outcome.locked:
            raise No("[AUTHENTICATIONFAILED] too many failed attempts, try again later")
        if outcome.forbidden:
            log.info("imap: a login from %s may not act for another account", self.remote)
            raise No("[AUTHORIZATIONFAILED] not allowed to act for this account")
        account = outcome.login
        if account is None:
            await self.sleep(outcome.failure_delay)
            log.info("imap: failed login from %s", self.remote)
            raise No("[AUTHENTICATIONFAILED] invalid credentials")
        self._logged_in(account)
        log.info("imap: account %s logged in from %s", account.account_id, self.remote)
        await self._send(f"{c.tag} OK [CAPABILITY {self._capabilities()}] logged in")

    def _logged_in(self, account: mail_auth.MailLogin) -> None:
        self.account_id = account.account_id
        self.address = account.address
        self.store = AccountMailStore(self.storage, account.account_id)
        if self.on_login is not None:
            self.on_login()


_MECHANISMS = ("PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER")


def _discard_buffered(reader: asyncio.StreamReader) -> int:
    """Drop what ``reader`` has received but nobody read yet; returns its size. asyncio has no
    public call for it (aiosmtpd clears the same buffer after STARTTLS)."""
    buffer: bytearray = reader._buffer  # type: ignore[attr-defined]
    size = len(buffer)
    buffer.clear()
    return size


def _sasl_decode(response: str) -> bytes:
    try:
        return base64.b64decode(response if response != "=" else "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Bad("invalid base64 in authentication response") from exc


def _bearer(mechanism: str, decoded: bytes) -> tuple[str, str]:
    """(user, token) of an XOAUTH2 or OAUTHBEARER initial response."""
    try:
        return mail_auth.parse_bearer_response(mechanism, decoded)
    except ValueError as exc:
        raise Bad(str(exc)) from exc


HANDLERS: dict[str, Handler[AuthCommands]] = {
    "STARTTLS": AuthCommands.cmd_starttls,
    "LOGIN": AuthCommands.cmd_login,
    "AUTHENTICATE": AuthCommands.cmd_authenticate,
}
