"""aiosmtpd's SMTP protocol, extended to what an MSSanté MX must speak.

aiosmtpd handles the command loop, STARTTLS, SIZE, 8BITMIME and SMTPUTF8. This subclass adds:
- ENHANCEDSTATUSCODES (RFC 2034): every reply after the greeting carries an enhanced code; the
  replies aiosmtpd writes itself get one from the basic code, and its own refusals that our
  policy names (STARTTLS first, size) are replaced by the policy's French/English texts;
- PIPELINING (RFC 2920): aiosmtpd already reads commands one after the other from a buffered
  stream and answers in order, so advertising it is honest;
- the null reverse-path ``MAIL FROM:<>`` that RFC 5321 §4.5.5 requires a server to accept, which
  aiosmtpd refuses as a syntax error;
- a per-transaction envelope that carries the patients found at RCPT time.
"""

from __future__ import annotations

import re
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope

from espace_sante.policy import verdicts

NULL_SENDER = "<>"

# Replies aiosmtpd writes itself that our catalogue words better.
_REPLACED = {
    "530 Must issue a STARTTLS command first": verdicts.STARTTLS_REQUIRED.smtp_reply(),
    "552 Error: message size exceeds fixed maximum message size": (
        verdicts.MESSAGE_TOO_LARGE.smtp_reply()
    ),
    "552 Error: Too much mail data": verdicts.MESSAGE_TOO_LARGE.smtp_reply(),
    "500 Line too long (see RFC5321 4.5.3.1.6)": (
        "500 5.5.2 Ligne trop longue (RFC 5321 §4.5.3.1.6) / Line too long"
    ),
    "500 Command line too long": "500 5.5.2 Commande trop longue / Command line too long",
}

# Default enhanced codes by basic code (RFC 3463), for replies that carry none.
_DEFAULT_ENHANCED = {
    "211": "2.0.0",
    "214": "2.0.0",
    "220": "2.0.0",
    "221": "2.0.0",
    "235": "2.7.0",
    "250": "2.0.0",
    "251": "2.1.5",
    "252": "2.0.0",
    "421": "4.3.0",
    "450": "4.2.0",
    "451": "4.3.0",
    "452": "4.3.1",
    "454": "4.7.0",
    "500": "5.5.2",
    "501": "5.5.4",
    "502": "5.5.1",
    "503": "5.5.1",
    "504": "5.5.4",
    "530": "5.7.0",
    "535": "5.7.8",
    "550": "5.0.0",
    "551": "5.1.6",
    "552": "5.3.4",
    "553": "5.1.3",
    "554": "5.0.0",
    "555": "5.5.4",
}
_HAS_ENHANCED = re.compile(r"^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}( |$)")
_NO_ENHANCED = {"334", "354"}  # intermediate replies carry no enhanced code


class GatewayEnvelope(Envelope):
    """aiosmtpd's envelope plus what the gateway learnt during the transaction."""

    def __init__(self) -> None:
        super().__init__()
        self.recipients: list[Any] = []  # accounts.patients.PatientRecord, one per accepted RCPT
        self.sender_facts: Any = None


class GatewaySMTP(SMTP):
    """The SMTP protocol of our listeners."""

    def __init__(self, handler: Any, *, offer_auth: bool = False, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._offer_auth = offer_auth
        self._greeted = False
        self._in_ehlo = False

    def _create_envelope(self) -> Envelope:
        return GatewayEnvelope()

    async def push(self, status: Any) -> None:
        if isinstance(status, bytes):
            status = status.decode("utf-8", "replace")
        await super().push(self._with_enhanced_code(status))

    def _with_enhanced_code(self, status: str) -> str:
        if not self._greeted:  # the 220 greeting carries no enhanced code (RFC 2034)
            self._greeted = True
            return status
        if self._in_ehlo:  # nor do the replies to HELO and EHLO
            return status
        status = _REPLACED.get(status, status)
        basic = status[:3]
        if basic in _NO_ENHANCED or not basic.isdigit() or _HAS_ENHANCED.match(status):
            return status
        if len(status) > 3 and status[3] == "-":  # EHLO continuation lines
            return status
        enhanced = _DEFAULT_ENHANCED.get(basic, f"{basic[0]}.0.0")
        rest = status[4:] if len(status) > 4 else ""
        return f"{basic} {enhanced} {rest}".rstrip()

    async def smtp_EHLO(self, hostname: str) -> None:
        self._in_ehlo = True
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self._in_ehlo = False

    async def smtp_HELO(self, hostname: str) -> None:
        self._in_ehlo = True
        try:
            await super().smtp_HELO(hostname)
        finally:
            self._in_ehlo = False

    async def smtp_AUTH(self, arg: str) -> None:
        if not self._offer_auth:
            await self.push("502 5.5.1 AUTH non proposé sur ce port / AUTH not available here")
            return
        await super().smtp_AUTH(arg)

    async def smtp_MAIL(self, arg: str | None) -> None:
        if arg is not None and _is_null_reverse_path(arg):
            await self._mail_null_sender(arg)
            return
        await super().smtp_MAIL(arg)

    async def _mail_null_sender(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        assert self.envelope is not None and self.session is not None
        if self.envelope.mail_from:
            await self.push("503 5.5.1 Commande MAIL imbriquée / Error: nested MAIL command")
            return
        params_text = arg.split(">", 1)[1]
        mail_options = params_text.upper().split()
        params = self._getparams(mail_options)
        if params is None:
            await self.push("501 5.5.4 Syntaxe : MAIL FROM:<adresse> / Syntax: MAIL FROM:<address>")
            return
        params.pop("BODY", None)
        params.pop("SMTPUTF8", None)
        size = params.pop("SIZE", None)
        if size is not None and (isinstance(size, bool) or not size.isdigit()):
            await self.push("501 5.5.4 Paramètre SIZE invalide / Invalid SIZE parameter")
            return
        if size and self.data_size_limit and int(size) > self.data_size_limit:
            await self.push(verdicts.MESSAGE_TOO_LARGE.smtp_reply())
            return
        if params:
            await self.push(
                "555 5.5.4 Paramètres MAIL FROM non reconnus / MAIL FROM parameters not recognized"
            )
            return
        status = await self._call_handler_hook("MAIL", NULL_SENDER, mail_options)
        if isinstance(status, str) and status.startswith("250"):
            self.envelope.mail_from = NULL_SENDER
            self.envelope.mail_options.extend(mail_options)
        await self.push(status)


def _is_null_reverse_path(arg: str) -> bool:
    text = arg.strip()
    if text[:5].upper() != "FROM:":
        return False
    return text[5:].lstrip().startswith("<>")
