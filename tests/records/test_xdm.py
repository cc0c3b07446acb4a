"""Reading IHE XDM archives: the metadata that matters, leniency, and hostile archives."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, datetime

import pytest

from espace_sante.records.xdm import XdmError, XdmLimits, is_xdm_attachment, read_xdm
from fixtures import mssante

INS = mssante.valid_nir("2800175123456")


def test_reads_every_metadata_field() -> None:
    package = read_xdm(mssante.build_xdm_zip(INS, with_pdf_document=True))
    assert package.subset_path == "IHE_XDM/SUBSET01"
    assert package.warnings == ()
    assert len(package.documents) == 2
    cda, pdf = package.documents
    e = cda.entry
    assert e.patient_ins == INS and e.patient_oid == mssante.DEMO_OID
    assert e.patient_id == f"{INS}^^^&{mssante.DEMO_OID}&ISO"
    assert e.class_code is not None and (e.class_code.code, e.class_code.scheme) == (
        "11",
        "1.2.250.1.213.1.1.4.1",
    )
    assert e.type_code is not None and e.type_code.code == "11488-4"
    assert e.type_code.display == "Note de consultation"
    assert e.format_code is not None and e.format_code.code == "urn:asip:ci-sis:2010"
    assert [c.code for c in e.confidentiality_codes] == ["N"]
    assert (
        e.healthcare_facility_type_code is not None
        and e.healthcare_facility_type_code.code == "SA07"
    )
    assert e.practice_setting_code is not None and e.practice_setting_code.code == "ETABLISSEMENT"
    assert e.author_person == "Jean DUPONT (810000000001)"
    assert e.author_institution == "Cabinet du Dr Dupont"
    assert e.author_specialty and e.author_specialty.startswith("SM54")
    assert e.creation_time == datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
    assert e.service_start_time == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert e.title == "Compte rendu de consultation 1"
    assert e.comments == "Consultation du 20/11/2026"
    assert e.mime_type == "text/xml" and e.language_code == "fr-FR"
    assert e.unique_id and e.unique_id.startswith("1.2.250.1.999.1.1.")
    assert e.uri == "DOC0001.XML" and cda.path == "IHE_XDM/SUBSET01/DOC0001.XML"
    assert cda.sha1_ok is True and cda.size_ok is True
    assert e.hash == hashlib.sha1(cda.content).hexdigest()
    assert b"ClinicalDocument" in cda.content
    assert not (
        e.hidden_from_patient or e.hidden_from_legal_representatives or e.masked_from_professionals
    )
    assert (
        pdf.content.startswith(b"%PDF")
        and pdf.entry.format_code.code == "urn:ihe:iti:xds-sd:pdf:2008"
    )
    assert package.submission_set["title"] == "Envoi MSSanté"


def test_visibility_codes() -> None:
    package = read_xdm(mssante.build_xdm_zip(INS, hidden_from_patient=True))
    entry = package.documents[0].entry
    assert entry.hidden_from_patient
    assert {c.code for c in entry.confidentiality_codes} == {"N", "INVISIBLE_PATIENT"}


@pytest.mark.parametrize("subset", ["SUBSET01", "SS000001", "subset01"])
def test_subset_folder_names_vary(subset: str) -> None:
    package = read_xdm(mssante.build_xdm_zip(INS, subset=subset))
    assert package.subset_path == f"IHE_XDM/{subset}"


@pytest.mark.parametrize(
    "namespace",
    ["urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0", "urn:oasis:names:tc:ebxml-regrep:rim:xsd:2.1"],
)
def test_ebrim_namespaces(namespace: str) -> None:
    assert (
        read_xdm(mssante.build_xdm_zip(INS, namespace=namespace)).documents[0].entry.patient_ins
        == INS
    )


def test_missing_uri_falls_back_to_order_with_a_warning() -> None:
    package = read_xdm(mssante.build_xdm_zip(INS, include_uri=False))
    assert package.documents[0].path.endswith("DOC0001.XML")
    assert any("no usable URI" in w for w in package.warnings)


def _rewrite(archive: bytes, change: dict[str, bytes | None]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename in change:
                if change[info.filename] is not None:
                    dst.writestr(info.filename, change[info.filename])
            else:
                dst.writestr(info.filename, src.read(info))
    return out.getvalue()


def test_hash_mismatch_is_a_warning_not_an_error() -> None:
    archive = _rewrite(mssante.build_xdm_zip(INS), {"IHE_XDM/SUBSET01/DOC0001.XML": b"<changed/>"})
    package = read_xdm(archive)
    assert package.documents[0].sha1_ok is False and package.documents[0].size_ok is False
    assert any("hash" in w for w in package.warnings)


def test_listed_document_missing_from_archive() -> None:
    archive = _rewrite(
        mssante.build_xdm_zip(INS, with_pdf_document=True), {"IHE_XDM/SUBSET01/DOC0002.PDF": None}
    )
    with pytest.raises(XdmError) as info:
        read_xdm(archive)
    assert info.value.code == "xdm.missing_document"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("zip_bomb", "xdm.bomb"),
        ("zip_with_traversal", "xdm.unsafe_path"),
        ("broken_zip", "xdm.bad_zip"),
        ("xdm_without_metadata", "xdm.no_metadata"),
        ("xxe", "xdm.bad_xml"),
    ],
)
def test_hostile_archives(name: str, code: str) -> None:
    with pytest.raises(XdmError) as info:
        read_xdm(mssante.hostile_archive(name, INS))
    assert info.value.code == code
    assert info.value.message and info.value.message_fr


def test_limits_on_archive_size_and_entries() -> None:
    archive = mssante.build_xdm_zip(INS)
    with pytest.raises(XdmError, match="too_large"):
        read_xdm(archive, XdmLimits(max_archive_size=100))
    with pytest.raises(XdmError, match="too_many_entries"):
        read_xdm(archive, XdmLimits(max_entries=2))


def test_zip_bomb_with_lying_headers_is_caught_while_inflating() -> None:
    """Patch the central directory to claim a tiny uncompressed size: we count real bytes."""
    bomb = bytearray(mssante.zip_bomb())
    # every "uncompressed size" field in local and central headers says 1 byte
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (pos := bomb.find(signature, start)) != -1:
            bomb[pos + offset : pos + offset + 4] = (1).to_bytes(4, "little")
            start = pos + 4
    with pytest.raises(XdmError) as info:
        read_xdm(bytes(bomb))
    assert info.value.code in ("xdm.bomb", "xdm.bad_zip")


@pytest.mark.parametrize(
    ("filename", "ctype", "expected"),
    [
        ("IHE_XDM.ZIP", "application/zip", True),
        ("ihe_xdm.zip", "application/octet-stream", True),
        ("dossier/IHE_XDM.ZIP", None, True),
        ("autre.zip", "application/zip", False),
        (None, "application/zip", False),
    ],
)
def test_is_xdm_attachment(filename: str | None, ctype: str | None, expected: bool) -> None:
    assert is_xdm_attachment(filename, ctype) is expected
