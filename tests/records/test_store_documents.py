"""records.documents: lists never show nor count a refused document; filters, paging, 10,000
documents; version chains filtered by the decision."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select

from espace_sante.policy.record_access import (
    INVISIBLE_PATIENT,
    INVISIBLE_REPRESENTANTS_LEGAUX,
    MASQUE_PS,
    ActorKind,
    DocumentStatus,
    Operation,
    decide,
)
from espace_sante.records.access import Caller
from espace_sante.records.changes import replace_document, set_archived
from espace_sante.records.deposit import NewDocument
from espace_sante.records.documents import DocumentQuery, list_documents, version_chain
from espace_sante.records.emergency import open_emergency_access
from espace_sante.records.facts import document_facts, record_facts
from espace_sante.records.professionals import authorise_professional, set_attending_physician
from espace_sante.storage.blob_rows import store_blob
from espace_sante.storage.engine import transaction
from espace_sante.storage.schema import Blob, Document
from fixtures.record_world import (
    AUTHOR_ID,
    DOCTOR_ID,
    EMERGENCY_ID,
    NURSE_ID,
    STRANGER_ID,
    World,
    audit_actions,
    deposit,
    doctors_only_typed,
)

_DOCS = cast(Table, Document.__table__)


async def _ids(
    world: World, caller: Caller, account_id: int, **query: Any
) -> tuple[list[int], int]:
    async with transaction(world.storage.sessions) as s:
        page = await list_documents(
            s, caller, account_id, DocumentQuery(**query), profession_may_read=doctors_only_typed
        )
    return [d.id for d in page.documents], page.total


async def test_patient_list_hides_and_does_not_count_invisible_patient(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    shown = await deposit(st, acc, title="Visible")
    await deposit(st, acc, title="Résultat à annoncer", visibility={INVISIBLE_PATIENT})
    await deposit(st, world.other.account_id, title="Someone else's")
    ids, total = await _ids(world, world.me, acc)
    assert (ids, total) == ([shown], 1)


async def test_guardian_list_hides_invisible_to_representatives(world: World) -> None:
    st, acc = world.storage, world.child.account_id
    shown = await deposit(st, acc, title="Carnet")
    await deposit(
        st, acc, title="Consultation confidentielle", visibility={INVISIBLE_REPRESENTANTS_LEGAUX}
    )
    await deposit(st, acc, title="En attente", visibility={INVISIBLE_PATIENT})
    assert await _ids(world, world.parent, acc) == ([shown], 1)
    # The guardian has no access to another record, the patient none to the child's.
    assert await _ids(world, world.parent, world.patient.account_id) == ([], 0)
    assert await _ids(world, world.me, acc) == ([], 0)


async def test_professional_list_hides_masked_and_audits(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    plain = await deposit(st, acc, title="Plain")
    await deposit(st, acc, title="Masked", visibility={MASQUE_PS})
    async with transaction(st.sessions) as s:
        await authorise_professional(s, world.me, acc, DOCTOR_ID)
    ids, total = await _ids(world, world.pro(DOCTOR_ID), acc)
    assert (ids, total) == ([plain], 1)
    # The author sees their own masked document; the attending physician sees it too.
    assert (await _ids(world, world.pro(AUTHOR_ID), acc))[1] == 2
    async with transaction(st.sessions) as s:
        await set_attending_physician(s, world.me, acc, STRANGER_ID)
    assert (await _ids(world, world.pro(STRANGER_ID), acc))[1] == 2
    listed = [(a, d) for a, b, d in await audit_actions(st, acc) if b == "record.listed"]
    assert listed[0][0] == f"ps:{DOCTOR_ID}" and listed[0][1]["documents"] == [plain]


async def test_unauthorised_professional_lists_nothing_and_is_audited(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    await deposit(st, acc)
    assert await _ids(world, world.pro(STRANGER_ID), acc) == ([], 0)
    actions = [(a, b) for a, b, _ in await audit_actions(st, acc)]
    assert actions[-1] == (f"ps:{STRANGER_ID}", "record.access_refused")


async def _varied_record(world: World) -> list[int]:
    """Documents in every combination of visibility codes, authors and types."""
    st, acc = world.storage, world.patient.account_id
    ids = []
    codes = [INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX, MASQUE_PS]
    for n in range(len(codes) + 1):
        for combo in itertools.combinations(codes, n):
            for author in (AUTHOR_ID, DOCTOR_ID, None):
                for type_code in ("11488-4", "11502-2", None):
                    ids.append(
                        await deposit(
                            st, acc, visibility=combo, author_id=author, type_code=type_code
                        )
                    )
    return ids


async def test_list_agrees_with_decide_for_every_actor(world: World) -> None:
    """The SQL form of the decision shows exactly what ``decide`` allows, for each actor."""
    st, acc = world.storage, world.patient.account_id
    await _varied_record(world)
    async with transaction(st.sessions) as s:
        await authorise_professional(s, world.me, acc, DOCTOR_ID)
        await authorise_professional(s, world.me, acc, NURSE_ID)
        await set_attending_physician(s, world.me, acc, STRANGER_ID)
    emergency = world.pro(EMERGENCY_ID, kind=ActorKind.BREAK_GLASS)
    async with transaction(st.sessions) as s:
        from espace_sante.config import RecordsSettings

        assert (
            await open_emergency_access(
                s, emergency, acc, reason="coma", settings=RecordsSettings()
            )
        ).allowed
    actors = [
        world.me,
        world.pro(DOCTOR_ID),
        world.pro(NURSE_ID, "60"),
        world.pro(AUTHOR_ID),
        world.pro(STRANGER_ID),
        world.pro("810000009999"),
        emergency,
    ]
    now = datetime.now(UTC)
    async with st.sessions() as s:
        rows = list((await s.execute(select(Document).where(Document.account_id == acc))).scalars())
        record = await record_facts(s, acc, now=now)
    for actor in actors:
        expected = sorted(
            r.id
            for r in rows
            if decide(
                actor.actor,
                Operation.LIST,
                document_facts(r),
                record,
                profession_may_read=doctors_only_typed,
                now=now,
            ).allowed
        )
        ids, total = await _ids(world, actor, acc, limit=200)
        assert sorted(ids) == expected, actor
        assert total == len(expected)


async def test_filters_and_paging(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    base = datetime(2026, 1, 1, tzinfo=UTC)
    made = []
    for i in range(12):
        made.append(
            await deposit(
                st,
                acc,
                title=f"Bilan 100%_{i}" if i % 3 == 0 else f"Ordonnance {i}",
                class_code="10" if i % 3 == 0 else "42",
                type_code="11502-2" if i % 3 == 0 else "57833-6",
                author_person="Dr Élise MARTIN" if i % 2 else "Dr Paul DURAND",
                at=base + timedelta(days=i),
                creation_time=base + timedelta(days=i) - timedelta(hours=1),
            )
        )
    ids, total = await _ids(world, world.me, acc, limit=5)
    assert total == 12 and ids == made[::-1][:5]  # newest first
    ids2, _ = await _ids(world, world.me, acc, limit=5, offset=10)
    assert ids2 == made[::-1][10:]
    bio, n = await _ids(world, world.me, acc, category="biologie")
    assert n == 4 and sorted(bio) == [made[i] for i in (0, 3, 6, 9)]
    _, n = await _ids(world, world.me, acc, category="ordonnances")
    assert n == 8
    _, n = await _ids(world, world.me, acc, author="durand")
    assert n == 6
    # LIKE wildcards are searched for literally.
    found, n = await _ids(world, world.me, acc, search="100%_")
    assert n == 4 and made[0] in found
    assert (await _ids(world, world.me, acc, search="%"))[1] == 4
    assert (await _ids(world, world.me, acc, search="ORDONNANCE 1"))[1] == 3  # 1, 10, 11
    window = {"period_from": base + timedelta(days=2), "period_to": base + timedelta(days=4)}
    # On the creation date (an hour before each deposit): days 3 and 4 only.
    assert sorted((await _ids(world, world.me, acc, **window))[0]) == made[3:5]
    assert sorted((await _ids(world, world.me, acc, period_on="deposit", **window))[0]) == made[2:5]


async def test_archived_and_superseded(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    old = await deposit(st, acc, title="v1")
    archived = await deposit(st, acc, title="archived")
    async with transaction(st.sessions) as s:
        await authorise_professional(s, world.me, acc, AUTHOR_ID)
        assert (await set_archived(s, world.me, acc, archived)).allowed
        blob = await store_blob(s, st, acc, b"v2")
        out = await replace_document(
            s,
            world.pro(AUTHOR_ID),
            acc,
            old,
            NewDocument(
                blob_id=blob.id,
                source="fhir",
                title="v2",
                mime_type="text/plain",
                size=2,
                sha1="x" * 40,
            ),
            profession_may_read=doctors_only_typed,
        )
        assert out.allowed and out.replacement is not None
        new = out.replacement.id
    assert (await _ids(world, world.me, acc))[0] == [new]
    assert sorted((await _ids(world, world.me, acc, include_archived=True))[0]) == [archived, new]
    everything = frozenset(DocumentStatus)
    assert sorted((await _ids(world, world.me, acc, statuses=everything))[0]) == [old, new]
    assert (await _ids(world, world.pro(AUTHOR_ID), acc))[0] == [new]


async def test_version_chain_filtered_by_the_decision(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    v1 = await deposit(st, acc, title="v1", visibility={MASQUE_PS})
    async with transaction(st.sessions) as s:
        await authorise_professional(s, world.me, acc, DOCTOR_ID)
    ids = [v1]
    for n in (2, 3):
        async with transaction(st.sessions) as s:
            blob = await store_blob(s, st, acc, f"v{n}".encode())
            out = await replace_document(
                s,
                world.pro(AUTHOR_ID),
                acc,
                ids[-1],
                NewDocument(
                    blob_id=blob.id,
                    source="fhir",
                    title=f"v{n}",
                    mime_type="text/plain",
                    size=2,
                    sha1="y" * 40,
                    type_code="11488-4",
                ),
            )
            assert out.allowed and out.replacement is not None
            ids.append(out.replacement.id)
    async with transaction(st.sessions) as s:
        chain = await version_chain(s, world.me, acc, ids[1])
    assert chain.document is not None and chain.document.id == ids[1]
    assert [d.id for d in chain.older] == [v1] and [d.id for d in chain.newer] == [ids[2]]
    async with st.sessions() as s:
        statuses = [(await s.get(Document, i)).status for i in ids]  # type: ignore[union-attr]
    assert statuses == ["superseded", "superseded", "approved"]
    # The authorised doctor does not see the masked first version.
    async with transaction(st.sessions) as s:
        chain = await version_chain(
            s, world.pro(DOCTOR_ID), acc, ids[2], profession_may_read=doctors_only_typed
        )
    assert [d.id for d in chain.older] == [ids[1]]
    async with transaction(st.sessions) as s:
        refused = await version_chain(
            s, world.pro(DOCTOR_ID), acc, v1, profession_may_read=doctors_only_typed
        )
    assert not refused.decision.allowed and refused.document is None


async def test_ten_thousand_documents(world: World) -> None:
    """A record of 10,000 documents: one page and one count, the refused never counted."""
    st, acc = world.storage, world.patient.account_id
    base = datetime(2020, 1, 1, tzinfo=UTC)
    async with transaction(st.sessions) as s:
        blob = await store_blob(s, st, acc, b"shared")
        rows = []
        for i in range(10_000):
            codes = []
            if i % 10 == 0:
                codes.append(INVISIBLE_PATIENT)
            if i % 7 == 0:
                codes.append(MASQUE_PS)
            rows.append(
                {
                    "account_id": acc, "blob_id": blob.id, "source": "xdm", "title": f"Doc {i}",
                    "mime_type": "application/pdf", "size": 6, "sha1": "z" * 40,
                    "class_code": "10", "type_code": "11488-4", "metadata_json": {},
                    "author_person": "Dr X", "deposited_by": "x",
                    "deposited_at": base + timedelta(minutes=i),
                    "status": "approved", "visibility": " ".join(sorted(codes)),
                    "category": "biologie" if i % 4 == 0 else "comptes_rendus",
                    "author_professional_id": AUTHOR_ID, "archived": False,
                    "updated_at": base,
                }
            )  # fmt: skip
        await s.execute(insert(_DOCS), rows)
        await authorise_professional(s, world.me, acc, DOCTOR_ID)
    hidden_from_patient = sum(1 for i in range(10_000) if i % 10 == 0)
    ids, total = await _ids(world, world.me, acc, limit=50)
    assert total == 10_000 - hidden_from_patient and len(ids) == 50
    masked = sum(1 for i in range(10_000) if i % 7 == 0)
    async with transaction(st.sessions) as s:
        page = await list_documents(
            s, world.pro(DOCTOR_ID), acc, DocumentQuery(limit=20, offset=100, category="biologie"),
            profession_may_read=doctors_only_typed,
        )  # fmt: skip
    expected = sum(1 for i in range(10_000) if i % 4 == 0 and i % 7 != 0)
    assert page.total == expected and len(page.documents) == 20
    assert all(MASQUE_PS not in d.visibility for d in page.documents)
    assert masked > 0
    async with st.sessions() as s:
        assert (await s.execute(select(Blob.id).where(Blob.id == blob.id))).scalar() == blob.id


async def test_the_documents_of_one_message_by_its_message_id(world: World) -> None:
    mid, other_mid = "<cr-1@medecin.mssante.fr>", "<cr-2@medecin.mssante.fr>"
    a = await deposit(world.storage, world.patient.account_id, metadata={"message_id": mid})
    b = await deposit(
        world.storage, world.patient.account_id, source="attachment", metadata={"message_id": mid}
    )
    hidden = await deposit(
        world.storage, world.patient.account_id, visibility=[INVISIBLE_PATIENT],
        metadata={"message_id": mid},
    )  # fmt: skip
    await deposit(world.storage, world.patient.account_id, metadata={"message_id": other_mid})
    await deposit(world.storage, world.other.account_id, metadata={"message_id": mid})
    patient = Caller.patient(world.patient.account_id, world.patient.address)
    ids, total = await _ids(world, patient, world.patient.account_id, message_id=mid)
    assert sorted(ids) == sorted([a, b]) and total == 2 and hidden not in ids
    like = "<cr-%@medecin.mssante.fr>"  # compared whole, never as a pattern
    assert await _ids(world, patient, world.patient.account_id, message_id=like) == ([], 0)
