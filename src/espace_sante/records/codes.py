"""Document codes of the record (class and type codes) and the French categories a patient sees.

In charge of: the DMP class codes (JDV_J57-ClassCode-DMP, OID 1.2.250.1.213.1.1.5.6), the type
codes (JDV_J07-XdsTypeCode-CISIS: LOINC and TRE_A05 codes) read once from the package data file
``records/data/type_codes.csv``, the class that follows from a type (the principle of ConceptMap
ASS_X04) and the patient-facing category of a document (the menus of Mon espace santé).
Not in charge of: who may read which type (``access_matrix``), storing documents (``deposit``).

Everything here is pure: the data file is loaded at import, later calls do no I/O.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Final

__all__ = [
    "CATEGORIES",
    "CLASS_CODES",
    "CLASS_CODE_SYSTEM",
    "Category",
    "CodeTableError",
    "TypeCode",
    "all_type_codes",
    "category_by_key",
    "category_of",
    "class_for_type",
    "class_label",
    "type_choices_for_upload",
    "type_label",
]

CLASS_CODE_SYSTEM: Final = "1.2.250.1.213.1.1.5.6"
"""OID of JDV_J57-ClassCode-DMP."""

CLASS_CODES: Final[MappingProxyType[str, str]] = MappingProxyType(
    {
        "10": "Compte rendu",
        "11": "Synthèse",
        "31": "Imagerie médicale",
        "42": "Prescription",
        "43": "Dispensation",
        "44": "Plan de soins",
        "45": "Traitement administré",
        "52": "Certificat",
        "60": "Remboursement",
        "90": "Document déposé par le patient",
        "95": "Gestion",
    }
)
"""JDV_J57 class code -> French label."""

PATIENT_CLASS_CODE: Final = "90"


@dataclass(frozen=True, slots=True)
class Category:
    """A category of the patient's document menu: a stable key, its French label, and the
    matching category code of the official app (ens-mobile ``LEXIQUE.md``)."""

    key: str
    label_fr: str
    app_code: str


CATEGORIES: Final[tuple[Category, ...]] = (
    Category("ordonnances", "Ordonnances et soins", "ORD_SOIN"),
    Category("biologie", "Résultats d'analyses", "BIOLOGIE"),
    Category("imagerie", "Imagerie médicale", "RADIO_SC"),
    Category("comptes_rendus", "Comptes rendus", "CPT_REND"),
    Category("vaccination", "Vaccination", "CAR_VAC"),
    Category("synthese", "Synthèses", "SYNTHESE"),
    Category("prevention", "Prévention et dépistages", "DEPISTAG"),
    Category("certificats", "Certificats", "CERT_MED"),
    Category("remboursements", "Remboursements", "REMB"),
    Category("pieces_administratives", "Pièces administratives", "DOC_ADM"),
    Category("mes_documents", "Mes documents", "AUTR_DOC"),
    Category("autres", "Autres documents", "AUTR_DOC"),
)
"""Every category, in the order of the filter menu."""

_CATEGORY_BY_KEY: Final = MappingProxyType({c.key: c for c in CATEGORIES})

_OTHER: Final = _CATEGORY_BY_KEY["autres"]

# When a document has no known type, its class decides the category.
_CATEGORY_OF_CLASS: Final = MappingProxyType(
    {
        "10": "comptes_rendus",
        "11": "synthese",
        "31": "imagerie",
        "42": "ordonnances",
        "43": "ordonnances",
        "44": "ordonnances",
        "45": "ordonnances",
        "52": "certificats",
        "60": "remboursements",
        "90": "mes_documents",
        "95": "pieces_administratives",
    }
)

# When neither type nor class says anything, an image is most likely imaging.
_CATEGORY_OF_MIME_PREFIX: Final = (("image/", "imagerie"),)


@dataclass(frozen=True, slots=True)
class TypeCode:
    """One row of ``type_codes.csv``."""

    code: str
    label_fr: str
    class_code: str
    category: Category


class CodeTableError(ValueError):
    """The packaged type-code table is malformed (a packaging bug, reported with its line)."""


def _parse_type_codes(text: str) -> dict[str, TypeCode]:
    rows: dict[str, TypeCode] = {}
    header_seen = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = next(csv.reader(io.StringIO(line)))
        if not header_seen:
            if fields != ["type_code", "label_fr", "class_code", "category"]:
                raise CodeTableError(f"type_codes.csv line {lineno}: unexpected header {fields}")
            header_seen = True
            continue
        if len(fields) != 4:
            raise CodeTableError(f"type_codes.csv line {lineno}: expected 4 fields")
        code, label, class_code, category = (f.strip() for f in fields)
        if not code or not label:
            raise CodeTableError(f"type_codes.csv line {lineno}: empty code or label")
        if class_code not in CLASS_CODES:
            raise CodeTableError(f"type_codes.csv line {lineno}: unknown class {class_code!r}")
        if category not in _CATEGORY_BY_KEY:
            raise CodeTableError(f"type_codes.csv line {lineno}: unknown category {category!r}")
        if code in rows:
            raise CodeTableError(f"type_codes.csv line {lineno}: duplicate type code {code!r}")
        rows[code] = TypeCode(code, label, class_code, _CATEGORY_BY_KEY[category])
    if not header_seen:
        raise CodeTableError("type_codes.csv: no header line")
    return rows


def _load() -> MappingProxyType[str, TypeCode]:
    text = resources.files(__package__).joinpath("data/type_codes.csv").read_text("utf-8")
    return MappingProxyType(_parse_type_codes(text))


_TYPES: Final = _load()


def _norm(code: str | None) -> str:
    return (code or "").strip()


def class_label(code: str) -> str:
    """French label of a JDV_J57 class code; an unknown code gets a generic label."""
    return CLASS_CODES.get(_norm(code), "Document")


def type_label(code: str | None) -> str | None:
    """French label of a type code, or ``None`` when the code is not in the table."""
    row = _TYPES.get(_norm(code))
    return row.label_fr if row else None


def class_for_type(type_code: str | None) -> str | None:
    """The class code that follows from a type code (ASS_X04 principle), ``None`` if unknown."""
    row = _TYPES.get(_norm(type_code))
    return row.class_code if row else None


def all_type_codes() -> tuple[TypeCode, ...]:
    """Every known type code, in the order of the data file."""
    return tuple(_TYPES.values())


def category_by_key(key: str) -> Category:
    """The category with this key (``KeyError`` if there is none)."""
    return _CATEGORY_BY_KEY[key]


def category_of(
    class_code: str | None, type_code: str | None, mime_type: str | None = None
) -> Category:
    """The patient-facing category of a document.

    A patient's upload (class 90) is always in « Mes documents »; otherwise the type decides,
    then the class, then an image media type, and anything else is « Autres documents ».
    """
    cls = _norm(class_code)
    if cls == PATIENT_CLASS_CODE:
        return _CATEGORY_BY_KEY["mes_documents"]
    row = _TYPES.get(_norm(type_code))
    if row is not None:
        return row.category
    if cls in _CATEGORY_OF_CLASS:
        return _CATEGORY_BY_KEY[_CATEGORY_OF_CLASS[cls]]
    mime = (mime_type or "").strip().lower()
    for prefix, key in _CATEGORY_OF_MIME_PREFIX:
        if mime.startswith(prefix):
            return _CATEGORY_BY_KEY[key]
    return _OTHER


def type_choices_for_upload() -> tuple[tuple[str, str], ...]:
    """What a patient may pick when uploading: ``(type_code, label_fr)`` of the DOCPAT codes,
    in code order (all of class 90, so the upload lands in « Mes documents »). DOCPAT08, the
    medical profile's summary, is produced by the service and not offered."""
    return tuple(
        (row.code, row.label_fr)
        for row in sorted(_TYPES.values(), key=lambda r: r.code)
        if row.code.startswith("DOCPAT") and row.code != "DOCPAT08"
    )
