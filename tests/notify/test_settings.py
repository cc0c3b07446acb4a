"""Notification settings: defaults, an audited save, and the batched notice obeying each switch."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from espace_sante import notify
from espace_sante.notify import NotificationSettings
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AuditEntry, NotificationSettingsRow, PendingNotification
from fixtures.seed import Seeded
from fixtures.store_queries import audit_actions
from notify.people import PERSONAL, body_of, notices, set_email

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


async def _get(storage: Storage, account_id: int) -> NotificationSettings:
    async with storage.sessions() as s:
        return await notify.get_settings(s, account_id)


async def _save(storage: Storage, account_id: int, settings: NotificationSettings) -> None:
    async with transaction(storage.sessions) as s:
        await notify.save_settings(s, account_id, settings, actor=f"account:{account_id}", now=NOW)


async def test_defaults_when_nothing_was_saved(storage: Storage, seeded: Seeded) -> None:
    got = await _get(storage, seeded.active.account_id)
    assert got == NotificationSettings(
        new_message=True, new_document=True, first_professional_access=True,
        emergency_access=True, channel_email=True, channel_sms=False,
    )  # fmt: skip
    assert got.any_notice


async def test_save_is_stored_and_audited_once(storage: Storage, seeded: Seeded) -> None:
    account = seeded.active.account_id
    off = NotificationSettings(new_message=False, channel_sms=True)
    await _save(storage, account, off)
    assert await _get(storage, account) == off
    await _save(storage, account, off)  # no change: nothing written
    await _save(storage, account, NotificationSettings(new_message=False, new_document=False))
    assert await _get(storage, account) == NotificationSettings(
        new_message=False, new_document=False
    )
    async with storage.sessions() as s:
        entries = (
            (
                await s.execute(
                    select(AuditEntry)
                    .where(AuditEntry.action == "notification_settings.changed")
                    .order_by(AuditEntry.seq)
                )
            )
            .scalars()
            .all()
        )
        row = await s.get(NotificationSettingsRow, account)
    assert [e.account_id for e in entries] == [account, account]
    assert [e.actor for e in entries] == [f"account:{account}"] * 2
    first, second = (json.loads(e.detail) for e in entries)
    assert first["changed"] == ["new_message", "channel_sms"] and first["new_message"] is False
    assert second["changed"] == ["new_document", "channel_sms"]
    assert row is not None and row.updated_at is not None


async def test_a_rolled_back_save_stores_nothing(storage: Storage, seeded: Seeded) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with transaction(storage.sessions) as s:
            await notify.save_settings(
                s, seeded.active.account_id, NotificationSettings(new_message=False),
                actor="x", now=NOW,
            )  # fmt: skip
            raise Boom
    assert await _get(storage, seeded.active.account_id) == NotificationSettings()
    assert "notification_settings.changed" not in await audit_actions(
        storage, seeded.active.account_id
    )


async def _pending(storage: Storage, account_id: int, messages: int, documents: int) -> None:
    async with transaction(storage.sessions) as s:
        await notify.record_arrival(s, account_id, at=NOW, messages=messages, documents=documents)


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (NotificationSettings(), "2 nouveaux messages et 3 nouveaux documents"),
        (NotificationSettings(new_message=False), "Vous avez 3 nouveaux documents dans"),
        (NotificationSettings(new_document=False), "Vous avez 2 nouveaux messages dans"),
        (NotificationSettings(new_message=False, new_document=False), None),
        (NotificationSettings(channel_email=False), None),
        (NotificationSettings(new_message=False, new_document=False,
                              first_professional_access=False, emergency_access=False), None),
    ],
)  # fmt: skip
async def test_the_batched_notice_obeys_each_switch(
    storage: Storage, seeded: Seeded, wanted: NotificationSettings, expected: str | None
) -> None:
    account = seeded.active.account_id
    await set_email(storage, account, PERSONAL)
    await _save(storage, account, wanted)
    await _pending(storage, account, 2, 3)
    queued = await notify.dispatch_due(storage, now=NOW + timedelta(hours=1))
    rows = await notices(storage)
    if expected is None:
        assert queued == 0 and rows == []
        assert await audit_actions(storage, account) == [
            "account.created", "notification_settings.changed", "notification.skipped"
        ]  # fmt: skip
    else:
        assert queued == 1 and len(rows) == 1
        assert expected in body_of(rows[0])
        assert (await audit_actions(storage, account))[-1] == "notification.queued"
    async with storage.sessions() as s:  # nothing stays pending in either case
        assert (await s.execute(select(PendingNotification))).scalars().all() == []


async def test_only_messages_off_and_only_messages_arrived(
    storage: Storage, seeded: Seeded
) -> None:
    account = seeded.active.account_id
    await set_email(storage, account, PERSONAL)
    await _save(storage, account, NotificationSettings(new_message=False))
    await _pending(storage, account, 4, 0)
    assert await notify.dispatch_due(storage, now=NOW + timedelta(hours=1)) == 0
    async with storage.sessions() as s:
        entry = (
            await s.execute(select(AuditEntry).where(AuditEntry.action == "notification.skipped"))
        ).scalar_one()
    assert json.loads(entry.detail)["reason"] == "settings"
