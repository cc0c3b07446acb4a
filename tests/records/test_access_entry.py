"""records.access: one entry point — the decision, the audit entry in the read's transaction,
first access flagged once, refused attempts audited."""

from __future__ import annotations

import asyncio

import pytest

from espace_sante import audit
from espace_sante.policy.record_access import MASQUE_PS, Operation
from espace_sante.records.access import get_document, read_content
from espace_sante.records.professionals import authorise_professional
from espace_sante.storage.engine import transaction
from fixtures.record_world import (
    DOCTOR_ID,
    STRANGER_ID,
    World,
    audit_actions,
    deposit,
    doctors_only_typed,
)


async def _authorise(world: World, pid: str) -> None:
    async with transaction(world.storage.sessions) as s:
        assert (await authorise_professional(s, world.me, world.patient.account_id, pid)).allowed


async def test_every_content_read_leaves_exactly_one_entry(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc, content=b"%PDF-1.4 the report")
    await _authorise(world, DOCTOR_ID)
    before = len(await audit_actions(st, acc))
    for caller, op in (
        (world.me, Operation.VIEW),
        (world.pro(DOCTOR_ID), Operation.DOWNLOAD),
    ):
        async with transaction(st.sessions) as s:
            out = await read_content(
                s, st, caller, acc, doc, operation=op, profession_may_read=doctors_only_typed
            )
        assert out.allowed and out.content == b"%PDF-1.4 the report"
    entries = (await audit_actions(st, acc))[before:]
    assert [(a, b) for a, b, _ in entries] == [
        (world.patient.address, "document.viewed"),
        (f"ps:{DOCTOR_ID}", "document.downloaded"),
    ]
    assert entries[1][2]["document"] == doc and entries[1][2]["operation"] == "download"
    assert entries[1][2]["reason"] == "authorised" and entries[1][2]["emergency"] is False


async def test_rolled_back_read_leaves_no_entry(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc)
    before = len(await audit_actions(st, acc))
    with pytest.raises(RuntimeError):
        async with transaction(st.sessions) as s:
            out = await read_content(s, st, world.me, acc, doc)
            assert out.allowed
            raise RuntimeError("the page failed")
    assert len(await audit_actions(st, acc)) == before


async def test_no_entry_no_read(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc)
    read: list[str] = []
    original = st.blobs.get

    async def spy(*args: object) -> bytes:
        read.append("read")
        return await original(*args)  # type: ignore[arg-type]

    async def broken(*args: object, **kwargs: object) -> None:
        raise OSError("audit chain unavailable")

    monkeypatch.setattr(st.blobs, "get", spy)
    monkeypatch.setattr(audit, "append", broken)
    with pytest.raises(OSError):
        async with transaction(st.sessions) as s:
            await read_content(s, st, world.me, acc, doc)
    assert read == []


async def test_first_access_flagged_once(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc)
    await _authorise(world, DOCTOR_ID)
    flags = []
    for _ in range(3):
        async with transaction(st.sessions) as s:
            out = await get_document(
                s, world.pro(DOCTOR_ID), acc, doc, profession_may_read=doctors_only_typed
            )
        assert out.allowed
        flags.append(out.first_access)
    assert flags == [True, False, False]
    entries = [d for _, a, d in await audit_actions(st, acc) if a == "document.metadata_read"]
    assert len(entries) == 3 and entries[0].get("first_access") is True


async def test_refused_reads_are_audited_and_give_nothing(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc)
    masked = await deposit(st, acc, visibility={MASQUE_PS})
    await _authorise(world, DOCTOR_ID)
    cases = [
        (world.pro(STRANGER_ID), doc, "not_authorised"),  # not authorised
        (world.pro(DOCTOR_ID), masked, "masked"),  # masked from professionals
    ]
    for caller, doc_id, reason in cases:
        async with transaction(st.sessions) as s:
            out = await read_content(
                s, st, caller, acc, doc_id, profession_may_read=doctors_only_typed
            )
        assert not out.allowed and out.content is None and out.document is None
        assert out.decision.reason == reason
    refused = [
        (a, d["reason"])
        for a, b, d in await audit_actions(st, acc)
        if b == "document.access_refused"
    ]
    assert refused == [(f"ps:{STRANGER_ID}", "not_authorised"), (f"ps:{DOCTOR_ID}", "masked")]


async def test_another_patients_document_is_not_yours(world: World) -> None:
    st = world.storage
    theirs = await deposit(st, world.other.account_id)
    async with transaction(st.sessions) as s:
        out = await read_content(s, st, world.me, world.patient.account_id, theirs)
        other_record = await get_document(s, world.me, world.other.account_id, theirs)
    assert not out.allowed and out.decision.reason == "not_yours"
    assert not out.decision.existence_disclosed
    assert not other_record.allowed
    async with transaction(st.sessions) as s:
        missing = await get_document(s, world.me, world.patient.account_id, 999_999)
    assert missing.decision.reason == "not_found"


async def test_first_access_once_when_two_reads_race(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc)
    await _authorise(world, DOCTOR_ID)

    async def read() -> bool:
        async with transaction(st.sessions) as s:
            out = await get_document(
                s, world.pro(DOCTOR_ID), acc, doc, profession_may_read=doctors_only_typed
            )
            await asyncio.sleep(0.05)  # hold the transaction open while the other one runs
        return out.first_access

    flags = await asyncio.gather(*(read() for _ in range(4)))
    assert sorted(flags) == [False, False, False, True]
