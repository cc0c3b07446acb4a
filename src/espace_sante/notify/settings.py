"""A patient's notification settings: which notices go to their personal inbox, and by SMS.

One row per account (``notification_settings``); an account without a row has the defaults:
every notice on (new messages, new documents, a professional's first access, every emergency
access — DESIGN.md §4), sent by e-mail; SMS off until the patient turns it on (it goes to the
mobile number they gave for their login codes, and only for emergency accesses). A guardian sets
them for a dependant on the dependant's account. Saving is audited
(``notification_settings.changed``) in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from espace_sante import audit
from espace_sante.accounts.directory import dialect_insert
from espace_sante.storage.schema import NotificationSettingsRow


@dataclass(frozen=True)
class NotificationSettings:
    new_message: bool = True
    new_document: bool = True
    first_professional_access: bool = True
    emergency_access: bool = True
    channel_email: bool = True
    channel_sms: bool = False

    @property
    def any_notice(self) -> bool:
        """Some notice is on and some channel can carry it."""
        notices = (
            self.new_message,
            self.new_document,
            self.first_professional_access,
            self.emergency_access,
        )
        return any(notices) and (self.channel_email or self.channel_sms)


DEFAULTS = NotificationSettings()
_NAMES = tuple(f.name for f in fields(NotificationSettings))


async def get_settings(session: AsyncSession, account_id: int) -> NotificationSettings:
    """The account's settings (the defaults when it never saved any)."""
    row = await session.get(NotificationSettingsRow, account_id)
    if row is None:
        return DEFAULTS
    return NotificationSettings(**{name: bool(getattr(row, name)) for name in _NAMES})


async def save_settings(
    session: AsyncSession,
    account_id: int,
    settings: NotificationSettings,
    *,
    actor: str,
    now: datetime,
) -> None:
    """Store ``settings`` for the account and audit the change, in the caller's transaction.

    ``actor`` is who saved them (``account:<id>`` of the patient or of their guardian). Saving
    what is already stored writes nothing."""
    row = await session.get(NotificationSettingsRow, account_id)
    values = asdict(settings)
    if row is None:
        changed = [name for name in _NAMES if getattr(DEFAULTS, name) != values[name]]
        # an upsert: two first saves at once (two tabs) do not collide
        insert = dialect_insert(session)
        stmt = insert(NotificationSettingsRow).values(
            account_id=account_id, updated_at=now, **values
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[NotificationSettingsRow.account_id],
                set_={**values, "updated_at": now},
            )
        )
    else:
        changed = [name for name in _NAMES if bool(getattr(row, name)) != values[name]]
        if not changed:
            return
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = now
        await session.flush()
    await audit.append(
        session,
        account_id=account_id,
        actor=actor,
        action="notification_settings.changed",
        detail={**values, "changed": changed},
        at=now,
    )
