"""records.emergency: the three consents, break-glass and SAMU grants with a stated reason and a
limited time; an expired grant gives nothing; every emergency access audited and flagged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from espace_sante.config import RecordsSettings, load_settings
from espace_sante.policy.record_access import MASQUE_PS, ActorKind
from espace_sante.records.access import get_document, read_content
from espace_sante.records.emergency import (
    end_emergency_access,
    get_consents,
    open_emergency_access,
    set_consents,
)
from espace_sante.records.professionals import block_professional
from espace_sante.storage.engine import transaction
from fixtures.record_world import EMERGENCY_ID, World, audit_actions, deposit, doctors_only_typed

SETTINGS = RecordsSettings(break_glass_minutes=30)


def _urgentist(world: World, kind: ActorKind = ActorKind.BREAK_GLASS):  # type: ignore[no-untyped-def]
    return world.pro(EMERGENCY_ID, kind=kind)


async def test_break_glass_grant_reads_and_is_flagged(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc)
    masked = await deposit(st, acc, visibility={MASQUE_PS})
    caller = _urgentist(world)
    async with transaction(st.sessions) as s:
        before = await get_document(s, caller, acc, doc, profession_may_read=doctors_only_typed)
    assert before.decision.reason == "no_emergency_grant"
    now = datetime.now(UTC)
    async with transaction(st.sessions) as s:
        out = await open_emergency_access(
            s, caller, acc, reason="  Patient inconscient  ", settings=SETTINGS, now=now
        )
    assert out.allowed and out.emergency and out.grant is not None
    assert out.grant.reason == "Patient inconscient"
    assert out.grant.expires_at == now + timedelta(minutes=30)
    async with transaction(st.sessions) as s:
        read = await read_content(s, st, caller, acc, doc, profession_may_read=doctors_only_typed)
        shown_masked = await get_document(
            s, caller, acc, masked, profession_may_read=doctors_only_typed
        )
    assert read.allowed and read.emergency and read.first_access
    assert shown_masked.allowed  # masked documents show in an emergency by default
    entries = await audit_actions(st, acc)
    opened = [d for _, a, d in entries if a == "emergency.access_opened"]
    assert opened and opened[0]["stated_reason"] == "Patient inconscient"
    viewed = [d for _, a, d in entries if a == "document.viewed"]
    assert viewed[-1]["emergency"] is True


async def test_expired_grant_gives_nothing(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc)
    caller = _urgentist(world)
    then = datetime.now(UTC) - timedelta(hours=2)
    async with transaction(st.sessions) as s:
        assert (
            await open_emergency_access(s, caller, acc, reason="AVP", settings=SETTINGS, now=then)
        ).allowed
    async with transaction(st.sessions) as s:
        out = await read_content(s, st, caller, acc, doc, profession_may_read=doctors_only_typed)
    assert not out.allowed and out.content is None and out.decision.reason == "no_emergency_grant"
    # Still running a minute before the end, over at the end.
    async with transaction(st.sessions) as s:
        inside = await get_document(
            s,
            caller,
            acc,
            doc,
            now=then + timedelta(minutes=29),
            profession_may_read=doctors_only_typed,
        )
        at_end = await get_document(
            s,
            caller,
            acc,
            doc,
            now=then + timedelta(minutes=30),
            profession_may_read=doctors_only_typed,
        )
    assert inside.allowed and not at_end.allowed


async def test_ended_grant_gives_nothing(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc)
    caller = _urgentist(world)
    async with transaction(st.sessions) as s:
        grant = (await open_emergency_access(s, caller, acc, reason="AVP", settings=SETTINGS)).grant
    assert grant is not None
    async with transaction(st.sessions) as s:
        assert await end_emergency_access(s, caller, acc, grant.id)
        assert not await end_emergency_access(s, caller, acc, grant.id)
    async with transaction(st.sessions) as s:
        assert not (
            await get_document(s, caller, acc, doc, profession_may_read=doctors_only_typed)
        ).allowed


async def test_consents_refuse_and_are_audited(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    masked = await deposit(st, acc, visibility={MASQUE_PS})
    async with transaction(st.sessions) as s:
        initial = await get_consents(s, world.me, acc)
        changed = await set_consents(s, world.me, acc, break_glass=False, masked_documents=False)
        refused_pro = await set_consents(s, world.pro(EMERGENCY_ID), acc, samu=False)
    assert initial.consents is not None and initial.consents.break_glass
    assert changed.consents is not None and not changed.consents.break_glass
    assert changed.consents.samu and not refused_pro.decision.allowed
    async with transaction(st.sessions) as s:
        glass = await open_emergency_access(
            s, _urgentist(world), acc, reason="x", settings=SETTINGS
        )
        samu = await open_emergency_access(
            s, _urgentist(world, ActorKind.SAMU), acc, reason="appel 15", settings=SETTINGS
        )
    assert glass.decision.reason == "emergency_refused" and glass.grant is None
    assert samu.allowed
    async with transaction(st.sessions) as s:
        out = await get_document(
            s,
            _urgentist(world, ActorKind.SAMU),
            acc,
            masked,
            profession_may_read=doctors_only_typed,
        )
    assert out.decision.reason == "masked"  # the patient refused masked documents in emergencies
    actions = [b for _, b, _ in await audit_actions(st, acc)]
    assert "emergency.consents_changed" in actions and "emergency.access_refused" in actions


async def test_reason_required_and_block_holds(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    async with transaction(st.sessions) as s:
        empty = await open_emergency_access(
            s, _urgentist(world), acc, reason="  ", settings=SETTINGS
        )
        plain = await open_emergency_access(
            s, world.pro(EMERGENCY_ID), acc, reason="x", settings=SETTINGS
        )
        await block_professional(s, world.me, acc, EMERGENCY_ID)
        blocked = await open_emergency_access(
            s, _urgentist(world), acc, reason="x", settings=SETTINGS
        )
    assert empty.decision.reason == "reason_required"
    assert plain.decision.reason == "not_emergency_actor"
    assert blocked.decision.reason == "blocked"


def test_records_settings_defaults_and_environment() -> None:
    s = load_settings(path=None, environ={})
    assert (s.records.break_glass_minutes, s.records.upload_max_bytes) == (60, 5 * 1024 * 1024)
    s = load_settings(path=None, environ={"ESPACE_RECORDS_BREAK_GLASS_MINUTES": "15"})
    assert s.records.break_glass_minutes == 15
