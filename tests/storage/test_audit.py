"""The audit log: hash-chained per account, and tampering is detected."""

from __future__ import annotations

from sqlalchemy import delete, update

from espace_sante import audit
from espace_sante.storage.engine import transaction
from espace_sante.storage.runtime import Storage
from espace_sante.storage.schema import AuditEntry


async def _fill(storage: Storage) -> None:
    for i in range(5):
        async with transaction(storage.sessions) as s:
            await audit.append(
                s, account_id=1, actor="dr", action="message.received", detail={"i": i}
            )
            await audit.append(
                s, account_id=2, actor="dr", action="document.deposited", detail={"i": i}
            )


async def test_chains_verify(storage: Storage) -> None:
    await _fill(storage)
    async with storage.sessions() as s:
        assert await audit.verify(s) == []
        assert await audit.verify(s, account_id=1) == []


async def test_altered_entry_is_detected(storage: Storage) -> None:
    await _fill(storage)
    async with transaction(storage.sessions) as s:
        await s.execute(
            update(AuditEntry)
            .where(AuditEntry.account_id == 1, AuditEntry.seq == 3)
            .values(detail='{"i":99}')
        )
    async with storage.sessions() as s:
        problems = await audit.verify(s)
    assert [(p.account_id, p.seq) for p in problems] == [(1, 3)]


async def test_removed_entry_and_truncation_are_detected(storage: Storage) -> None:
    await _fill(storage)
    async with transaction(storage.sessions) as s:
        await s.execute(delete(AuditEntry).where(AuditEntry.account_id == 2, AuditEntry.seq == 2))
        await s.execute(delete(AuditEntry).where(AuditEntry.account_id == 1, AuditEntry.seq == 5))
    async with storage.sessions() as s:
        problems = await audit.verify(s)
    reasons = {(p.account_id, p.reason.split(":")[0]) for p in problems}
    assert (2, "gap") in reasons
    assert any(acc == 1 and "head" in reason for acc, reason in reasons)


async def test_rolled_back_transaction_leaves_no_entry(storage: Storage) -> None:
    class Boom(Exception):
        pass

    try:
        async with transaction(storage.sessions) as s:
            await audit.append(s, account_id=5, actor="x", action="y")
            raise Boom
    except Boom:
        pass
    async with storage.sessions() as s:
        assert await audit.verify(s) == []
        assert (await s.get(AuditEntry, 1)) is None
