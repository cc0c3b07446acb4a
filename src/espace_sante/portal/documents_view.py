"""What the documents pages show of a document, and how its bytes are served: pure helpers.

In charge of: reading the list's filters from a query string (with French messages for bad
values), the French labels of a document row (category, source, status, visibility, dates), the
kind of rendering a media type gets, and the headers of the inline and download responses.
Not in charge of: deciding who sees what (``records`` asks ``policy``), the routes
(``portal.documents``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, Final
from urllib.parse import quote

from starlette.datastructures import QueryParams

from espace_sante.policy.record_access import (
    INVISIBLE_PATIENT,
    INVISIBLE_REPRESENTANTS_LEGAUX,
    MASQUE_PS,
)
from espace_sante.records.codes import CATEGORIES, category_by_key, class_label, type_label
from espace_sante.records.documents import DocumentQuery
from espace_sante.records.facts import visibility_codes
from espace_sante.records.upload_types import safe_filename
from espace_sante.storage.schema import Document

PAGE_SIZE: Final = 20
MAX_PAGE: Final = 10_000
#: Longest author or search text accepted in the filters.
MAX_FILTER_CHARS: Final = 200
#: Longest id accepted in a path (a BIGINT has at most 19 digits).
MAX_ID_DIGITS: Final = 18
CATEGORY_KEYS: Final = frozenset(c.key for c in CATEGORIES)

_MONTHS_FR: Final = (
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
)  # fmt: skip

#: Media types shown in the page (``/contenu`` serves them inline).
INLINE_IMAGES: Final = frozenset({"image/png", "image/jpeg"})
PDF: Final = "application/pdf"
TEXT: Final = "text/plain"
TIFF: Final = "image/tiff"
#: What ``/contenu`` serves at all; anything else only through ``/telecharger``.
PASSIVE_TYPES: Final = frozenset({PDF, TEXT, TIFF, *INLINE_IMAGES})

#: The CSP of a document served in our frame: no script, no request, framed by us alone.
CONTENT_CSP: Final = "sandbox; default-src 'none'; img-src 'self'; frame-ancestors 'self'"
#: PDFs too: Chromium's viewer (tried with Chromium 156, tests/web/browser) renders them in a
#: sandboxed document, so a PDF's own scripts can never run in our origin.
PDF_CSP: Final = CONTENT_CSP
#: The CSP of a download (never rendered by us, never framed).
DOWNLOAD_CSP: Final = "sandbox; default-src 'none'; frame-ancestors 'none'"


def parse_id(raw: str) -> int | None:
    """A document id from a path, or None (not digits, too long, zero)."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > MAX_ID_DIGITS:
        return None
    value = int(raw)
    return value or None


def french_date(value: datetime | date | None) -> str:
    if value is None:
        return ""
    return f"{value.day} {_MONTHS_FR[value.month - 1]} {value.year}"


@dataclass
class Filters:
    """The list's filters as typed (to fill the form again) and as a query."""

    category: str = ""
    date_from: str = ""
    date_to: str = ""
    author: str = ""
    search: str = ""
    archived: bool = False
    page: int = 1
    errors: list[str] = field(default_factory=list)

    def query(self) -> DocumentQuery:
        return DocumentQuery(
            category=self.category or None,
            period_from=_day_start(self.date_from),
            period_to=_day_end(self.date_to),
            author=self.author or None,
            search=self.search or None,
            include_archived=self.archived,
            limit=PAGE_SIZE,
            offset=(self.page - 1) * PAGE_SIZE,
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string of these filters (for the paging links)."""
        values = {
            "categorie": self.category,
            "du": self.date_from,
            "au": self.date_to,
            "auteur": self.author,
            "recherche": self.search,
            "archives": "1" if self.archived else "",
            "page": str(self.page),
        }
        values.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in values.items() if v and not (k == "page" and v == "1")}


def _parse_day(raw: str) -> date | None:
    if len(raw) != 10:
        raise ValueError(raw)
    return date.fromisoformat(raw)


def _day_start(raw: str) -> datetime | None:
    return datetime.combine(date.fromisoformat(raw), time.min, tzinfo=UTC) if raw else None


def _day_end(raw: str) -> datetime | None:
    return datetime.combine(date.fromisoformat(raw), time.max, tzinfo=UTC) if raw else None


def parse_filters(params: QueryParams) -> Filters:
    """The filters of ``params``; a bad value is dropped with a French message in ``errors``."""
    f = Filters()
    category = params.get("categorie", "").strip()
    if category:
        if category in CATEGORY_KEYS:
            f.category = category
        else:
            f.errors.append("La catégorie choisie n'existe pas : le filtre a été ignoré.")
    days: dict[str, date] = {}
    for name, label in (("du", "de début"), ("au", "de fin")):
        raw = params.get(name, "").strip()
        if not raw:
            continue
        try:
            day = _parse_day(raw)
        except ValueError:
            f.errors.append(
                f"La date {label} de la période n'est pas une date valide (format attendu : "
                "AAAA-MM-JJ) : elle a été ignorée."
            )
            continue
        assert day is not None
        days[name] = day
    if "du" in days and "au" in days and days["du"] > days["au"]:
        f.errors.append("La date de début de la période est après sa date de fin : la période "
                        "a été ignorée.")  # fmt: skip
        days.clear()
    f.date_from = days["du"].isoformat() if "du" in days else ""
    f.date_to = days["au"].isoformat() if "au" in days else ""
    for name, label in (("auteur", "auteur"), ("recherche", "recherche")):
        raw = params.get(name, "").strip()
        if len(raw) > MAX_FILTER_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in raw):
            f.errors.append(
                f"Le texte du champ « {label} » est trop long ou contient des caractères non "
                f"autorisés ({MAX_FILTER_CHARS} caractères au plus) : il a été ignoré."
            )
            raw = ""
        setattr(f, "author" if name == "auteur" else "search", raw)
    f.archived = params.get("archives", "") == "1"
    raw_page = params.get("page", "").strip()
    if raw_page:
        if raw_page.isascii() and raw_page.isdigit() and 1 <= int(raw_page[:6]) <= MAX_PAGE:
            f.page = int(raw_page)
        else:
            f.errors.append("Le numéro de page demandé n'existe pas : la première page est "
                            "affichée.")  # fmt: skip
    return f


def source_label(row: Document, person_id: int) -> str:
    if row.source in ("xdm", "attachment"):
        return "reçu par messagerie"
    if row.source == "upload":
        if row.uploaded_by_account_id == person_id:
            return "ajouté par moi"
        return "ajouté par le titulaire de l'espace ou son représentant légal"
    return "déposé par un professionnel"


def category_label(key: str) -> str:
    try:
        return category_by_key(key).label_fr
    except KeyError:
        return "Autres documents"


def status_label(row: Document) -> str:
    return {
        "approved": "en vigueur",
        "deprecated": "n'est plus en vigueur",
        "superseded": "version remplacée",
    }.get(row.status, row.status)


def visibility_labels(row: Document) -> list[str]:
    codes = set(visibility_codes(row.visibility))
    labels = []
    if MASQUE_PS in codes:
        labels.append("masqué aux professionnels")
    if INVISIBLE_REPRESENTANTS_LEGAUX in codes or "INVISIBLE_REP_LEGAUX" in codes:
        labels.append("non visible des représentants légaux")
    if INVISIBLE_PATIENT in codes:
        labels.append("non visible du patient")
    return labels


def is_masked(row: Document) -> bool:
    return MASQUE_PS in set(visibility_codes(row.visibility))


def author_of(row: Document) -> str:
    parts = [p for p in (row.author_person, row.author_institution) if p]
    return " — ".join(parts)


def document_date(row: Document) -> datetime:
    return row.creation_time or row.deposited_at


def summary(row: Document, person_id: int) -> dict[str, Any]:
    """What a list shows of one document."""
    when = document_date(row)
    return {
        "id": row.id,
        "title": row.title or "(sans titre)",
        "category": category_label(row.category),
        "date": french_date(when),
        "date_iso": when.date().isoformat(),
        "author": author_of(row),
        "source": source_label(row, person_id),
        "status": status_label(row) if row.status != "approved" else "",
        "archived": row.archived,
        "masked": is_masked(row),
    }


def details(row: Document, person_id: int) -> dict[str, Any]:
    """What the document page shows of its metadata."""
    meta = row.metadata_json if isinstance(row.metadata_json, dict) else {}
    facility = meta.get("healthcare_facility_type_code")
    facility_label = facility.get("display") if isinstance(facility, dict) else None
    message_id = meta.get("message_id")
    return {
        **summary(row, person_id),
        "class_label": class_label(row.class_code or ""),
        "type_label": type_label(row.type_code) or "",
        "deposited": french_date(row.deposited_at),
        "created": french_date(row.creation_time) if row.creation_time else "",
        "institution": row.author_institution or "",
        "facility": facility_label if isinstance(facility_label, str) else "",
        "status": status_label(row),
        "visibility": visibility_labels(row),
        "mime_type": row.mime_type,
        "filename": row.filename or "",
        "size": human_size(row.size),
        "message_id": message_id if isinstance(message_id, str) else "",
        "is_upload": row.source == "upload" and row.uploaded_by_account_id is not None,
        "current": row.status != "superseded",
    }


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} octets"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} Ko"
    return f"{size / (1024 * 1024):.1f} Mo".replace(".", ",")


def base_mime(mime_type: str) -> str:
    return (mime_type or "").split(";", 1)[0].strip().lower()


def rendering_kind(mime_type: str) -> str:
    """How the page shows a document of this type: ``image``, ``pdf``, ``text``, ``maybe_cda``
    (read it to know), ``tiff`` (download only, browsers do not show it) or ``none``."""
    mime = base_mime(mime_type)
    if mime in INLINE_IMAGES:
        return "image"
    if mime == PDF:
        return "pdf"
    if mime == TEXT:
        return "text"
    if mime == TIFF:
        return "tiff"
    if mime in ("application/octet-stream",) or mime.endswith(("/xml", "+xml")):
        return "maybe_cda"
    return "none"


def decode_text(data: bytes) -> tuple[str, str]:
    """Plain text and the charset it was read in (UTF-8, else Windows-1252)."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("windows-1252", errors="replace"), "windows-1252"


def _disposition(kind: str, filename: str) -> str:
    """``Content-Disposition`` (RFC 6266): an ASCII fallback and the UTF-8 name."""
    name = safe_filename(filename)
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\%' else "_"
                       for c in name)  # fmt: skip
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def download_name(row: Document) -> str:
    if row.filename:
        return row.filename
    extension = {
        PDF: ".pdf", "image/png": ".png", "image/jpeg": ".jpg", TIFF: ".tiff", TEXT: ".txt",
    }.get(base_mime(row.mime_type), "")  # fmt: skip
    return (row.title or "document")[:100] + extension


def content_headers(row: Document, data: bytes) -> tuple[str, dict[str, str]] | None:
    """The media type and headers of ``/contenu`` (shown in our frame), or None when the type
    is not one we serve inline."""
    mime = base_mime(row.mime_type)
    if mime not in PASSIVE_TYPES:
        return None
    headers = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "SAMEORIGIN",
        "Content-Security-Policy": PDF_CSP if mime == PDF else CONTENT_CSP,
        "Content-Disposition": _disposition(
            "attachment" if mime == TIFF else "inline", download_name(row)
        ),
    }
    if mime == TEXT:
        _, charset = decode_text(data)
        return f"text/plain; charset={charset}", headers
    return mime, headers


def download_headers(row: Document) -> tuple[str, dict[str, str]]:
    """The media type and headers of ``/telecharger``: the original, as an attachment."""
    mime = base_mime(row.mime_type)
    media = mime if mime in PASSIVE_TYPES and mime != TEXT else "application/octet-stream"
    if mime == TEXT:
        media = "text/plain"
    return media, {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": DOWNLOAD_CSP,
        "Content-Disposition": _disposition("attachment", download_name(row)),
    }
