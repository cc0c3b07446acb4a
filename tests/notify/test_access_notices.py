"""Immediate notices of a professional's first access and of every emergency access: queued in
the caller's transaction, free of names and health data, to guardians too, by SMS when asked."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from espace_sante import notify
from espace_sante.accounts.sms import FileSmsGateway, SmsError, read_sms_file
from espace_sante.notify import NotificationSettings
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AuditEntry
from fixtures.seed import Seeded
from fixtures.store_queries import audit_actions
from notify.people import (
    GUARDIAN_MAIL,
    MOBILE,
    PERSONAL,
    body_of,
    minor_with_guardian,
    notices,
    patient,
    queued_sms,
    set_email,
    set_phone,
    subject_of,
)

AT = datetime(2026, 6, 2, 14, 30, tzinfo=UTC)
#: What the caller knows while it reads the record, and what no notice may carry.
PATIENT_FAMILY, PATIENT_GIVEN = "LEGRAND", "Marie-Éloïse"
DOCUMENT_TITLE = "Compte rendu de biopsie hépatique"
PROFESSIONAL = ("Jean", "DUPONT", "810001234567", "dr.dupont@medecin.mssante.fr")


async def _queue(storage: Storage, account_id: int, kind: str) -> notify.QueuedAccessNotice:
    async with transaction(storage.sessions) as s:
        return await notify.queue_access_notice(
            s,
            account_id,
            kind=kind,
            at=AT,
            settings=storage.settings,  # type: ignore[arg-type]
        )


async def _save(storage: Storage, account_id: int, wanted: NotificationSettings) -> None:
    async with transaction(storage.sessions) as s:
        await notify.save_settings(s, account_id, wanted, actor="account:1", now=AT)


@pytest.mark.parametrize(
    ("kind", "subject", "phrase"),
    [
        ("first_access", "Un professionnel de santé a consulté votre dossier",
         "a consulté votre dossier médical pour la première fois"),
        ("emergency", "Accès en urgence à votre dossier médical",
         "a accédé à votre dossier médical en urgence"),
    ],
)  # fmt: skip
async def test_the_notice_names_no_one_and_points_to_the_history(
    storage: Storage, kind: str, subject: str, phrase: str
) -> None:
    marie = await patient(storage, "2800175123456", PATIENT_FAMILY, PATIENT_GIVEN)
    await set_email(storage, marie.account_id, PERSONAL)
    result = await _queue(storage, marie.account_id, kind)
    assert result == notify.QueuedAccessNotice((PERSONAL,), 0)
    (row,) = await notices(storage)
    assert row.rcpt_to == PERSONAL and row.mail_from == "" and row.account_id == marie.account_id
    assert row.next_attempt_at is not None and row.status == "queued"  # at once, not batched
    parsed = email.message_from_bytes(row.raw, policy=email.policy.default)
    assert subject_of(row) == subject
    assert parsed["From"] == f"Espace santé <{storage.settings.notify.sender}>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    body = body_of(row)
    assert phrase in body
    assert f"{storage.settings.web.base_url}/historique" in body
    whole = row.raw.decode("utf-8", "replace") + body + subject_of(row)
    secrets = [PATIENT_FAMILY, PATIENT_GIVEN, "Éloïse", marie.ins, marie.address,
               DOCUMENT_TITLE, "biopsie", *PROFESSIONAL, "Dupont", "RPPS"]  # fmt: skip
    for secret in secrets:
        assert secret.lower() not in whole.lower(), secret
    async with storage.sessions() as s:
        entry = (
            await s.execute(select(AuditEntry).where(AuditEntry.action == "notification.queued"))
        ).scalar_one()
    assert json.loads(entry.detail) == {"notice": kind, "recipients": 1, "sms": 0}


async def test_a_rolled_back_access_queues_nothing(storage: Storage, seeded: Seeded) -> None:
    account = seeded.active.account_id
    await set_email(storage, account, PERSONAL)
    await set_phone(storage, account, MOBILE)
    await _save(storage, account, NotificationSettings(channel_sms=True))

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with transaction(storage.sessions) as s:
            queued = await notify.queue_access_notice(
                s, account, kind="emergency", at=AT, settings=storage.settings
            )
            assert queued.recipients == (PERSONAL,) and queued.sms == 1
            raise Boom  # the read failed after the notice was queued
    assert await notices(storage) == []
    assert await queued_sms(storage) == []
    assert "notification.queued" not in await audit_actions(storage, account)


async def test_guardians_receive_a_dependants_notices(storage: Storage, seeded: Seeded) -> None:
    await set_email(storage, seeded.active.account_id, GUARDIAN_MAIL)
    await set_phone(storage, seeded.active.account_id, MOBILE)
    minor = await minor_with_guardian(storage, seeded.active)
    await _save(storage, minor.account_id, NotificationSettings(channel_sms=True))
    first = await _queue(storage, minor.account_id, "first_access")
    emergency = await _queue(storage, minor.account_id, "emergency")
    assert first == notify.QueuedAccessNotice((GUARDIAN_MAIL,), 0)  # SMS: emergencies only
    assert emergency == notify.QueuedAccessNotice((GUARDIAN_MAIL,), 1)
    rows = await notices(storage)
    assert [(r.rcpt_to, r.account_id) for r in rows] == [(GUARDIAN_MAIL, minor.account_id)] * 2
    for row in rows:
        assert "ENFANT" not in row.raw.decode() and "Léo" not in body_of(row)
    (sms,) = await queued_sms(storage)
    assert sms.phone == MOBILE and sms.account_id == minor.account_id


@pytest.mark.parametrize(
    ("kind", "wanted"),
    [
        ("first_access", NotificationSettings(first_professional_access=False)),
        ("emergency", NotificationSettings(emergency_access=False, channel_sms=True)),
        ("emergency", NotificationSettings(channel_email=False)),
    ],
)
async def test_the_settings_can_turn_them_off(
    storage: Storage, seeded: Seeded, kind: str, wanted: NotificationSettings
) -> None:
    account = seeded.active.account_id
    await set_email(storage, account, PERSONAL)
    await set_phone(storage, account, MOBILE)
    await _save(storage, account, wanted)
    assert await _queue(storage, account, kind) == notify.QueuedAccessNotice()
    assert await notices(storage) == [] and await queued_sms(storage) == []
    async with storage.sessions() as s:
        entry = (
            await s.execute(select(AuditEntry).where(AuditEntry.action == "notification.skipped"))
        ).scalar_one()
    assert json.loads(entry.detail)["notice"] == kind


async def test_no_address_or_a_closed_space_gets_nothing(storage: Storage, seeded: Seeded) -> None:
    await set_email(storage, seeded.closed.account_id, PERSONAL)
    assert await _queue(storage, seeded.active.account_id, "emergency") == (
        notify.QueuedAccessNotice()
    )
    assert await _queue(storage, seeded.closed.account_id, "emergency") == (
        notify.QueuedAccessNotice()
    )
    assert await notices(storage) == []
    assert "notification.skipped" in await audit_actions(storage, seeded.active.account_id)
    with pytest.raises(ValueError):
        await _queue(storage, seeded.active.account_id, "lunch")


async def test_emergency_sms_goes_out_once_without_health_data(
    storage: Storage, seeded: Seeded
) -> None:
    account = seeded.active.account_id
    await set_phone(storage, account, MOBILE)  # no e-mail address: the SMS alone
    await _save(storage, account, NotificationSettings(channel_sms=True))
    assert await _queue(storage, account, "emergency") == notify.QueuedAccessNotice((), 1)
    path = storage.settings.data_dir / "sms-test.log"
    gateway = FileSmsGateway(path)
    assert await notify.send_queued_sms(storage, gateway) == 1
    assert await notify.send_queued_sms(storage, gateway) == 0  # once
    (sent,) = read_sms_file(path)
    assert sent["to"] == MOBILE
    assert f"{storage.settings.web.base_url}/historique" in sent["text"]
    assert "urgence" in sent["text"] and len(sent["text"]) <= 200
    for secret in ("ACTIVE", seeded.active.ins, *PROFESSIONAL):
        assert secret not in sent["text"]


async def test_a_refusing_gateway_is_retried_then_given_up(
    storage: Storage, seeded: Seeded
) -> None:
    account = seeded.active.account_id
    await set_phone(storage, account, MOBILE)
    await _save(storage, account, NotificationSettings(channel_sms=True))
    await _queue(storage, account, "emergency")

    class Down:
        calls = 0

        async def send(self, phone: str, text: str) -> None:
            Down.calls += 1
            raise SmsError("provider down")

    for _ in range(notify.access.SMS_ATTEMPTS + 2):
        assert await notify.send_queued_sms(storage, Down()) == 0
    assert Down.calls == notify.access.SMS_ATTEMPTS
    (row,) = await queued_sms(storage)
    assert row.sent_at is None and row.attempts == notify.access.SMS_ATTEMPTS


async def test_the_periodic_work_sends_queued_sms(storage: Storage, seeded: Seeded) -> None:
    from espace_sante.mta.background import PeriodicWork

    account = seeded.active.account_id
    await set_phone(storage, account, MOBILE)
    await _save(storage, account, NotificationSettings(channel_sms=True))
    await _queue(storage, account, "emergency")
    path = storage.settings.data_dir / "sms-periodic.log"
    await PeriodicWork(storage, sms=FileSmsGateway(path)).run_once()
    assert [m["to"] for m in read_sms_file(path)] == [MOBILE]
    (row,) = await queued_sms(storage)
    assert row.sent_at is not None
