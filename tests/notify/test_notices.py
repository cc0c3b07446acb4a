"""Notices to the personal inbox: batched, sent once, free of health data, to guardians too."""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update

from espace_sante import notify
from espace_sante.accounts.guardians import add_guardian
from espace_sante.accounts.patients import NewPatient, create_patient
from espace_sante.mailbox.store import ensure_default_folders
from espace_sante.policy.ins import DEMO_NIR_OID
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import Account, OutboundMessage, PendingNotification
from fixtures.mssante import clinician_message, valid_nir
from fixtures.seed import DOCTOR, Seeded
from fixtures.store_queries import audit_actions
from imap.conftest import deliver

PERSONAL = "marie.legrand@example.org"


async def _set_personal_email(storage: Storage, account_id: int, address: str | None) -> None:
    async with transaction(storage.sessions) as s:
        query = update(Account).where(Account.id == account_id)
        await s.execute(query.values(personal_email=address))


async def _notices(storage: Storage) -> list[OutboundMessage]:
    async with storage.sessions() as s:
        query = select(OutboundMessage).where(OutboundMessage.kind == "notification")
        return list((await s.execute(query.order_by(OutboundMessage.id))).scalars())


async def test_a_burst_makes_one_notice_without_health_data(
    storage: Storage, seeded: Seeded
) -> None:
    await _set_personal_email(storage, seeded.active.account_id, PERSONAL)
    for i in range(10):
        await deliver(
            storage,
            seeded,
            clinician_message(
                sender=DOCTOR, patient_ins=seeded.active.ins,
                subject=f"Résultats biopsie {i}", with_xdm=False,
            ),
        )  # fmt: skip
    start = datetime.now(UTC)
    assert await notify.dispatch_due(storage, now=start) == 0  # still inside the window
    assert await _notices(storage) == []

    later = start + timedelta(seconds=storage.settings.notify.batch_seconds + 1)
    assert await notify.dispatch_due(storage, now=later) == 1
    assert await notify.dispatch_due(storage, now=later + timedelta(minutes=5)) == 0  # once
    (notice,) = await _notices(storage)
    assert notice.rcpt_to == PERSONAL and notice.mail_from == ""
    assert notice.account_id == seeded.active.account_id

    parsed = email.message_from_bytes(notice.raw, policy=email.policy.default)
    body = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert parsed["Subject"] == "Du nouveau dans votre espace santé"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert "10 nouveaux messages et 10 nouveaux documents" in body  # one PDF each
    assert f"{storage.settings.web.base_url}/connexion" in body
    whole = notice.raw.decode("ascii", "replace") + body
    for secret in ("biopsie", "Dupont", "dupont", seeded.active.ins, "LEGRAND", "medecin"):
        assert secret not in whole, secret
    assert "notification.queued" in await audit_actions(storage, seeded.active.account_id)


async def test_arrivals_after_a_notice_start_a_new_batch(storage: Storage, seeded: Seeded) -> None:
    await _set_personal_email(storage, seeded.active.account_id, PERSONAL)
    message = clinician_message(sender=DOCTOR, patient_ins=seeded.active.ins, with_xdm=False,
                                with_pdf=False)  # fmt: skip
    await deliver(storage, seeded, message)
    soon = datetime.now(UTC) + timedelta(hours=1)
    assert await notify.dispatch_due(storage, now=soon) == 1
    await deliver(
        storage,
        seeded,
        clinician_message(sender=DOCTOR, patient_ins=seeded.active.ins, with_xdm=False),
    )
    async with storage.sessions() as s:
        (pending,) = (await s.execute(select(PendingNotification))).scalars().all()
    assert (pending.messages, pending.documents) == (1, 1)
    assert await notify.dispatch_due(storage, now=soon + timedelta(hours=1)) == 1
    first, second = await _notices(storage)
    assert "Vous avez 1 nouveau message dans" in _text(first)
    assert "1 nouveau message et 1 nouveau document" in _text(second)


def _text(row: OutboundMessage) -> str:
    parsed = email.message_from_bytes(row.raw, policy=email.policy.default)
    return parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr,no-any-return]


async def test_no_personal_address_means_no_notice(storage: Storage, seeded: Seeded) -> None:
    await deliver(storage, seeded, clinician_message(sender=DOCTOR, patient_ins=seeded.active.ins))
    later = datetime.now(UTC) + timedelta(hours=1)
    assert await notify.dispatch_due(storage, now=later) == 0
    assert await _notices(storage) == []
    assert "notification.skipped" in await audit_actions(storage, seeded.active.account_id)
    async with storage.sessions() as s:  # and nothing stays pending forever
        assert (await s.execute(select(PendingNotification))).scalars().all() == []


async def test_a_minors_notice_also_reaches_the_guardian(storage: Storage, seeded: Seeded) -> None:
    async with transaction(storage.sessions) as s:
        minor = await create_patient(
            s, storage.keyring,
            NewPatient(ins=valid_nir("1150675123999"), oid=DEMO_NIR_OID, family_name="ENFANT",
                       given_names="Léo", birth_date=date(2015, 6, 1), sex="M",
                       birthplace="75112", status="active"),
            patient_domain=storage.settings.mssante.patient_domain, accept_test_ins=True,
        )  # fmt: skip
        await ensure_default_folders(s, minor.account_id)
        await add_guardian(s, minor.address, seeded.active.address)
    await _set_personal_email(storage, seeded.active.account_id, PERSONAL)
    await deliver(
        storage,
        replace(seeded, active=minor),
        clinician_message(sender=DOCTOR, patient_ins=minor.ins, with_xdm=False),
    )
    assert await notify.dispatch_due(storage, now=datetime.now(UTC) + timedelta(hours=1)) == 1
    (notice,) = await _notices(storage)
    assert notice.rcpt_to == PERSONAL and notice.account_id == minor.account_id
