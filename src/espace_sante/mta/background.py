"""The periodic work of a worker process: notices whose batching window has passed, read
receipts that became due, and queued SMS notices. Several workers may run it at once (rows are
claimed in transactions), and a failure is logged without content and retried at the next
round."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from espace_sante import notify
from espace_sante.accounts.sms import SmsGateway, gateway_from_settings
from espace_sante.mailbox.imap.errors import log_failure
from espace_sante.mta.receipts import dispatch_due_receipts
from espace_sante.storage.runtime import Storage

log = logging.getLogger(__name__)


class PeriodicWork:
    """Runs every ``notify.poll_seconds``: notices, read receipts, then SMS notices."""

    def __init__(self, storage: Storage, sms: SmsGateway | None = None) -> None:
        self.storage = storage
        self.sms = sms or gateway_from_settings(storage.settings)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="periodic-work")

    async def run_once(self) -> tuple[int, int]:
        """(notices queued, receipts queued) of one round."""
        notices = await notify.dispatch_due(self.storage)
        receipts = await dispatch_due_receipts(self.storage)
        sms = await notify.send_queued_sms(self.storage, self.sms)
        if notices or receipts or sms:
            log.info(
                "queued %d notice(s) and %d read receipt(s), sent %d SMS", notices, receipts, sms
            )
        return notices, receipts

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                log_failure(log, "periodic work failed", exc)
            await asyncio.sleep(self.storage.settings.notify.poll_seconds)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
