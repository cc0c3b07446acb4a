"""A lenient but safe reader of IHE XDM archives (``IHE_XDM.ZIP``, IHE ITI TF-1 §16).

Lenient with what real archives get wrong (subset folder names, ebRIM 2.1/3.0 namespaces, missing
URI slots); strict with what matters and with what could hurt us: the archive's size and entry
count, each entry's real inflated size and ratio (zip bombs lie in their headers), unsafe paths,
encrypted entries, and XML with a DTD or entities (refused outright).
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from lxml import etree

# Classification schemes and identification schemes of the XDS metadata (IHE ITI TF-3 §4.2).
CLASS_CODE = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
TYPE_CODE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
FORMAT_CODE = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
CONFIDENTIALITY_CODE = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
FACILITY_TYPE_CODE = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
PRACTICE_SETTING_CODE = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
EVENT_CODE = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
AUTHOR = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
UNIQUE_ID = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"

#: The French DMP visibility codes (confidentialityCode, system 1.2.250.1.213.1.1.4.13).
INVISIBLE_PATIENT = "INVISIBLE_PATIENT"
INVISIBLE_REPRESENTANTS_LEGAUX = "INVISIBLE_REPRESENTANTS_LEGAUX"
MASQUE_PS = "MASQUE_PS"


@dataclass(frozen=True)
class XdmLimits:
    max_archive_size: int = 30 * 1024 * 1024
    max_entries: int = 200
    max_total_uncompressed: int = 100 * 1024 * 1024
    max_entry_uncompressed: int = 50 * 1024 * 1024
    max_ratio: float = 100.0
    max_metadata_size: int = 5 * 1024 * 1024


class XdmError(Exception):
    """The archive cannot be used; ``code`` is stable, the messages say why in English/French."""

    def __init__(self, code: str, message: str, message_fr: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.message_fr = message_fr


@dataclass(frozen=True)
class CodedValue:
    code: str
    scheme: str | None = None
    display: str | None = None


@dataclass(frozen=True)
class DocumentEntry:
    entry_uuid: str
    unique_id: str | None = None
    patient_id: str | None = None
    patient_ins: str | None = None
    patient_oid: str | None = None
    source_patient_id: str | None = None
    class_code: CodedValue | None = None
    type_code: CodedValue | None = None
    format_code: CodedValue | None = None
    confidentiality_codes: tuple[CodedValue, ...] = ()
    healthcare_facility_type_code: CodedValue | None = None
    practice_setting_code: CodedValue | None = None
    event_codes: tuple[CodedValue, ...] = ()
    author_person: str | None = None
    #: The author's identifier (XCN.1: for a French professional, the national id as the
    #: directory keeps it, e.g. ``8`` + RPPS).
    author_person_id: str | None = None
    author_institution: str | None = None
    author_role: str | None = None
    author_specialty: str | None = None
    creation_time: datetime | None = None
    service_start_time: datetime | None = None
    service_stop_time: datetime | None = None
    title: str | None = None
    comments: str | None = None
    mime_type: str | None = None
    language_code: str | None = None
    hash: str | None = None
    size: int | None = None
    uri: str | None = None
    hidden_from_patient: bool = False
    hidden_from_legal_representatives: bool = False
    masked_from_professionals: bool = False


@dataclass(frozen=True)
class XdmDocument:
    entry: DocumentEntry
    path: str
    content: bytes
    sha1_ok: bool | None
    size_ok: bool | None


@dataclass(frozen=True)
class XdmPackage:
    documents: tuple[XdmDocument, ...]
    submission_set: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    subset_path: str = ""


def is_xdm_attachment(filename: str | None, content_type: str | None) -> bool:
    """An ``IHE_XDM.ZIP`` attachment (the name is what MSSanté software relies on)."""
    if not filename:
        return False
    name = filename.strip().rsplit("/", 1)[-1].rsplit("\\", 1)[-1].upper()
    return name == "IHE_XDM.ZIP"


def read_xdm(data: bytes, limits: XdmLimits = XdmLimits()) -> XdmPackage:  # noqa: B008
    """Open the archive, read its METADATA.XML and the documents it lists."""
    if len(data) > limits.max_archive_size:
        raise XdmError("xdm.too_large", "archive too large", "archive trop volumineuse")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except _ZIP_ERRORS as exc:
        raise XdmError(
            "xdm.bad_zip", f"not a readable zip archive ({exc})", "archive zip illisible"
        ) from exc
    if len(infos) > limits.max_entries:
        raise XdmError(
            "xdm.too_many_entries", "too many entries", "trop de fichiers dans l'archive"
        )
    names: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        _check_name(info.filename)
        if info.flag_bits & 0x1:
            raise XdmError("xdm.encrypted", "encrypted entry", "fichier chiffré dans l'archive")
        if not info.is_dir():
            names[info.filename] = info
    metadata_name = _find_metadata(names)
    budget = _Budget(limits)
    metadata = _read_entry(archive, names[metadata_name], budget, limits.max_metadata_size)
    root = _parse_xml(metadata)
    subset = posixpath.dirname(metadata_name)
    warnings: list[str] = []
    entries = [_document_entry(obj) for obj in _children(root, "ExtrinsicObject")]
    if not entries:
        raise XdmError("xdm.no_document", "METADATA.XML lists no document", "aucun document décrit")
    files_in_subset = sorted(
        n for n in names if posixpath.dirname(n) == subset and n != metadata_name
    )
    documents = []
    by_upper = {n.upper(): n for n in names}
    for index, entry in enumerate(entries):
        path = None
        if entry.uri:
            candidate = posixpath.normpath(posixpath.join(subset, entry.uri))
            _check_name(candidate)
            path = by_upper.get(candidate.upper())
        if path is None:
            if len(entries) == len(files_in_subset):
                path = files_in_subset[index]
                warnings.append(f"document {index + 1}: no usable URI, matched by order to {path}")
            else:
                raise XdmError(
                    "xdm.missing_document",
                    f"document {entry.uri or index + 1} listed in METADATA.XML "
                    "is not in the archive",
                    "un document décrit est absent de l'archive",
                )
        content = _read_entry(archive, names[path], budget, limits.max_entry_uncompressed)
        sha1_ok = (
            None if not entry.hash else hashlib.sha1(content).hexdigest() == entry.hash.lower()
        )
        size_ok = None if entry.size is None else entry.size == len(content)
        if sha1_ok is False:
            warnings.append(f"{path}: declared hash does not match")
        if size_ok is False:
            warnings.append(f"{path}: declared size does not match")
        documents.append(XdmDocument(entry, path, content, sha1_ok, size_ok))
    return XdmPackage(tuple(documents), _submission_set(root), tuple(warnings), subset)


# -- archive safety -------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if (
        "\0" in name
        or "\\" in name
        or name.startswith("/")
        or re.match(r"^[A-Za-z]:", name)
        or ".." in name.split("/")
    ):
        raise XdmError(
            "xdm.unsafe_path",
            f"unsafe path in archive: {name!r}",
            "chemin dangereux dans l'archive",
        )


def _find_metadata(names: dict[str, zipfile.ZipInfo]) -> str:
    candidates = [
        n for n in names if n.upper().endswith("/METADATA.XML") and n.upper().startswith("IHE_XDM/")
    ]
    if not candidates:  # lenient: some archives put it elsewhere
        candidates = [n for n in names if posixpath.basename(n).upper() == "METADATA.XML"]
    if not candidates:
        raise XdmError(
            "xdm.no_metadata", "no METADATA.XML in the archive", "METADATA.XML absent de l'archive"
        )
    return sorted(candidates, key=lambda n: (n.count("/"), n))[0]


_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    UnicodeDecodeError,
)


class _Budget:
    def __init__(self, limits: XdmLimits) -> None:
        self.limits = limits
        self.total = 0


def _read_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget, cap: int
) -> bytes:
    """Inflate one entry, counting real bytes against the caps (headers can lie)."""
    limits = budget.limits
    out = bytearray()
    compressed = max(info.compress_size, 1)
    try:
        with archive.open(info) as stream:
            while True:
                chunk = stream.read(64 * 1024)
                if not chunk:
                    break
                out += chunk
                budget.total += len(chunk)
                if len(out) > cap or budget.total > limits.max_total_uncompressed:
                    raise XdmError(
                        "xdm.bomb",
                        f"{info.filename} inflates beyond the limit",
                        "archive trop volumineuse une fois décompressée",
                    )
                if len(out) > 1024 * 1024 and len(out) / compressed > limits.max_ratio:
                    raise XdmError(
                        "xdm.bomb",
                        f"{info.filename} compression ratio is suspicious",
                        "taux de compression suspect (bombe zip)",
                    )
    except XdmError:
        raise
    except _ZIP_ERRORS as exc:
        raise XdmError(
            "xdm.bad_zip",
            f"{info.filename}: cannot inflate ({exc})",
            "fichier illisible dans l'archive",
        ) from exc
    return bytes(out)


# -- metadata -------------------------------------------------------------------------------------

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False
)


def _parse_xml(data: bytes) -> Any:
    head = data[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in data.upper():
        raise XdmError(
            "xdm.bad_xml",
            "METADATA.XML has a DTD or entities",
            "METADATA.XML contient une DTD (refusée)",
        )
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise XdmError(
            "xdm.bad_xml", f"METADATA.XML is not well-formed ({exc})", "METADATA.XML mal formé"
        ) from exc


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _children(node: Any, name: str) -> list[Any]:
    return [el for el in node.iter() if _local(el.tag) == name]


def _direct(node: Any, name: str) -> list[Any]:
    return [el for el in node if _local(el.tag) == name]


def _slots(node: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for slot in _direct(node, "Slot"):
        values = [(v.text or "").strip() for v in _children(slot, "Value")]
        out.setdefault(slot.get("name", ""), []).extend(values)
    return out


def _localized(node: Any, name: str) -> str | None:
    for el in _direct(node, name):
        for ls in _children(el, "LocalizedString"):
            if ls.get("value"):
                return str(ls.get("value"))
    return None


def _first(slots: dict[str, list[str]], name: str) -> str | None:
    """The first value of a slot, if any."""
    values = slots.get(name)
    return values[0] if values else None


def _coded(cls: Any) -> CodedValue:
    slots = _slots(cls)
    scheme = _first(slots, "codingScheme")
    return CodedValue(cls.get("nodeRepresentation", ""), scheme, _localized(cls, "Name"))


def _document_entry(obj: Any) -> DocumentEntry:
    slots = _slots(obj)
    classifications: dict[str, list[Any]] = {}
    for cls in _direct(obj, "Classification"):
        classifications.setdefault(cls.get("classificationScheme", ""), []).append(cls)
    ids = {
        ei.get("identificationScheme"): ei.get("value") for ei in _direct(obj, "ExternalIdentifier")
    }

    def one(scheme: str) -> CodedValue | None:
        found = classifications.get(scheme)
        return _coded(found[0]) if found else None

    author_slots: dict[str, list[str]] = {}
    for cls in classifications.get(AUTHOR, []):
        for key, values in _slots(cls).items():
            author_slots.setdefault(key, []).extend(values)
    confidentiality = tuple(_coded(c) for c in classifications.get(CONFIDENTIALITY_CODE, []))
    codes = {c.code for c in confidentiality}
    patient_id = ids.get(PATIENT_ID)
    ins, oid = _parse_cx(patient_id)
    size_text = _first(slots, "size")
    uri = "".join(_uri_parts(slots.get("URI", []))) or None
    return DocumentEntry(
        entry_uuid=obj.get("id", ""),
        unique_id=ids.get(UNIQUE_ID),
        patient_id=patient_id,
        patient_ins=ins,
        patient_oid=oid,
        source_patient_id=_first(slots, "sourcePatientId"),
        class_code=one(CLASS_CODE),
        type_code=one(TYPE_CODE),
        format_code=one(FORMAT_CODE),
        confidentiality_codes=confidentiality,
        healthcare_facility_type_code=one(FACILITY_TYPE_CODE),
        practice_setting_code=one(PRACTICE_SETTING_CODE),
        event_codes=tuple(_coded(c) for c in classifications.get(EVENT_CODE, [])),
        author_person=_readable_xcn(_first(author_slots, "authorPerson")),
        author_person_id=_xcn_id(_first(author_slots, "authorPerson")),
        author_institution=_readable_xon(_first(author_slots, "authorInstitution")),
        author_role=_first(author_slots, "authorRole"),
        author_specialty=_first(author_slots, "authorSpecialty"),
        creation_time=_dtm(_first(slots, "creationTime")),
        service_start_time=_dtm(_first(slots, "serviceStartTime")),
        service_stop_time=_dtm(_first(slots, "serviceStopTime")),
        title=_localized(obj, "Name"),
        comments=_localized(obj, "Description"),
        mime_type=obj.get("mimeType"),
        language_code=_first(slots, "languageCode"),
        hash=_first(slots, "hash"),
        size=int(size_text) if size_text and size_text.isdigit() else None,
        uri=uri,
        hidden_from_patient=INVISIBLE_PATIENT in codes,
        hidden_from_legal_representatives=INVISIBLE_REPRESENTANTS_LEGAUX in codes,
        masked_from_professionals=MASQUE_PS in codes,
    )


def _uri_parts(values: list[str]) -> list[str]:
    """URI may be split over several values as ``1|part``, ``2|part`` (ITI TF-3 §4.2.3.2.24)."""
    if len(values) > 1 and all(re.match(r"^\d+\|", v) for v in values):
        return [v.split("|", 1)[1] for v in sorted(values, key=lambda v: int(v.split("|", 1)[0]))]
    return values[:1]


def _parse_cx(value: str | None) -> tuple[str | None, str | None]:
    """``INS^^^&OID&ISO`` → (INS, OID)."""
    if not value:
        return None, None
    ident, _, rest = value.partition("^^^")
    oid = None
    if rest:
        parts = rest.split("&")
        if len(parts) >= 2 and parts[1]:
            oid = parts[1]
    return (ident.strip().upper() or None), oid


def _readable_xcn(value: str | None) -> str | None:
    """``id^FAMILY^Given^…`` → ``Given FAMILY (id)``."""
    if not value:
        return None
    parts = value.split("^")
    ident = parts[0] if parts else ""
    family = parts[1] if len(parts) > 1 else ""
    given = parts[2] if len(parts) > 2 else ""
    name = " ".join(p for p in (given, family) if p)
    if name and ident:
        return f"{name} ({ident})"
    return name or ident or value


#: The assigning authority of national professional ids (RPPS/ADELI, "IDNPS").
NATIONAL_PS_ID_OID = "1.2.250.1.71.4.2.1"


def _xcn_id(value: str | None) -> str | None:
    """``id^FAMILY^Given^…^&OID&ISO`` → ``id`` when it is a national professional id (its
    assigning authority, XCN.9, is the national one or not given), else None."""
    if not value:
        return None
    parts = value.split("^")
    ident = parts[0].strip()
    authority = parts[8].split("&") if len(parts) > 8 else []
    if len(authority) > 1 and authority[1] and authority[1] != NATIONAL_PS_ID_OID:
        return None
    return ident[:32] or None


def _readable_xon(value: str | None) -> str | None:
    if not value:
        return None
    return value.split("^", 1)[0] or value


def _dtm(value: str | None) -> datetime | None:
    """HL7 DTM (``YYYY[MM[DD[HH[MM[SS]]]]][+/-ZZZZ]``) → aware UTC datetime; None if unreadable."""
    if not value:
        return None
    m = re.fullmatch(
        r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?([+-]\d{4})?", value.strip()
    )
    if not m:
        return None
    year, month, day, hour, minute, second, tz = m.groups()
    try:
        tzinfo = UTC
        if tz:
            sign = 1 if tz[0] == "+" else -1
            tzinfo = timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])))
        dt = datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=tzinfo,
        )
    except ValueError:
        return None
    return dt.astimezone(UTC)


def _submission_set(root: Any) -> dict[str, Any]:
    packages = _children(root, "RegistryPackage")
    if not packages:
        return {}
    pkg = packages[0]
    slots = _slots(pkg)
    return {
        "id": pkg.get("id"),
        "title": _localized(pkg, "Name"),
        "submission_time": _dtm(_first(slots, "submissionTime")),
    }
