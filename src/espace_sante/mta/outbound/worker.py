"""The delivery worker of one process: claims due rows, delivers them within the per-domain and
total concurrency limits, and settles each one — delivered, retried later with exponential
back-off, or given up (permanent refusal or lifetime over) with a DSN for the sender.

Which failures are reported to whom:
- kind ``reply`` (a patient's or a hosted professional's message) with a real sender: a DSN
  (RFC 3464, French) is queued for the sender, kind ``dsn``, null sender (so it never bounces);
- every other kind (``dsn``, ``mdn``, ``xdm_error_notice`` — all sent with the null sender —
  and ``notification``, ``login_code``): no DSN; the failure is logged and audited on the
  account, never bounced to a patient's personal inbox.
A ``dsn`` row for one of our own accounts is filed straight into its INBOX.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import ssl
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from espace_sante import audit
from espace_sante.accounts.app_passwords import account_by_address
from espace_sante.config import Settings, parse_routes
from espace_sante.mta.localstore import discard_copy, file_message, prepare_copy
from espace_sante.mta.outbound import queue
from espace_sante.mta.outbound.client import AttemptResult, attempt, client_tls_context
from espace_sante.mta.outbound.dsn import Failure, build_dsn
from espace_sante.mta.outbound.queue import ClaimedMessage
from espace_sante.mta.outbound.routing import Router, RoutingError
from espace_sante.storage.engine import transaction
from espace_sante.storage.outbox import enqueue
from espace_sante.storage.runtime import Storage

log = logging.getLogger("espace_sante.outbound")

#: Kinds whose failure is reported to the sender by a DSN (when the sender is not null).
DSN_KINDS = frozenset({"reply"})


def retry_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds before the next try after ``attempts`` failed tries: base, 2·base, 4·base… ≤ cap."""
    return float(min(cap, base * (2 ** max(0, attempts - 1))))


class OutboundWorker:
    """Delivers the outbound queue from this process until stopped."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        *,
        router: Router | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.out = settings.outbound
        self.router = router or Router(parse_routes(self.out.routes))
        self.tls = tls or client_tls_context(settings)
        self.worker_id = f"{os.uname().nodename[:30]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._by_domain: dict[str, int] = defaultdict(int)
        self._domain_slots: dict[str, asyncio.Semaphore] = {}
        self._waiting: dict[int, ClaimedMessage] = {}  # claimed, not yet being delivered

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="outbound-worker")

    def wake(self) -> None:
        """Look at the queue now (something was just queued in this process)."""
        self._wake.set()

    async def stop(self, grace: float = 30.0) -> None:
        """Stop claiming, let deliveries in progress end (up to ``grace``), give back the rest."""
        self._stopping.set()
        self._wake.set()
        if self._loop_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        await queue.release(self.storage, self.worker_id, list(self._waiting))

    async def run_once(self) -> int:
        """Claim what is due now and deliver it; returns how many rows were handled (tests)."""
        claimed = await self._claim()
        await asyncio.gather(*(self._deliver(m) for m in claimed))
        return len(claimed)

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                claimed = await self._claim()
            except Exception:
                log.exception("outbound: claiming from the queue failed")
                claimed = []
            for message in claimed:
                task = asyncio.create_task(self._deliver(message))
                self._tasks.add(task)
                task.add_done_callback(self._done)
            if claimed and len(self._tasks) < self.out.max_concurrency:
                continue  # there may be more due
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.out.poll_interval)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()  # a slot is free
        if not task.cancelled() and task.exception() is not None:
            log.error("outbound: delivery task failed", exc_info=task.exception())

    async def _claim(self) -> list[ClaimedMessage]:
        free = self.out.max_concurrency - len(self._tasks)
        busy = frozenset(
            d for d, n in self._by_domain.items() if n >= self.out.per_domain_concurrency
        )
        claimed = await queue.claim_due(
            self.storage, self.worker_id, limit=free, lease=self.out.lease, exclude_domains=busy
        )
        for message in claimed:
            self._waiting[message.id] = message
        return claimed

    # -- one message -------------------------------------------------------------------------

    async def _deliver(self, message: ClaimedMessage) -> None:
        slots = self._domain_slots.setdefault(
            message.domain, asyncio.Semaphore(self.out.per_domain_concurrency)
        )
        self._by_domain[message.domain] += 1
        keeper = asyncio.create_task(self._keep_lease(message.id))
        try:
            async with slots:
                self._waiting.pop(message.id, None)
                if message.kind == "dsn" and await self._deliver_locally(message):
                    return
                result = await self._attempt(message)
                keeper.cancel()
                await self._settle(message, result)
        finally:
            keeper.cancel()
            self._by_domain[message.domain] -= 1
            if not self._by_domain[message.domain]:
                del self._by_domain[message.domain]
                self._domain_slots.pop(message.domain, None)

    async def _keep_lease(self, message_id: int) -> None:
        """Renew the lease while the message waits for its domain's turn or is being sent, so
        that a slow delivery is not taken over (and sent twice) by another worker."""
        while True:
            await asyncio.sleep(self.out.lease / 3)
            try:
                if not await queue.extend_lease(
                    self.storage, self.worker_id, message_id, self.out.lease
                ):
                    return
            except Exception:  # the database is away: the lease may lapse, nothing is lost
                log.warning("outbound: could not renew the lease of row %d", message_id)

    async def _attempt(self, message: ClaimedMessage) -> AttemptResult:
        try:
            targets = await self.router.targets(message.domain)
        except RoutingError as exc:
            outcome = "permanent" if exc.permanent else "temporary"
            return AttemptResult(outcome, "", exc.enhanced, str(exc), None)
        return await attempt(
            targets,
            mail_from=message.mail_from,
            rcpt_to=message.rcpt_to,
            raw=message.raw,
            tls=self.tls,
            helo=self.settings.mssante.hostname,
            timeout=self.out.timeout,
        )

    async def _settle(self, message: ClaimedMessage, result: AttemptResult) -> None:
        now = datetime.now(UTC)
        lifetime_end = message.created_at + timedelta(seconds=self.out.max_lifetime)
        async with transaction(self.storage.sessions) as session:
            row = await queue.held_row(session, message, self.worker_id)
            if row is None:
                log.warning("outbound: row %d was taken over before it was settled", message.id)
                return
            row.claimed_by = None
            row.lease_until = None
            row.last_code = result.code[:16] or None
            row.remote_host = result.host
            if result.outcome == "delivered":
                row.status = queue.DELIVERED
                row.delivered_at = now
                row.last_error = None
                row.raw = b""  # delivered: keep no copy of the content here
                await self._audit(session, message, "outbound.delivered", result, now)
                return
            row.last_error = result.text[:2000]
            if result.outcome == "temporary" and now < lifetime_end:
                delay = retry_delay(message.attempts, self.out.retry_base, self.out.retry_max)
                row.status = queue.QUEUED
                row.next_attempt_at = min(now + timedelta(seconds=delay), lifetime_end)
                return
            expired = result.outcome == "temporary"
            row.status = queue.EXPIRED if expired else queue.FAILED
            # RFC 3463: 5.4.7 "delivery time expired"; a refusal keeps the peer's own status
            status = "5.4.7" if expired else result.enhanced
            if message.kind in DSN_KINDS and message.mail_from not in ("", "<>"):
                failure = Failure(
                    recipient=message.rcpt_to,
                    status=status,
                    diagnostic=result.text or "délai de remise dépassé / delivery time expired",
                    remote_host=result.host,
                    expired=expired,
                    attempts=message.attempts,
                    arrival=message.created_at,
                    last_attempt=now,
                )
                report = build_dsn(
                    original=message.raw,
                    failure=failure,
                    reporting_mta=self.settings.mssante.hostname,
                    postmaster=self.settings.mssante.postmaster,
                    to=message.mail_from,
                )
                await enqueue(
                    session,
                    kind="dsn",
                    mail_from="",
                    recipients=[message.mail_from],
                    raw=report,
                    account_id=message.account_id,
                    at=now,
                )
                row.dsn_sent = True
            else:
                log.warning(
                    "outbound: %s to <%s> given up (%s), no DSN for this kind",
                    message.kind,
                    message.rcpt_to,
                    result.text[:200],
                )
            row.raw = b""  # given up: the sender keeps their copy; the DSN carries the headers
            await self._audit(
                session, message, "outbound.expired" if expired else "outbound.failed", result, now
            )

    async def _audit(
        self,
        session: Any,
        message: ClaimedMessage,
        action: str,
        result: AttemptResult,
        now: datetime,
    ) -> None:
        if message.account_id is None:
            return
        await audit.append(
            session,
            account_id=message.account_id,
            actor="outbound",
            action=action,
            detail={
                "queue_id": message.id,
                "kind": message.kind,
                "recipient": message.rcpt_to,
                "attempts": message.attempts,
                "code": result.code,
                "host": result.host,
            },
            at=now,
        )

    async def _deliver_locally(self, message: ClaimedMessage) -> bool:
        """File a DSN for one of our own accounts into its INBOX; False if the recipient is
        not ours (then it goes out by SMTP like any other row)."""
        async with self.storage.sessions() as session:
            account = await account_by_address(session, message.rcpt_to)
        if account is None:
            return False
        copy = await prepare_copy(self.storage, account.id, message.raw)
        now = datetime.now(UTC)
        try:
            async with transaction(self.storage.sessions) as session:
                row = await queue.held_row(session, message, self.worker_id)
                if row is None:
                    raise _TakenOver
                await file_message(session, copy, folder="INBOX", at=now)
                row.status = queue.DELIVERED
                row.delivered_at = now
                row.claimed_by = None
                row.lease_until = None
                row.remote_host = "local"
                row.last_code = "250"
                row.raw = b""
                await audit.append(
                    session,
                    account_id=account.id,
                    actor="outbound",
                    action="dsn.received",
                    detail={"queue_id": message.id},
                    at=now,
                )
        except BaseException as exc:
            await asyncio.shield(asyncio.to_thread(discard_copy, self.storage, copy))
            if isinstance(exc, _TakenOver):
                return True
            raise
        return True


class _TakenOver(Exception):
    pass
