"""EHLO, STARTTLS and TLS requirements of the inbound MX (RFC 5321, 3207, 2034, 2920)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl

import pytest

from espace_sante.mta.server import InboundListener
from espace_sante.mta.tls import DevPki
from fixtures.mssante import clinician_message
from fixtures.smtp_client import send
from fixtures.store_queries import inbox, read_blob

from .conftest import DOCTOR, Seeded

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _ehlo(port: int, tls: ssl.SSLContext | None) -> tuple[list[str], list[str]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        code, before = c.ehlo("client.example")
        assert code == 250
        after = b""
        if tls is not None:
            c.starttls(context=tls)
            code, after = c.ehlo("client.example")
            assert code == 250
        return before.decode().splitlines(), after.decode().splitlines()


async def test_ehlo_before_tls_offers_starttls_and_no_enhanced_codes(
    gateway: InboundListener, client_tls: ssl.SSLContext
) -> None:
    before, after = await asyncio.to_thread(_ehlo, gateway.port, client_tls)
    assert "STARTTLS" in before
    assert "STARTTLS" not in after
    for keyword in ("SIZE 26214400", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "PIPELINING"):
        assert keyword in after, after
    # RFC 2034: no enhanced status code in the EHLO reply itself.
    assert not any(line[:2] in ("2.", "4.", "5.") for line in after)


async def test_mail_before_starttls_is_refused_with_530_5_7_0(gateway: InboundListener) -> None:
    def run() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", gateway.port, timeout=10) as c:
            c.ehlo("client.example")
            return c.mail(DOCTOR)

    code, text = await asyncio.to_thread(run)
    assert code == 530
    assert text.startswith(b"5.7.0"), text


async def test_tls_1_1_is_refused(gateway: InboundListener, pki: DevPki) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(pki.ca_cert))
    ctx.minimum_version = ssl.TLSVersion.TLSv1  # the deprecated versions are the point
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1

    def run() -> None:
        with smtplib.SMTP("127.0.0.1", gateway.port, timeout=10) as c:
            c.ehlo("client.example")
            c.starttls(context=ctx)

    with pytest.raises((ssl.SSLError, smtplib.SMTPServerDisconnected, ConnectionError)):
        await asyncio.to_thread(run)


async def test_replies_after_tls_carry_enhanced_codes(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded
) -> None:
    def run() -> list[tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", gateway.port, timeout=10) as c:
            c.ehlo("client.example")
            c.starttls(context=client_tls)
            c.ehlo("client.example")
            return [
                c.noop(),
                c.rset(),
                c.docmd("VRFY", "x"),
                c.docmd("BOGUS"),
                c.docmd("RCPT TO:<a@b.c>"),
            ]

    for code, text in await asyncio.to_thread(run):
        assert text[:1] in (b"2", b"4", b"5") and text[1:2] == b".", (code, text)


async def test_pipelined_transaction_gets_ordered_replies(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded
) -> None:
    """RFC 2920: MAIL, RCPT, RCPT and DATA sent in one write get their replies in order."""
    message = clinician_message(patient_ins=seeded.active.ins, with_xdm=False, with_pdf=False)

    def run() -> list[bytes]:
        with smtplib.SMTP("127.0.0.1", gateway.port, timeout=10) as c:
            c.ehlo("client.example")
            c.starttls(context=client_tls)
            c.ehlo("client.example")
            assert c.sock is not None
            c.sock.sendall(
                f"MAIL FROM:<{DOCTOR}>\r\nRCPT TO:<{seeded.active.address}>\r\n"
                "RCPT TO:<000000000000000@patient.mssante.fr>\r\nDATA\r\n".encode()
            )
            replies = [c.getreply() for _ in range(4)]
            c.sock.sendall(message.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
            replies.append(c.getreply())
            return [f"{code} ".encode() + text for code, text in replies]

    replies = await asyncio.to_thread(run)
    assert replies[0].startswith(b"250 2.1.0")
    assert replies[1].startswith(b"250 2.1.5")
    assert replies[2][:3] in (b"550", b"553")
    assert replies[3].startswith(b"354")
    assert replies[4].startswith(b"250 2.0.0")


async def test_client_certificate_required_when_trust_ca_configured(
    strict_settings, storage, seeded: Seeded, client_tls: ssl.SSLContext, pki: DevPki
) -> None:
    listener = InboundListener(strict_settings, storage)
    await listener.start()
    try:
        no_cert = ssl.create_default_context(cafile=str(pki.ca_cert))
        message = clinician_message(patient_ins=seeded.active.ins, with_xdm=False)
        t = await send(listener.port, no_cert, DOCTOR, [seeded.active.address], message)
        assert t.mail is not None and t.mail[0] == 530 and t.mail[1].startswith(b"5.7.0")
        t = await send(listener.port, client_tls, DOCTOR, [seeded.active.address], message)
        assert t.accepted, t
        [stored] = await inbox(storage, seeded.active.account_id)
        raw = await read_blob(storage, seeded.active.account_id, stored.blob_id)
        assert b"x-tls-client-cert=pass" in raw[: raw.index(message)]
    finally:
        await listener.stop(grace=5)


async def test_client_certificate_from_another_ca_fails_the_handshake(
    strict_settings, storage, seeded: Seeded, pki: DevPki, tmp_path
) -> None:
    from espace_sante.mta.tls import ensure_dev_pki

    rogue, _ = ensure_dev_pki(tmp_path / "rogue", ["rogue.example"])
    listener = InboundListener(strict_settings, storage)
    await listener.start()
    try:
        ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
        ctx.load_cert_chain(str(rogue.client_cert), str(rogue.client_key))
        message = clinician_message(patient_ins=seeded.active.ins, with_xdm=False)
        try:
            t = await send(listener.port, ctx, DOCTOR, [seeded.active.address], message)
        except (ssl.SSLError, smtplib.SMTPException, ConnectionError):
            pass  # refused in the handshake (TLS 1.3: at the first read after it)
        else:
            assert t.mail is None or t.mail[0] != 250, t
    finally:
        await listener.stop(grace=5)


async def test_mx_offers_no_auth_and_refuses_it(
    gateway: InboundListener, client_tls: ssl.SSLContext
) -> None:
    def run() -> tuple[str, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", gateway.port, timeout=10) as c:
            c.ehlo("client.example")
            c.starttls(context=client_tls)
            _, ehlo = c.ehlo("client.example")
            return ehlo.decode(), c.docmd("AUTH", "PLAIN AGZvbwBiYXI=")

    ehlo, (code, text) = await asyncio.to_thread(run)
    assert "AUTH" not in ehlo
    assert code == 502 and text.startswith(b"5.5.1")
