"""Stand-in: replaced by the record-pure branch's codes.py at merge.

The patient-facing categories of a document from its class code (JDV_J57), type code (LOINC,
JDV_J07/J66) and MIME type. Only the API is meant to last: :func:`category_of`,
:func:`class_for_type` and the category keys.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    key: str
    label_fr: str


_LABELS = {
    "ordonnances": "Ordonnances",
    "biologie": "Biologie",
    "imagerie": "Imagerie",
    "comptes_rendus": "Comptes rendus",
    "vaccination": "Vaccination",
    "synthese": "Synthèse",
    "certificats": "Certificats",
    "remboursements": "Remboursements",
    "mes_documents": "Mes documents",
    "autres": "Autres documents",
}
_BY_CLASS = {
    "42": "ordonnances",
    "43": "ordonnances",
    "44": "ordonnances",
    "45": "ordonnances",
    "31": "imagerie",
    "10": "comptes_rendus",
    "11": "synthese",
    "52": "certificats",
    "60": "remboursements",
    "90": "mes_documents",
}
_BY_TYPE = {"11369-6": "vaccination", "87273-9": "vaccination", "11502-2": "biologie"}
_CLASS_OF_TYPE = {"11369-6": "10", "87273-9": "10", "11502-2": "10", "60591-5": "11"}


def category_of(
    class_code: str | None, type_code: str | None, mime_type: str | None = None
) -> Category:
    """The category a patient sees the document under."""
    del mime_type
    key = _BY_TYPE.get(type_code or "") or _BY_CLASS.get(class_code or "", "autres")
    return Category(key, _LABELS[key])


def class_for_type(type_code: str | None) -> str | None:
    """The class code a type code belongs to (ConceptMap ASS_X04), when known."""
    if type_code and type_code.upper().startswith("DOCPAT"):
        return "90"
    return _CLASS_OF_TYPE.get(type_code or "")
