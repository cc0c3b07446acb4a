"""records.professionals: authorising (by the patient, at a consultation), blocking and
unblocking, the attending physician (not blockable), the list of who can see the record."""

from __future__ import annotations

from espace_sante.records.access import get_document
from espace_sante.records.professionals import (
    authorise_professional,
    block_professional,
    list_professionals,
    revoke_authorisation,
    set_attending_physician,
    unblock_professional,
)
from espace_sante.storage.engine import transaction
from fixtures.record_world import (
    DOCTOR_ID,
    NURSE_ID,
    STRANGER_ID,
    World,
    audit_actions,
    deposit,
    doctors_only_typed,
)


async def _sees(world: World, pid: str, doc: int) -> bool:
    async with transaction(world.storage.sessions) as s:
        out = await get_document(
            s, world.pro(pid), world.patient.account_id, doc, profession_may_read=doctors_only_typed
        )
    return out.allowed


async def test_authorise_block_unblock(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc)
    assert not await _sees(world, DOCTOR_ID, doc)
    async with transaction(st.sessions) as s:
        out = await authorise_professional(s, world.me, acc, DOCTOR_ID)
    assert out.allowed and out.state == "authorised"
    assert await _sees(world, DOCTOR_ID, doc)
    async with transaction(st.sessions) as s:
        assert (await block_professional(s, world.me, acc, DOCTOR_ID)).state == "blocked"
    assert not await _sees(world, DOCTOR_ID, doc)
    async with transaction(st.sessions) as s:
        # Blocked: neither the patient's authorisation nor a consultation lets them in.
        again = await authorise_professional(s, world.me, acc, DOCTOR_ID)
        consult = await authorise_professional(
            s, world.pro(DOCTOR_ID), acc, DOCTOR_ID, via="consultation"
        )
    assert again.decision.reason == consult.decision.reason == "blocked"
    async with transaction(st.sessions) as s:
        assert (await unblock_professional(s, world.me, acc, DOCTOR_ID)).state == "none"
    assert not await _sees(world, DOCTOR_ID, doc)  # a new authorisation is needed
    async with transaction(st.sessions) as s:
        consult = await authorise_professional(
            s, world.pro(DOCTOR_ID), acc, DOCTOR_ID, via="consultation"
        )
    assert consult.allowed and await _sees(world, DOCTOR_ID, doc)
    async with transaction(st.sessions) as s:
        assert (await revoke_authorisation(s, world.me, acc, DOCTOR_ID)).state == "none"
    assert not await _sees(world, DOCTOR_ID, doc)
    actions = [b for _, b, _ in await audit_actions(st, acc)]
    for action in (
        "authorisation.granted",
        "authorisation.blocked",
        "authorisation.unblocked",
        "authorisation.revoked",
    ):
        assert action in actions


async def test_consultation_only_for_oneself(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    async with transaction(st.sessions) as s:
        out = await authorise_professional(
            s, world.pro(NURSE_ID, "60"), acc, DOCTOR_ID, via="consultation"
        )
        by_stranger = await authorise_professional(s, world.pro(NURSE_ID), acc, DOCTOR_ID)
        closed = await authorise_professional(
            s, world.pro(DOCTOR_ID), world.other.account_id + 10_000, DOCTOR_ID, via="consultation"
        )
    assert not out.allowed and not by_stranger.allowed and not closed.allowed


async def test_attending_physician_is_not_blockable(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc)
    async with transaction(st.sessions) as s:
        assert (await set_attending_physician(s, world.me, acc, STRANGER_ID)).allowed
        out = await block_professional(s, world.me, acc, STRANGER_ID)
    assert not out.allowed and out.decision.reason == "attending_not_blockable"
    assert await _sees(world, STRANGER_ID, doc)
    async with transaction(st.sessions) as s:
        await set_attending_physician(s, world.me, acc, None)
        assert (await block_professional(s, world.me, acc, STRANGER_ID)).allowed
    assert not await _sees(world, STRANGER_ID, doc)
    actions = [b for _, b, _ in await audit_actions(st, acc)]
    assert "authorisation.block_refused" in actions and "attending_physician.cleared" in actions


async def test_only_the_holder_manages(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    async with transaction(st.sessions) as s:
        by_pro = await block_professional(s, world.pro(DOCTOR_ID), acc, NURSE_ID)
        by_other_patient = await set_attending_physician(
            s, world.parent, acc, DOCTOR_ID
        )  # the guardian of another child
        for_child = await authorise_professional(s, world.parent, world.child.account_id, NURSE_ID)
    assert not by_pro.allowed and not by_other_patient.allowed
    assert for_child.allowed


async def test_list_of_professionals(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc)
    async with transaction(st.sessions) as s:
        await authorise_professional(s, world.me, acc, DOCTOR_ID)
        await block_professional(s, world.me, acc, NURSE_ID)
        await set_attending_physician(s, world.me, acc, STRANGER_ID)
    assert await _sees(world, DOCTOR_ID, doc)
    async with transaction(st.sessions) as s:
        decision, views = await list_professionals(s, world.me, acc)
    assert decision.allowed
    by_id = {v.professional_id: v for v in views}
    assert set(by_id) == {DOCTOR_ID, NURSE_ID, STRANGER_ID}
    assert views[0].professional_id == STRANGER_ID and views[0].attending_physician
    assert by_id[DOCTOR_ID].can_see and by_id[DOCTOR_ID].family_name == "GENERALISTE"
    assert by_id[DOCTOR_ID].last_access_at is not None
    assert by_id[NURSE_ID].state == "blocked" and not by_id[NURSE_ID].can_see
    assert by_id[NURSE_ID].profession_label == "Infirmier"
    async with transaction(st.sessions) as s:
        refused, none = await list_professionals(s, world.pro(DOCTOR_ID), acc)
    assert not refused.allowed and none == []
