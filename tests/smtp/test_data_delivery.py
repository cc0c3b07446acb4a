"""DATA: a clinician's message is stored durably in the patient's INBOX and record."""

from __future__ import annotations

import email
import json
import ssl
from email import policy as email_policy

import pytest

from espace_sante.mta.server import InboundListener
from espace_sante.storage.runtime import Storage
from fixtures.mssante import clinician_message
from fixtures.smtp_client import send
from fixtures.store_queries import (
    audit_actions,
    blob_files,
    conversation,
    counts,
    documents,
    inbox,
    notices,
    read_blob,
)

from .conftest import CARDIO, DOCTOR, Seeded


async def test_clinician_message_is_stored_with_its_documents(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    message = clinician_message(
        sender=DOCTOR, patient_ins=seeded.active.ins, with_xdm=True, with_pdf=True
    )
    t = await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], message)
    assert t.accepted, t
    assert t.data is not None and t.data[1].startswith(b"2.0.0")

    [stored] = await inbox(storage, seeded.active.account_id)
    assert stored.uid == 1 and stored.modseq >= 2
    raw = await read_blob(storage, seeded.active.account_id, stored.blob_id)
    assert raw.endswith(message)  # the message as sent, after our trace headers
    head = raw[: len(raw) - len(message)]
    assert head.startswith(b"Received: from mta.operateur-test.mssante.fr")
    assert b"Authentication-Results: mx.espace-sante.localhost;" in head
    assert b"x-tls-client-cert=none" in head  # no trust-space CA configured here
    assert b"x-mssante-trust=pass" in head
    assert stored.size == len(raw)
    meta = json.loads(stored.meta)
    assert meta["size"] == len(raw)
    assert stored.sender == DOCTOR
    assert stored.subject.startswith("XDM/1.0/DDM+")
    assert stored.mss_ins == "O"
    assert stored.mss_codecda

    docs = await documents(storage, seeded.active.account_id)
    sources = sorted(d.source for d in docs)
    assert "xdm" in sources
    xdm_doc = next(d for d in docs if d.source == "xdm")
    assert xdm_doc.patient_id and seeded.active.ins in xdm_doc.patient_id
    assert xdm_doc.type_code and xdm_doc.class_code and xdm_doc.format_code
    assert xdm_doc.metadata_json["author_person"]
    # The record's own columns (migration 0006): the XDM author's national id, the category,
    # no visibility code, current and not archived.
    assert xdm_doc.author_professional_id == "810000000001"
    # the category follows the type (11488-4, a consultation report) over the class code
    assert (xdm_doc.category, xdm_doc.visibility, xdm_doc.status) == (
        "comptes_rendus",
        "",
        "approved",
    )
    assert not xdm_doc.archived and xdm_doc.uploaded_by_account_id is None
    for d in docs:
        if d.source == "attachment":  # inferred from the message: the sender's directory entry
            assert d.author_professional_id == "810000000000"
    content = await read_blob(storage, seeded.active.account_id, xdm_doc.blob_id)
    assert b"ClinicalDocument" in content or content.startswith(b"%PDF")
    for d in docs:
        assert d.message_row_id == stored.id

    conv = await conversation(storage, seeded.active.account_id, DOCTOR)
    assert conv is not None and conv.state == "open"
    actions = await audit_actions(storage, seeded.active.account_id)
    assert "message.received" in actions and "document.deposited" in actions
    assert await notices(storage) == []


async def test_blobs_are_encrypted_at_rest(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    marker = "Bilan-tres-reconnaissable-42"
    message = clinician_message(patient_ins=seeded.active.ins, subject=marker, with_xdm=False)
    assert (await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], message)).accepted
    files = blob_files(storage)
    assert files
    for name in files:
        data = (storage.settings.blob_dir / name).read_bytes()
        assert marker.encode() not in data
        assert b"%PDF" not in data


async def test_fin_in_subject_closes_and_new_message_reopens(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    first = clinician_message(patient_ins=seeded.active.ins, subject="Suivi", with_xdm=False)
    closing = clinician_message(
        patient_ins=seeded.active.ins, subject="[FIN] Suivi", with_xdm=False
    )
    again = clinician_message(
        patient_ins=seeded.active.ins, subject="Nouveau suivi", with_xdm=False
    )
    acc = seeded.active.account_id
    assert (await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], first)).accepted
    assert (await conversation(storage, acc, DOCTOR)).state == "open"
    assert (await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], closing)).accepted
    conv = await conversation(storage, acc, DOCTOR)
    assert conv.state == "closed" and conv.closed_at is not None
    assert (await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], again)).accepted
    conv = await conversation(storage, acc, DOCTOR)
    assert conv.state == "open" and conv.closed_at is None
    assert len(await inbox(storage, acc)) == 3


async def test_x_mss_mes_fin_header_closes_only_that_conversation(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    acc = seeded.active.account_id
    for sender in (DOCTOR, CARDIO):
        m = clinician_message(sender=sender, patient_ins=seeded.active.ins, with_xdm=False)
        assert (await send(gateway.port, client_tls, sender, [seeded.active.address], m)).accepted
    closing = clinician_message(
        sender=DOCTOR, patient_ins=seeded.active.ins, closing=True, with_xdm=False
    )
    assert b"X-MSS-MES: FIN" in closing
    assert (await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], closing)).accepted
    assert (await conversation(storage, acc, DOCTOR)).state == "closed"
    assert (await conversation(storage, acc, CARDIO)).state == "open"


async def test_repeated_message_id_from_same_sender_is_stored_once(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    message = clinician_message(
        patient_ins=seeded.active.ins, message_id="<dup-1@medecin.mssante.fr>"
    )
    first = await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], message)
    before = await counts(storage)
    files_before = blob_files(storage)
    second = await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], message)
    assert first.accepted and second.accepted  # the sender must not retry: it is delivered
    assert second.data is not None and b"ignor" in second.data[1]
    assert await counts(storage) == before
    assert blob_files(storage) == files_before  # the second copy's blobs were removed
    assert len(await inbox(storage, seeded.active.account_id)) == 1


async def test_two_patients_in_one_transaction_each_get_a_copy(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    message = clinician_message(patient_ins=seeded.active.ins, with_xdm=False, with_pdf=True)
    t = await send(
        gateway.port, client_tls, DOCTOR, [seeded.active.address, seeded.other.address], message
    )
    assert t.accepted
    for rec in (seeded.active, seeded.other):
        [m] = await inbox(storage, rec.account_id)
        assert m.uid == 1
        assert len(await documents(storage, rec.account_id)) == 1


async def test_uids_increase_and_modseq_grows(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    for _ in range(3):
        m = clinician_message(patient_ins=seeded.active.ins, with_xdm=False, with_pdf=False)
        assert (await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], m)).accepted
    rows = await inbox(storage, seeded.active.account_id)
    assert [r.uid for r in rows] == [1, 2, 3]
    assert [r.modseq for r in rows] == sorted({r.modseq for r in rows})


async def test_xdm_for_another_patient_is_not_deposited_and_sender_is_told(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    message = clinician_message(
        patient_ins=seeded.active.ins, xdm_patient_ins=seeded.other.ins, with_pdf=True
    )
    t = await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], message)
    assert t.accepted  # the message itself reaches the patient
    docs = await documents(storage, seeded.active.account_id)
    assert all(d.source != "xdm" for d in docs)
    [notice] = await notices(storage)
    assert notice.kind == "xdm_error_notice" and notice.rcpt_to == DOCTOR
    parsed = email.message_from_bytes(notice.raw, policy=email_policy.default)
    assert str(parsed["Subject"]).startswith("[KO Intégration système !][INS_DIFFERENT]")
    attached = [p for p in parsed.walk() if p.get_content_type() == "message/rfc822"]
    assert attached, "the original message must be attached"
    assert "document.rejected" in await audit_actions(storage, seeded.active.account_id)


async def test_eight_bit_headers_and_smtputf8_are_accepted(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    message = clinician_message(patient_ins=seeded.active.ins, with_xdm=False, with_pdf=False)
    message = message.replace(b"Subject: ", "Subject: Compte rendu é ".encode(), 1)
    t = await send(
        gateway.port,
        client_tls,
        DOCTOR,
        [seeded.active.address],
        message,
        mail_options=("SMTPUTF8", "BODY=8BITMIME"),
    )
    assert t.accepted, t
    [m] = await inbox(storage, seeded.active.account_id)
    assert "é" in m.subject or "Compte rendu" in m.subject


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_large_message_near_the_limit_is_accepted(
    gateway: InboundListener, client_tls: ssl.SSLContext, seeded: Seeded, storage: Storage
) -> None:
    message = clinician_message(patient_ins=seeded.active.ins, pad_to_size=20 * 1024 * 1024)
    t = await send(gateway.port, client_tls, DOCTOR, [seeded.active.address], message)
    assert t.accepted, t
