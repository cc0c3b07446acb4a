"""RCPT TO: every refusal a clinician's operator can get, each with its own code."""

from __future__ import annotations

import ssl

import pytest

from espace_sante.mta.server import InboundListener
from espace_sante.policy import verdicts
from fixtures.mssante import clinician_message, valid_nir
from fixtures.smtp_client import send
from fixtures.store_queries import counts

from .conftest import DOCTOR, Seeded


def _bad_key(matricule: str) -> str:
    key = (int(matricule[-2:]) + 1) % 97
    return f"{matricule[:13]}{key:02d}"


@pytest.mark.parametrize(
    ("recipient_of", "expected"),
    [
        (lambda s: f"{valid_nir('1991299999999')}@patient.mssante.fr", verdicts.UNKNOWN_PATIENT),
        (lambda s: f"{_bad_key(s.active.ins)}@patient.mssante.fr", verdicts.BAD_INS_KEY),
        (lambda s: "12345@patient.mssante.fr", verdicts.MALFORMED_ADDRESS),
        (lambda s: f"{s.active.ins}@autre-domaine.fr", verdicts.NOT_PATIENT_DOMAIN),
        (lambda s: s.closed.address, verdicts.SPACE_CLOSED),
        (lambda s: s.opposed.address, verdicts.SPACE_OPPOSED),
    ],
    ids=["unknown", "bad-key", "malformed", "other-domain", "closed", "opposed"],
)
async def test_recipient_refusals(
    gateway: InboundListener,
    client_tls: ssl.SSLContext,
    seeded: Seeded,
    storage,
    recipient_of,
    expected: verdicts.Verdict,
) -> None:
    recipient = recipient_of(seeded)
    message = clinician_message(patient_ins=seeded.active.ins)
    t = await send(gateway.port, client_tls, DOCTOR, [recipient], message)
    assert t.rcpts[0][0] == expected.code, t.rcpts
    assert t.rcpts[0][1].decode().startswith(expected.enhanced), t.rcpts
    assert t.data is None
    assert (await counts(storage))["messages"] == 0


async def test_refusal_texts_are_french_and_english(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded
) -> None:
    message = clinician_message(patient_ins=seeded.active.ins)
    t = await send(gateway.port, client_tls, DOCTOR, [seeded.closed.address], message)
    text = t.rcpts[0][1].decode()
    assert verdicts.SPACE_CLOSED.reason_fr in text and verdicts.SPACE_CLOSED.reason_en in text


async def test_one_refused_recipient_does_not_stop_the_others(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage
) -> None:
    message = clinician_message(patient_ins=seeded.active.ins, with_xdm=False)
    t = await send(
        gateway.port, client_tls, DOCTOR, [seeded.closed.address, seeded.active.address], message
    )
    assert [code for code, _ in t.rcpts] == [verdicts.SPACE_CLOSED.code, 250]
    assert t.accepted
    assert (await counts(storage))["messages"] == 1


async def test_recipient_address_is_case_insensitive(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded
) -> None:
    message = clinician_message(patient_ins=seeded.active.ins, with_xdm=False)
    address = f"{seeded.active.ins.lower()}@PATIENT.MSSANTE.FR"
    t = await send(gateway.port, client_tls, DOCTOR, [address], message)
    assert t.accepted, t


async def test_too_many_recipients(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded
) -> None:
    limit = gateway.settings.smtp.max_recipients
    message = clinician_message(patient_ins=seeded.active.ins, with_xdm=False)
    t = await send(gateway.port, client_tls, DOCTOR, [seeded.active.address] * (limit + 1), message)
    assert t.rcpts[-1][0] == verdicts.TOO_MANY_RECIPIENTS.code
    assert all(code == 250 for code, _ in t.rcpts[:-1])
