"""The periodic work of a worker process: notices whose batching window has passed, and read
receipts that became due. Several workers may run it at once (rows are claimed in
transactions), and a failure is logged without content and retried at the next round."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from espace_sante import notify
from espace_sante.mailbox.imap.errors import log_failure
from espace_sante.mta.receipts import dispatch_due_receipts
from espace_sante.storage.runtime import Storage

log = logging.getLogger(__name__)


class PeriodicWork:
    """Runs every ``notify.poll_seconds``: notices, then read receipts."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="periodic-work")

    async def run_once(self) -> tuple[int, int]:
        """(notices queued, receipts queued) of one round."""
        notices = await notify.dispatch_due(self.storage)
        receipts = await dispatch_due_receipts(self.storage)
        if notices or receipts:
            log.info("queued %d notice(s) and %d read receipt(s)", notices, receipts)
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
