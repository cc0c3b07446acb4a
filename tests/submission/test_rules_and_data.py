"""What a patient may send through submission, and what is stored and queued when they may:
envelope sender, forged From, patient-to-patient, closed conversation, outside the trust space,
Reply-To honoured, pharmacy first; the Sent copy, queue rows and audit of an accepted message;
bare LF / smuggling, header injection, oversize."""

from __future__ import annotations

import email
import email.policy
import json
import ssl
from typing import Any

import aiosmtplib
import pytest
from sqlalchemy import select

from espace_sante.mta.submission import SubmissionListener
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AuditEntry, Folder, Message, OutboundMessage
from fixtures.store_queries import read_blob
from submission.conftest import (
    CARDIO,
    DOCTOR,
    PHARMACY,
    SECRETARIAT,
    RawSession,
    World,
    connect,
    reply_message,
)


async def logged_in(listener: SubmissionListener, world: World, tls: ssl.SSLContext) -> Any:
    client = await connect(listener, tls)
    await client.auth_plain(world.patient.address, world.patient.password)
    return client


async def queued(storage: Storage) -> list[OutboundMessage]:
    async with storage.sessions() as s:
        return list(
            (await s.execute(select(OutboundMessage).order_by(OutboundMessage.id))).scalars()
        )


async def sent_folder(storage: Storage, account_id: int) -> list[Message]:
    async with storage.sessions() as s:
        query = (
            select(Message)
            .join(Folder, Folder.id == Message.folder_id)
            .where(Folder.account_id == account_id, Folder.name == "Sent")
        )
        return list((await s.execute(query)).scalars())


async def rcpt(client: aiosmtplib.SMTP, address: str) -> aiosmtplib.SMTPResponse:
    return await client.execute_command(b"RCPT", f"TO:<{address}>".encode())


async def test_reply_is_stored_in_sent_queued_and_audited(
    submission: SubmissionListener, world: World, client_tls: ssl.SSLContext, storage: Storage
) -> None:
    client = await logged_in(submission, world, client_tls)
    message = reply_message(
        world.patient.address, DOCTOR, extra={"Bcc": "someone@medecin.mssante.fr"}
    )
    errors, reply = await client.sendmail(
        world.patient.address, [DOCTOR, "Someone@medecin.mssante.fr"], message
    )
    await client.quit()
    # not in the directory, no conversation: refused, the other recipient still gets it
    assert errors["Someone@medecin.mssante.fr"].code == 550
    assert reply.startswith("2.0.0") or "Message accepté" in reply
    rows = await queued(storage)
    assert [(r.kind, r.mail_from, r.rcpt_to, r.status, r.domain) for r in rows] == [
        ("reply", world.patient.address, DOCTOR, "queued", "medecin.mssante.fr")
    ]
    assert rows[0].account_id == world.patient.account_id
    out = email.message_from_bytes(rows[0].raw, policy=email.policy.default)
    assert out["Bcc"] is None and out["Message-ID"] and out["Date"]
    assert out["In-Reply-To"] == "<cr-1@medecin.mssante.fr>"
    assert out["Received"] is not None and "127.0.0.1" not in out["Received"]
    assert "Merci docteur" in out.get_body().get_content()
    sent = await sent_folder(storage, world.patient.account_id)
    assert len(sent) == 1 and "\\Seen" in sent[0].flags
    stored = await read_blob(storage, world.patient.account_id, sent[0].blob_id)
    assert b"Bcc: someone@medecin.mssante.fr" in stored  # the sender's copy keeps it
    assert sent[0].message_id_header == out["Message-ID"]
    async with storage.sessions() as s:
        entries = (
            (
                await s.execute(
                    select(AuditEntry).where(
                        AuditEntry.account_id == world.patient.account_id,
                        AuditEntry.action == "message.submitted",
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(entries) == 1
    detail = json.loads(entries[0].detail)
    assert detail["recipients"] == [DOCTOR] and detail["queue_ids"] == [rows[0].id]


@pytest.mark.parametrize(
    ("recipient", "code", "enhanced", "french"),
    [
        (CARDIO, 550, "5.7.1", "clos cette conversation"),
        ("autre.medecin@ch-demo.mssante.fr", 550, "5.1.1", "absent de l'annuaire"),
        ("someone@gmail.com", 550, "5.1.2", "hors de l'espace de confiance"),
        ("175026912312345@patient.mssante.fr", 550, "5.7.1", "un autre patient"),
        ("not an address", 553, "5.1.3", "mal formée"),
    ],
)
async def test_forbidden_recipients(
    submission: SubmissionListener,
    world: World,
    client_tls: ssl.SSLContext,
    storage: Storage,
    recipient: str,
    code: int,
    enhanced: str,
    french: str,
) -> None:
    client = await logged_in(submission, world, client_tls)
    assert (await client.mail(world.patient.address)).code == 250
    response = await rcpt(client, recipient)
    assert response.code == code
    assert enhanced in response.message and french in response.message and " / " in response.message
    await client.quit()
    assert await queued(storage) == []


async def test_patient_to_the_other_patient_with_real_address(
    submission: SubmissionListener, world: World, client_tls: ssl.SSLContext
) -> None:
    client = await logged_in(submission, world, client_tls)
    await client.mail(world.patient.address)
    response = await rcpt(client, world.other.address)
    assert response.code == 550 and "patient" in response.message
    await client.quit()


@pytest.mark.parametrize("recipient", [DOCTOR, DOCTOR.upper(), SECRETARIAT, PHARMACY])
async def test_allowed_recipients(
    submission: SubmissionListener, world: World, client_tls: ssl.SSLContext, recipient: str
) -> None:
    client = await logged_in(submission, world, client_tls)
    await client.mail(world.patient.address)
    assert (await rcpt(client, recipient)).code == 250
    await client.quit()


async def test_other_patient_has_no_conversation(
    submission: SubmissionListener, world: World, client_tls: ssl.SSLContext
) -> None:
    client = await connect(submission, client_tls)
    await client.auth_plain(world.other.address, world.other.password)
    await client.mail(world.other.address)
    response = await rcpt(client, DOCTOR)
    assert response.code == 550 and "ne vous a pas écrit" in response.message
    assert (await rcpt(client, PHARMACY)).code == 250
    await client.quit()


@pytest.mark.parametrize(
    "sender", ["dr.dupont@medecin.mssante.fr", "", "175026912312345@patient.mssante.fr"]
)
async def test_envelope_sender_must_be_the_account(
    submission: SubmissionListener, world: World, client_tls: ssl.SSLContext, sender: str
) -> None:
    client = await logged_in(submission, world, client_tls)
    response = await client.execute_command(b"MAIL", f"FROM:<{sender}>".encode())
    assert response.code == 553 and "5.7.1" in response.message
    assert "compte authentifié" in response.message
    await client.quit()


@pytest.mark.parametrize(
    "header_lines",
    [
        ["From: Dr Dupont <dr.dupont@medecin.mssante.fr>"],
        ["From: PATIENT <{me}>, evil@medecin.mssante.fr"],
        ['From: "{me}" <evil@medecin.mssante.fr>'],
        ["From: {me}", "Sender: dr.dupont@medecin.mssante.fr"],
        ["From: {me}", "From: {me}"],
        ["From: {me}", "From: evil@medecin.mssante.fr"],
        ["From: undisclosed-recipients:;"],
        [],
    ],
)
async def test_forged_header_from_is_refused(
    submission: SubmissionListener,
    world: World,
    client_tls: ssl.SSLContext,
    storage: Storage,
    header_lines: list[str],
) -> None:
    me = world.patient.address
    lines = [line.format(me=me) for line in header_lines]
    body = "\r\n".join([*lines, f"To: {DOCTOR}", "Subject: test", "", "corps", ""])
    client = await logged_in(submission, world, client_tls)
    await client.mail(me)
    await rcpt(client, DOCTOR)
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await client.data(body.encode())
    assert refused.value.code == 550 and "From" in refused.value.message
    await client.quit()
    assert await queued(storage) == []
    assert await sent_folder(storage, world.patient.account_id) == []


@pytest.mark.parametrize(
    "payload",
    [
        # SMTP smuggling (CVE-2023-51764): a bare-LF end of data and a second transaction
        b"Subject: a\r\n\r\nhello\n.\nMAIL FROM:<dr.dupont@medecin.mssante.fr>\r\n",
        b"Subject: a\r\n\r\nhello\r\n.\rMAIL FROM:<x@y.fr>\r\n",
        # a header injected through a bare LF
        b"Subject: a\nBcc: evil@gmail.com\r\n\r\nhello\r\n",
    ],
)
async def test_bare_line_ends_are_refused(
    submission: SubmissionListener,
    world: World,
    client_tls: ssl.SSLContext,
    storage: Storage,
    payload: bytes,
) -> None:
    me = world.patient.address
    raw = await RawSession.open(submission, client_tls)
    await raw.login(me, world.patient.password)
    assert (await raw.command(f"MAIL FROM:<{me}>"))[0] == 250
    assert (await raw.command(f"RCPT TO:<{DOCTOR}>"))[0] == 250
    assert (await raw.command("DATA"))[0] == 354
    code, text = await raw.command(f"From: {me}\r\nTo: {DOCTOR}\r\n".encode() + payload + b".")
    assert code == 550 and "5.5.2" in text and "CRLF" in text
    # the session goes on: the smuggled command was part of the refused data, not a command
    code, _ = await raw.command("RSET")
    assert code == 250
    await raw.close()
    assert await queued(storage) == []


async def test_encoded_line_breaks_in_headers_stay_inside_the_header(
    submission: SubmissionListener, world: World, client_tls: ssl.SSLContext, storage: Storage
) -> None:
    me = world.patient.address
    subject = "=?utf-8?q?Re=3A_rdv=0D=0ABcc=3A_evil=40gmail=2Ecom=0D=0A?="
    body = f"From: {me}\r\nTo: {DOCTOR}\r\nSubject: {subject}\r\n\r\nbonjour\r\n".encode()
    client = await logged_in(submission, world, client_tls)
    await client.sendmail(me, [DOCTOR], body)
    await client.quit()
    (row,) = await queued(storage)
    out = email.message_from_bytes(row.raw, policy=email.policy.default)
    assert out.get_all("Bcc") is None and out.get_all("To") == [DOCTOR]
    assert row.rcpt_to == DOCTOR


async def test_too_large_is_refused(
    submission: SubmissionListener, world: World, client_tls: ssl.SSLContext, storage: Storage
) -> None:
    me = world.patient.address
    client = await logged_in(submission, world, client_tls)
    declared = await client.execute_command(
        b"MAIL", f"FROM:<{me}> SIZE={30 * 1024 * 1024}".encode()
    )
    assert declared.code == 552 and "25 Mo" in declared.message
    await client.quit()


async def test_too_many_recipients(
    submission: SubmissionListener, world: World, client_tls: ssl.SSLContext
) -> None:
    client = await logged_in(submission, world, client_tls)
    await client.mail(world.patient.address)
    limit = submission.settings.submission.max_recipients
    for i in range(limit):
        await rcpt(client, f"x{i}@medecin.mssante.fr")  # refused ones do not count
    for _ in range(limit):
        assert (await rcpt(client, DOCTOR)).code == 250  # duplicates count once
    await client.quit()
