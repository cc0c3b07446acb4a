"""One delivery attempt over SMTP (RFC 5321, client side): STARTTLS required (RFC 3207), the
peer's certificate verified against the trust-space CA and its name, our client certificate
presented. Tries the targets in order until one gives a definite answer."""

from __future__ import annotations

import logging
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib

from espace_sante.config import Settings
from espace_sante.mta.outbound.routing import Target
from espace_sante.mta.tls import DevPki

log = logging.getLogger("espace_sante.outbound")

_ENHANCED = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


@dataclass(frozen=True)
class AttemptResult:
    """``outcome``: delivered | temporary | permanent."""

    outcome: str
    code: str  # "250", "451 4.4.1", "550 5.1.1"…
    enhanced: str  # RFC 3463 status for a DSN
    text: str
    host: str | None


def client_tls_context(settings: Settings) -> ssl.SSLContext:
    """Verify peers against the trust-space CA (the development CA by default) and present our
    certificate (the development server certificate, which allows clientAuth, by default)."""
    out = settings.outbound
    pki = DevPki(settings.pki_dir)
    ca = out.trust_ca_file or settings.smtp.trust_ca_file or str(pki.ca_cert)
    if out.client_cert_file:
        cert, key = out.client_cert_file, out.client_key_file
    elif settings.smtp.cert_file:
        cert, key = settings.smtp.cert_file, settings.smtp.key_file
    else:
        cert, key = str(pki.server_cert), str(pki.server_key)
    if not Path(ca).is_file():
        raise FileNotFoundError(
            f"no trust-space CA at {ca}: set outbound.trust_ca_file, or run `espace-sante init` "
            "for the development CA"
        )
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(cert, key)
    return ctx


async def attempt(
    targets: list[Target],
    *,
    mail_from: str,
    rcpt_to: str,
    raw: bytes,
    tls: ssl.SSLContext,
    helo: str,
    timeout: float,
) -> AttemptResult:
    """Try each target in turn; stop at the first 2xx or 5xx answer."""
    last = AttemptResult("temporary", "", "4.4.1", "no target to try", None)
    for target in targets:
        result = await _one_target(
            target,
            mail_from=mail_from,
            rcpt_to=rcpt_to,
            raw=raw,
            tls=tls,
            helo=helo,
            timeout=timeout,
        )
        log.info(
            "outbound to=<%s> host=%s:%d outcome=%s code=%s text=%r",
            rcpt_to,
            target.host,
            target.port,
            result.outcome,
            result.code,
            result.text[:200],
        )
        if result.outcome != "temporary":
            return result
        last = result
    return last


async def _one_target(
    target: Target,
    *,
    mail_from: str,
    rcpt_to: str,
    raw: bytes,
    tls: ssl.SSLContext,
    helo: str,
    timeout: float,
) -> AttemptResult:
    client = aiosmtplib.SMTP(
        hostname=target.host,
        port=target.port,
        local_hostname=helo,
        start_tls=False,
        tls_context=tls,
        timeout=timeout,
    )
    host = target.host
    try:
        await client.connect()
        await client.ehlo()
        if not client.supports_extension("starttls"):
            return AttemptResult(
                "temporary", "", "4.7.4", "STARTTLS not offered (TLS is required)", host
            )
        await client.starttls(tls_context=tls)
        await client.ehlo()
        errors, response = await client.sendmail(mail_from, [rcpt_to], raw)
        if errors:  # single recipient: sendmail raises instead; kept for completeness
            code, text = next(iter(errors.values()))
            return _from_reply(code, text, host)
        return AttemptResult("delivered", "250", "2.0.0", response, host)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients[0]
        return _from_reply(refused.code, refused.message, host)
    except aiosmtplib.SMTPResponseException as exc:
        return _from_reply(exc.code, exc.message, host)
    except ssl.SSLError as exc:
        return AttemptResult("temporary", "", "4.7.5", f"TLS failure: {exc}", host)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return AttemptResult("temporary", "", "4.4.1", f"connection failed: {exc}", host)
    finally:
        try:
            if client.is_connected:
                await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()


def _from_reply(code: int, text: str, host: str) -> AttemptResult:
    match = _ENHANCED.match(text or "")
    enhanced = match.group(1) if match else f"{str(code)[0]}.0.0"
    label = f"{code} {enhanced}" if match else str(code)
    if 200 <= code < 300:
        return AttemptResult("delivered", label, enhanced, text, host)
    if 500 <= code < 600:
        return AttemptResult("permanent", label, enhanced, f"{code} {text}", host)
    if code == -1 or not 400 <= code < 500:  # aiosmtplib uses -1 for "no reply"
        return AttemptResult("temporary", label, "4.4.2", f"{code} {text}", host)
    return AttemptResult("temporary", label, enhanced, f"{code} {text}", host)
