"""What a clinician's delivery deposits in the record: visibility codes from the XDM's
confidentiality codes, the category, the author's national id (XDM author, else the sender's
directory entry)."""

from __future__ import annotations

from datetime import UTC, datetime

from espace_sante.mta.delivery import Delivering
from espace_sante.mta.mime import parse_message
from espace_sante.storage.runtime import Storage
from fixtures.mssante import build_xdm_zip, clinician_message
from fixtures.seed import DOCTOR, Seeded
from fixtures.store_queries import documents


async def test_delivery_deposits_visibility_category_and_author(
    storage: Storage, seeded: Seeded
) -> None:
    patient = seeded.active
    raw = clinician_message(
        sender=DOCTOR,
        patient_ins=patient.ins,
        xdm_bytes=build_xdm_zip(patient.ins, hidden_from_patient=True),
    )
    outcome = await Delivering(storage).deliver(
        raw=raw,
        parsed=parse_message(raw),
        envelope_sender=DOCTOR,
        recipients=[patient],
        received_at=datetime.now(UTC),
    )
    assert outcome.delivered == [patient.address]
    docs = await documents(storage, patient.account_id)
    xdm_doc = next(d for d in docs if d.source == "xdm")
    assert xdm_doc.visibility == "INVISIBLE_PATIENT"
    assert xdm_doc.category == "comptes_rendus"  # type 11488-4 decides over the class (ASS_X04)
    assert xdm_doc.author_professional_id == "810000000001"  # XCN.1 of the XDM author
    pdf = next(d for d in docs if d.source == "attachment")
    assert pdf.author_professional_id == "810000000000"  # the sender's directory entry
    assert pdf.visibility == "" and pdf.category == "autres"
