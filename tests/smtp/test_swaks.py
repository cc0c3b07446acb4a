"""The gateway as seen by Debian's swaks: the accept, each refusal, and the [FIN] flow."""

from __future__ import annotations

from pathlib import Path

import pytest

from espace_sante.mta.server import InboundListener
from espace_sante.mta.tls import DevPki
from espace_sante.policy import verdicts
from espace_sante.storage.runtime import Storage
from fixtures.mssante import clinician_message, valid_nir
from fixtures.smtp_client import swaks
from fixtures.store_queries import conversation, documents, inbox

from .conftest import DOCTOR, UNLISTED_DOCTOR, Seeded

pytestmark = pytest.mark.peer


def _tls_args(pki: DevPki) -> list[str]:
    return [
        "--tls",
        "--tls-verify",
        "--tls-ca-path",
        str(pki.ca_cert),
        "--tls-cert",
        str(pki.client_cert),
        "--tls-key",
        str(pki.client_key),
    ]


def _message_file(tmp_path: Path, message: bytes) -> str:
    path = tmp_path / "message.eml"
    path.write_bytes(message)
    return f"@{path}"


async def test_swaks_delivers_a_clinician_message(
    gateway: InboundListener, pki: DevPki, seeded: Seeded, storage: Storage, tmp_path: Path
) -> None:
    message = clinician_message(patient_ins=seeded.active.ins, with_xdm=True, with_pdf=True)
    result = await swaks(
        gateway.port,
        *_tls_args(pki),
        "--from",
        DOCTOR,
        "--to",
        seeded.active.address,
        "--data",
        _message_file(tmp_path, message),
    )
    assert result.returncode == 0, result.output
    assert "<~  250 2.0.0" in result.output
    assert len(await inbox(storage, seeded.active.account_id)) == 1
    assert len(await documents(storage, seeded.active.account_id)) >= 1


@pytest.mark.parametrize(
    ("sender", "recipient_of", "expected", "exit_code"),
    [
        ("x@gmail.com", lambda s: s.active.address, verdicts.SENDER_DOMAIN_NOT_TRUSTED, 23),
        (UNLISTED_DOCTOR, lambda s: s.active.address, verdicts.SENDER_NOT_IN_DIRECTORY, 23),
        (
            DOCTOR,
            lambda s: f"{valid_nir('1991299999999')}@patient.mssante.fr",
            verdicts.UNKNOWN_PATIENT,
            24,
        ),
        (DOCTOR, lambda s: f"{s.active.ins[:13]}00@patient.mssante.fr", verdicts.BAD_INS_KEY, 24),
        (DOCTOR, lambda s: s.closed.address, verdicts.SPACE_CLOSED, 24),
        (DOCTOR, lambda s: s.opposed.address, verdicts.SPACE_OPPOSED, 24),
        (DOCTOR, lambda s: "someone@elsewhere.example", verdicts.NOT_PATIENT_DOMAIN, 24),
    ],
    ids=[
        "untrusted-domain",
        "not-in-directory",
        "unknown-patient",
        "bad-key",
        "closed",
        "opposed",
        "relay",
    ],
)
async def test_swaks_sees_each_refusal(
    gateway: InboundListener,
    pki: DevPki,
    seeded: Seeded,
    storage: Storage,
    tmp_path: Path,
    sender: str,
    recipient_of,
    expected: verdicts.Verdict,
    exit_code: int,
) -> None:
    recipient = recipient_of(seeded)
    if expected is verdicts.BAD_INS_KEY and recipient.startswith(seeded.active.ins):
        pytest.skip("the generated key happens to be valid")
    message = clinician_message(sender=sender, patient_ins=seeded.active.ins, with_xdm=False)
    result = await swaks(
        gateway.port,
        *_tls_args(pki),
        "--from",
        sender,
        "--to",
        recipient,
        "--data",
        _message_file(tmp_path, message),
    )
    assert result.returncode == exit_code, result.output
    assert f"<~* {expected.code} {expected.enhanced}" in result.output, result.output


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_swaks_message_too_large(
    gateway: InboundListener, pki: DevPki, seeded: Seeded, storage: Storage, tmp_path: Path
) -> None:
    limit = gateway.settings.mssante.max_message_size
    message = clinician_message(patient_ins=seeded.active.ins, pad_to_size=limit + 10_000)
    result = await swaks(
        gateway.port,
        *_tls_args(pki),
        "--from",
        DOCTOR,
        "--to",
        seeded.active.address,
        "--data",
        _message_file(tmp_path, message),
        "--silent",
        "2",
    )
    assert result.returncode == 26, result.output
    assert "<~* 552 5.3.4" in result.output
    assert await inbox(storage, seeded.active.account_id) == []


async def test_swaks_without_tls_is_told_to_starttls(
    gateway: InboundListener, seeded: Seeded
) -> None:
    result = await swaks(gateway.port, "--from", DOCTOR, "--to", seeded.active.address)
    assert result.returncode == 23, result.output
    assert "<** 530 5.7.0" in result.output


async def test_swaks_fin_flow(
    gateway: InboundListener, pki: DevPki, seeded: Seeded, storage: Storage, tmp_path: Path
) -> None:
    acc = seeded.active.account_id
    steps = [
        ("Bilan de contrôle", [], "open"),
        ("[FIN] Bilan de contrôle", [], "closed"),
        ("Nouvelle consultation", [], "open"),
        ("Conclusion", ["--header", "X-MSS-MES: FIN"], "closed"),
    ]
    for subject, extra, expected_state in steps:
        result = await swaks(
            gateway.port,
            *_tls_args(pki),
            "--from",
            DOCTOR,
            "--to",
            seeded.active.address,
            "--header",
            f"From: Dr Dupont <{DOCTOR}>",
            "--header",
            f"Subject: {subject}",
            "--body",
            "Bonjour, voici la suite de votre prise en charge.",
            *extra,
        )
        assert result.returncode == 0, result.output
        conv = await conversation(storage, acc, DOCTOR)
        assert conv is not None and conv.state == expected_state, subject
    assert len(await inbox(storage, acc)) == 4
