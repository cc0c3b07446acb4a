"""Submission AUTH shares the process's bounded pool of password checks with IMAP
(``accounts.password_checks``): when it is full, AUTH is refused at once, temporarily."""

from __future__ import annotations

import asyncio
import ssl
import threading

import aiosmtplib
import pytest
from sqlalchemy import select

from espace_sante.accounts import password_checks
from espace_sante.mta.submission import SubmissionListener
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import LoginThrottle
from submission.conftest import World, connect


async def test_auth_is_refused_with_454_while_every_password_check_is_taken(
    submission: SubmissionListener, world: World, client_tls: ssl.SSLContext, storage: Storage
) -> None:
    """RFC 4954 §6 ``454 4.7.0 Temporary authentication failure``: the password was not
    checked, nothing is counted towards the lock, and AUTH succeeds once a check is free."""
    pool = password_checks.pool()
    assert (pool.workers, pool.queue) == (
        submission.settings.mail_login.password_checks,
        submission.settings.mail_login.password_check_queue,
    )
    gate = threading.Event()
    held = [asyncio.ensure_future(pool.run(lambda: gate.wait(30))) for _ in range(pool.workers)]
    held += [asyncio.ensure_future(pool.run(lambda: gate.wait(30))) for _ in range(pool.queue)]
    await asyncio.sleep(0)
    try:
        assert pool.accepted == pool.workers + pool.queue
        client = await connect(submission, client_tls)
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
            await client.auth_plain(world.patient.address, world.patient.password)
        assert refused.value.code == 454 and "4.7.0" in refused.value.message
    finally:
        gate.set()
        await asyncio.gather(*held)
    async with storage.sessions() as session:
        assert (await session.execute(select(LoginThrottle))).first() is None
    assert (await client.auth_plain(world.patient.address, world.patient.password)).code == 235
    await client.quit()
