"""MAIL FROM: the sender must belong to the MSSanté trust space (RFC 5321 §4.1.1.2)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl

import pytest

from espace_sante.mta.server import InboundListener
from espace_sante.policy import verdicts
from fixtures.mssante import clinician_message
from fixtures.smtp_client import send
from fixtures.store_queries import counts

from .conftest import DOCTOR, UNLISTED_DOCTOR, Seeded


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("someone@gmail.com", verdicts.SENDER_DOMAIN_NOT_TRUSTED),
        ("dr.x@medecin.mssante.fr.evil.example", verdicts.SENDER_DOMAIN_NOT_TRUSTED),
        (UNLISTED_DOCTOR, verdicts.SENDER_NOT_IN_DIRECTORY),
        ("2800175123456XX@patient.mssante.fr", verdicts.SENDER_NOT_PROFESSIONAL),
    ],
)
async def test_sender_outside_the_trust_space_is_refused(
    gateway: InboundListener,
    client_tls: ssl.SSLContext,
    seeded: Seeded,
    storage,
    sender: str,
    expected: verdicts.Verdict,
) -> None:
    message = clinician_message(sender=sender, patient_ins=seeded.active.ins)
    t = await send(gateway.port, client_tls, sender, [seeded.active.address], message)
    assert t.mail is not None
    assert t.mail[0] == expected.code
    assert t.mail[1].decode().startswith(expected.enhanced), t.mail
    assert (await counts(storage))["messages"] == 0


async def test_known_professional_is_accepted_case_insensitively(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded
) -> None:
    message = clinician_message(sender=DOCTOR, patient_ins=seeded.active.ins, with_xdm=False)
    t = await send(gateway.port, client_tls, DOCTOR.upper(), [seeded.active.address], message)
    assert t.mail is not None and t.mail[0] == 250
    assert t.accepted


@pytest.mark.parametrize(
    "command",
    [
        "MAIL FROM:<not an address>",
        "MAIL FROM:<@medecin.mssante.fr>",
        "MAIL FROM:<dr@>",
        "MAIL FROM:dr.dupont",
        "MAIL FROM:<dr.dupont@medecin.mssante.fr> SIZE=abc",
        "MAIL FROM:<dr.dupont@medecin.mssante.fr> FOO=BAR",
        "MAIL FROM:<dr.dupont@medecin.mssante.fr> BODY=BINARYMIME",
    ],
)
async def test_malformed_mail_from_gets_a_5xx_with_enhanced_code(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, command: str
) -> None:
    def run() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", gateway.port, timeout=10) as c:
            c.ehlo("client.example")
            c.starttls(context=client_tls)
            c.ehlo("client.example")
            return c.docmd(command)

    code, text = await asyncio.to_thread(run)
    assert 500 <= code < 600, (code, text)
    assert text[:2] == b"5.", text


async def test_size_announced_over_the_limit_is_refused_at_mail(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded
) -> None:
    message = clinician_message(patient_ins=seeded.active.ins, with_xdm=False)
    t = await send(
        gateway.port,
        client_tls,
        DOCTOR,
        [seeded.active.address],
        message,
        mail_options=("SIZE=26214401",),
    )
    assert t.mail is not None and t.mail[0] == 552
    assert t.mail[1].startswith(b"5.3.4")


async def test_null_sender_is_accepted_at_mail_but_needs_a_report(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage
) -> None:
    """RFC 5321 §4.5.5 requires accepting <>; only delivery reports may use it here."""

    def run() -> list[tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", gateway.port, timeout=10) as c:
            c.ehlo("client.example")
            c.starttls(context=client_tls)
            c.ehlo("client.example")
            replies = [c.docmd("MAIL FROM:<>"), c.docmd(f"RCPT TO:<{seeded.active.address}>")]
            replies.append(c.data(clinician_message(patient_ins=seeded.active.ins, with_xdm=False)))
            return replies

    mail, rcpt, data = await asyncio.to_thread(run)
    assert mail[0] == 250
    assert rcpt[0] == 250
    assert data[0] == verdicts.NULL_SENDER_REFUSED.code
    assert (await counts(storage))["messages"] == 0
