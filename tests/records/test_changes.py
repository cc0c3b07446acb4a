"""records.changes and records.upload: masking, replacing, deleting, archiving, deprecating,
lifting INVISIBLE_PATIENT — each through the policy and audited."""

from __future__ import annotations

from sqlalchemy import select

from espace_sante.config import RecordsSettings
from espace_sante.policy.record_access import INVISIBLE_PATIENT, MASQUE_PS
from espace_sante.records.access import get_document
from espace_sante.records.changes import (
    delete_document,
    deprecate_document,
    lift_invisible_patient,
    mask_document,
    set_archived,
)
from espace_sante.records.upload import Upload, upload_document
from espace_sante.storage.engine import transaction
from espace_sante.storage.schema import Blob, Document
from fixtures.record_world import (
    AUTHOR_ID,
    DOCTOR_ID,
    World,
    audit_actions,
    deposit,
    doctors_only_typed,
)
from fixtures.store_queries import blob_files

SETTINGS = RecordsSettings()


async def _upload(world: World, caller: object = None, **kw: object) -> int:
    st = world.storage
    caller = caller or world.me
    account = world.child.account_id if caller == world.parent else world.patient.account_id
    async with transaction(st.sessions) as s:
        out = await upload_document(
            s,
            st,
            caller,  # type: ignore[arg-type]
            account,
            Upload(
                data=kw.pop("data", b"%PDF-1.4 mine"),  # type: ignore[arg-type]
                mime_type="application/pdf",
                filename="analyse.pdf",
                title="Mon analyse",
                **kw,  # type: ignore[arg-type]
            ),
            settings=SETTINGS,
        )
    assert out.allowed and out.document is not None, out.decision
    return out.document.id


async def test_upload_is_a_class_90_document_of_the_patient(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await _upload(world, type_code="DOCPAT04")
    async with st.sessions() as s:
        row = await s.get(Document, doc)
    assert row is not None
    assert (row.class_code, row.source, row.category) == ("90", "upload", "mes_documents")
    assert row.uploaded_by_account_id == acc and row.author_professional_id is None
    assert row.author_person == "Test PATIENTE"
    actions = [(a, b) for a, b, _ in await audit_actions(st, acc)]
    assert actions[-1] == (world.patient.address, "document.uploaded")
    # A guardian uploads to the child's record, as themselves.
    child_doc = await _upload(world, world.parent, category="vaccination")
    async with st.sessions() as s:
        row = await s.get(Document, child_doc)
    assert row is not None and row.uploaded_by_account_id == world.guardian.account_id
    assert row.category == "vaccination" and row.account_id == world.child.account_id


async def test_upload_limits(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    files = blob_files(st)
    async with transaction(st.sessions) as s:
        too_big = await upload_document(
            s, st, world.me, acc,
            Upload(b"x" * 2048, "application/pdf", "a.pdf", "A"),
            settings=RecordsSettings(upload_max_bytes=1024),
        )  # fmt: skip
        professional = await upload_document(
            s, st, world.pro(DOCTOR_ID), acc, Upload(b"x", "text/plain", "a.txt", "A"),
            settings=SETTINGS,
        )  # fmt: skip
        other = await upload_document(
            s, st, world.me, world.other.account_id, Upload(b"x", "text/plain", "a.txt", "A"),
            settings=SETTINGS,
        )  # fmt: skip
    assert too_big.decision.reason == "too_large"
    assert not professional.allowed and not other.allowed
    assert blob_files(st) == files


async def test_delete_own_upload_removes_row_and_blob(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await _upload(world)
    async with st.sessions() as s:
        blob_id = (await s.get(Document, doc)).blob_id  # type: ignore[union-attr]
    path = st.blobs.path_for(acc, blob_id)
    assert path.exists()
    async with transaction(st.sessions) as s:
        out = await delete_document(s, st, world.me, acc, doc)
        assert out.allowed
        assert path.exists()  # the file goes after the commit
    assert not path.exists()
    async with st.sessions() as s:
        assert await s.get(Document, doc) is None
        assert (await s.execute(select(Blob).where(Blob.id == blob_id))).scalar() is None
    assert [b for _, b, _ in await audit_actions(st, acc)][-1] == "document.deleted"


async def test_delete_rolled_back_keeps_the_blob(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await _upload(world)
    async with st.sessions() as s:
        blob_id = (await s.get(Document, doc)).blob_id  # type: ignore[union-attr]
    try:
        async with transaction(st.sessions) as s:
            assert (await delete_document(s, st, world.me, acc, doc)).allowed
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert st.blobs.path_for(acc, blob_id).exists()
    async with st.sessions() as s:
        assert await s.get(Document, doc) is not None


async def test_delete_refused_for_a_professionals_deposit(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc)
    async with transaction(st.sessions) as s:
        by_patient = await delete_document(s, st, world.me, acc, doc)
        by_author = await delete_document(s, st, world.pro(AUTHOR_ID), acc, doc)
    assert by_patient.decision.reason == "only_own_uploads"
    assert by_author.decision.reason == "only_patient"
    async with st.sessions() as s:
        assert await s.get(Document, doc) is not None


async def test_mask_and_unmask(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc, author_id=AUTHOR_ID)
    from espace_sante.records.professionals import authorise_professional

    async with transaction(st.sessions) as s:
        await authorise_professional(s, world.me, acc, DOCTOR_ID)
        assert (await mask_document(s, world.me, acc, doc)).allowed
        refused = await mask_document(s, world.pro(AUTHOR_ID), acc, doc, masked=False)
    assert refused.decision.reason == "only_patient"

    async def doctor_sees() -> bool:
        async with transaction(st.sessions) as s:
            return (
                await get_document(
                    s, world.pro(DOCTOR_ID), acc, doc, profession_may_read=doctors_only_typed
                )
            ).allowed

    assert not await doctor_sees()
    async with transaction(st.sessions) as s:
        assert (await mask_document(s, world.me, acc, doc, masked=False)).allowed
    assert await doctor_sees()
    actions = [b for _, b, _ in await audit_actions(st, acc)]
    assert "document.masked" in actions and "document.unmasked" in actions


async def test_lift_invisible_patient_is_the_authors(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc, visibility={INVISIBLE_PATIENT, MASQUE_PS}, author_id=AUTHOR_ID)
    async with transaction(st.sessions) as s:
        by_patient = await lift_invisible_patient(s, world.me, acc, doc)
        by_other = await lift_invisible_patient(s, world.pro(DOCTOR_ID), acc, doc)
        by_author = await lift_invisible_patient(s, world.pro(AUTHOR_ID), acc, doc)
    assert not by_patient.allowed and not by_patient.decision.existence_disclosed
    assert not by_other.allowed
    assert by_author.allowed and by_author.document is not None
    assert by_author.document.visibility == MASQUE_PS
    async with transaction(st.sessions) as s:
        assert (await get_document(s, world.me, acc, doc)).allowed


async def test_archive_and_deprecate(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    doc = await deposit(st, acc, author_id=AUTHOR_ID)
    mine = await _upload(world)
    async with transaction(st.sessions) as s:
        assert (await set_archived(s, world.me, acc, doc)).allowed
        assert (await set_archived(s, world.me, acc, doc, archived=False)).allowed
        assert (await deprecate_document(s, world.me, acc, doc)).decision.reason == "only_author"
        assert (await deprecate_document(s, world.pro(AUTHOR_ID), acc, doc)).allowed
        assert (
            await deprecate_document(s, world.pro(AUTHOR_ID), acc, doc)
        ).decision.reason == "not_approved"
        assert (await deprecate_document(s, world.me, acc, mine)).allowed
    actions = [b for _, b, _ in await audit_actions(st, acc)]
    for action in ("document.archived", "document.unarchived", "document.deprecated"):
        assert action in actions


async def test_patient_replaces_own_upload_keeping_the_chain(world: World) -> None:
    st, acc = world.storage, world.patient.account_id
    v1 = await _upload(world)
    async with transaction(st.sessions) as s:
        out = await upload_document(
            s, st, world.me, acc, Upload(b"%PDF v2", "application/pdf", "v2.pdf", "Mon analyse v2"),
            settings=SETTINGS, replaces_id=v1,
        )  # fmt: skip
    assert out.allowed and out.document is not None
    v2 = out.document.id
    async with st.sessions() as s:
        old, new = await s.get(Document, v1), await s.get(Document, v2)
    assert old is not None and new is not None
    assert (old.status, new.replaces_id, new.uploaded_by_account_id) == ("superseded", v1, acc)
    # Deleting the current version makes the previous one current again.
    async with transaction(st.sessions) as s:
        assert (await delete_document(s, st, world.me, acc, v2)).allowed
    async with st.sessions() as s:
        old = await s.get(Document, v1, populate_existing=True)
    assert old is not None and old.status == "approved"
    # A professional's deposit cannot be replaced by the patient.
    theirs = await deposit(st, acc)
    async with transaction(st.sessions) as s:
        refused = await upload_document(
            s, st, world.me, acc, Upload(b"x", "text/plain", "x.txt", "x"),
            settings=SETTINGS, replaces_id=theirs,
        )  # fmt: skip
    assert refused.decision.reason == "only_own_uploads"
