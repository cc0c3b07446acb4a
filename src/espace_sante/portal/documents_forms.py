"""The patient's changes to their documents: upload, replace, mask, archive, delete.

Each goes through ``records`` (``records.upload``, ``records.changes``), which asks ``policy``;
a refusal shows the decision's French reason, or the 404 page when the caller may not even know
the document exists. The security middleware has already checked the form's CSRF token and the
body's size. The type of an upload is found from its bytes (``records.upload_types.sniff``),
never from what the browser says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from espace_sante.config import Settings
from espace_sante.policy.record_access import ONLY_OWN_UPLOADS, Decision, Operation
from espace_sante.portal.actors import caller_for, space_of
from espace_sante.portal.documents import (
    list_routes,
    not_found,
    now_of,
    show_document,
    storage_of,
)
from espace_sante.portal.documents_view import details, parse_id
from espace_sante.records.access import get_document
from espace_sante.records.changes import ChangeOutcome, delete_document, mask_document, set_archived
from espace_sante.records.codes import CATEGORIES, type_choices_for_upload
from espace_sante.records.upload import Upload, upload_document
from espace_sante.records.upload_types import UploadRefused, safe_filename, sniff
from espace_sante.storage.engine import transaction
from espace_sante.web.security import MAX_FORM_FIELDS, MAX_FORM_FILES
from espace_sante.web.templating import render

MAX_TITLE_CHARS = 200
PROFESSIONAL_DEPOSIT = (
    "Les documents déposés par un professionnel de santé ne peuvent pas être supprimés ; "
    "vous pouvez les masquer."
)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _classifications() -> list[tuple[str, list[tuple[str, str]]]]:
    """The choices of the upload form's « Classement »: categories, then DOCPAT types."""
    return [
        ("Catégorie", [(f"categorie:{c.key}", c.label_fr) for c in CATEGORIES]),
        ("Type de document", [(f"type:{c}", label) for c, label in type_choices_for_upload()]),
    ]


_CLASSIFICATION_VALUES = frozenset(v for _, group in _classifications() for v, _ in group)


@dataclass
class UploadForm:
    """An upload form as typed, its errors (field → French message) and the upload."""

    title: str = ""
    classification: str = ""
    document_date: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    upload: Upload | None = None


async def _form(request: Request) -> FormData:
    return await request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS)


async def read_upload_form(request: Request, *, default_title: str = "") -> UploadForm:
    """The upload form of ``request``, checked."""
    limit = _settings(request).records.upload_max_bytes
    form = await _form(request)
    try:
        out = UploadForm(
            title=str(form.get("titre", "") or "").strip(),
            classification=str(form.get("classement", "") or "").strip(),
            document_date=str(form.get("date_document", "") or "").strip(),
        )
        title = out.title or default_title
        if not title:
            out.errors["titre"] = "Indiquez le titre du document."
        elif len(title) > MAX_TITLE_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in title):
            out.errors["titre"] = (
                f"Le titre doit faire au plus {MAX_TITLE_CHARS} caractères, sans caractère "
                "de contrôle."
            )
        category = type_code = None
        if out.classification:
            if out.classification not in _CLASSIFICATION_VALUES:
                out.errors["classement"] = "Choisissez un classement dans la liste."
            else:
                kind, _, value = out.classification.partition(":")
                category, type_code = (value, None) if kind == "categorie" else (None, value)
        when: date | None = None
        if out.document_date:
            try:
                when = date.fromisoformat(out.document_date)
                if len(out.document_date) != 10:
                    raise ValueError(out.document_date)
            except ValueError:
                out.errors["date_document"] = (
                    "La date du document n'est pas une date valide (format attendu : AAAA-MM-JJ)."
                )
            else:
                if when > now_of(request).date():
                    out.errors["date_document"] = "La date du document ne peut pas être future."
        upload = form.get("fichier")
        data = b""
        filename = ""
        if not isinstance(upload, UploadFile) or not (upload.filename or upload.size):
            out.errors["fichier"] = "Choisissez le fichier à ajouter."
        else:
            filename = upload.filename or ""
            data = await upload.read(limit + 1)
            try:
                sniffed = sniff(data, filename, max_size=limit)
            except UploadRefused as exc:
                out.errors["fichier"] = exc.message_fr
            else:
                if not out.errors:
                    out.upload = Upload(
                        data=data,
                        mime_type=sniffed.mime_type,
                        filename=safe_filename(filename),
                        title=title,
                        category=category,
                        type_code=type_code,
                        document_date=when,
                    )
        return out
    finally:
        await form.close()


def _upload_page(
    request: Request,
    form: UploadForm,
    *,
    status_code: int = 200,
    replacing: dict[str, Any] | None = None,
    refused: str = "",
) -> Response:
    return render(
        request,
        "documents/upload.html",
        status_code=status_code,
        form=form,
        classifications=_classifications(),
        max_title=MAX_TITLE_CHARS,
        max_mb=_settings(request).records.upload_max_bytes // (1024 * 1024),
        today=now_of(request).date().isoformat(),
        replacing=replacing,
        refused=refused,
    )


async def upload_page(request: Request) -> Response:
    """``GET/POST /documents/ajouter``."""
    if request.method == "GET":
        return _upload_page(request, UploadForm())
    form = await read_upload_form(request)
    if form.upload is None:
        return _upload_page(request, form, status_code=400)
    space = space_of(request)
    storage = storage_of(request)
    async with transaction(storage.sessions) as db:
        outcome = await upload_document(
            db, storage, caller_for(request), space.account_id, form.upload,
            settings=_settings(request).records, now=now_of(request),
        )  # fmt: skip
    if not outcome.allowed or outcome.document is None:
        return _upload_page(request, form, status_code=403, refused=outcome.decision.reason_fr)
    return RedirectResponse(f"/documents/{outcome.document.id}?fait=ajoute", status_code=303)


async def _visible(request: Request, document_id: int) -> dict[str, Any] | None:
    """The document's details when the caller may see it, else None."""
    space = space_of(request)
    async with storage_of(request).sessions() as db:
        outcome = await get_document(
            db, caller_for(request), space.account_id, document_id,
            operation=Operation.METADATA, now=now_of(request),
        )  # fmt: skip
        row = outcome.document
        if not outcome.allowed or row is None or row.account_id != space.account_id:
            return None
        return details(row, space.person.account_id)


async def replace_page(request: Request) -> Response:
    """``GET/POST /documents/{id}/remplacer``: a new version of one of my uploads."""
    document_id = parse_id(str(request.path_params.get("id", "")))
    if document_id is None:
        return not_found(request)
    doc = await _visible(request, document_id)
    if doc is None:
        return not_found(request)
    if not doc["is_upload"]:
        return await show_document(
            request, document_id, error=ONLY_OWN_UPLOADS.reason_fr, status_code=403
        )
    if request.method == "GET":
        return _upload_page(request, UploadForm(title=doc["title"]), replacing=doc)
    form = await read_upload_form(request, default_title=doc["title"])
    if form.upload is None:
        return _upload_page(request, form, status_code=400, replacing=doc)
    space = space_of(request)
    storage = storage_of(request)
    async with transaction(storage.sessions) as db:
        outcome = await upload_document(
            db, storage, caller_for(request), space.account_id, form.upload,
            settings=_settings(request).records, replaces_id=document_id, now=now_of(request),
        )  # fmt: skip
    if not outcome.allowed or outcome.document is None:
        if not outcome.decision.existence_disclosed:
            return not_found(request)
        return _upload_page(
            request, form, status_code=403, replacing=doc, refused=outcome.decision.reason_fr
        )
    return RedirectResponse(f"/documents/{outcome.document.id}?fait=remplace", status_code=303)


async def _refused(request: Request, document_id: int, decision: Decision) -> Response:
    if not decision.existence_disclosed:
        return not_found(request)
    return await show_document(request, document_id, error=decision.reason_fr, status_code=403)


async def mask(request: Request) -> Response:
    """``POST /documents/{id}/masquer`` (``masque=1`` hides it from professionals, ``0`` shows
    it again)."""
    document_id = parse_id(str(request.path_params.get("id", "")))
    if document_id is None:
        return not_found(request)
    form = await _form(request)
    masked = form.get("masque") != "0"
    space = space_of(request)
    async with transaction(storage_of(request).sessions) as db:
        outcome: ChangeOutcome = await mask_document(
            db, caller_for(request), space.account_id, document_id,
            masked=masked, now=now_of(request),
        )  # fmt: skip
    if not outcome.allowed:
        return await _refused(request, document_id, outcome.decision)
    done = "masque" if masked else "demasque"
    return RedirectResponse(f"/documents/{document_id}?fait={done}", status_code=303)


async def archive(request: Request) -> Response:
    """``POST /documents/{id}/archiver`` (``archive=1`` archives, ``0`` brings it back)."""
    document_id = parse_id(str(request.path_params.get("id", "")))
    if document_id is None:
        return not_found(request)
    form = await _form(request)
    archived = form.get("archive") != "0"
    space = space_of(request)
    async with transaction(storage_of(request).sessions) as db:
        outcome = await set_archived(
            db, caller_for(request), space.account_id, document_id,
            archived=archived, now=now_of(request),
        )  # fmt: skip
    if not outcome.allowed:
        return await _refused(request, document_id, outcome.decision)
    done = "archive" if archived else "desarchive"
    return RedirectResponse(f"/documents/{document_id}?fait={done}", status_code=303)


async def delete_page(request: Request) -> Response:
    """``GET /documents/{id}/supprimer`` (confirmation) and ``POST`` (deletion)."""
    document_id = parse_id(str(request.path_params.get("id", "")))
    if document_id is None:
        return not_found(request)
    doc = await _visible(request, document_id)
    if doc is None:
        return not_found(request)
    if request.method == "GET":
        return render(request, "documents/delete.html", doc=doc, why_not=PROFESSIONAL_DEPOSIT)
    space = space_of(request)
    storage = storage_of(request)
    async with transaction(storage.sessions) as db:
        outcome = await delete_document(
            db, storage, caller_for(request), space.account_id, document_id, now=now_of(request)
        )
    if not outcome.allowed:
        if not outcome.decision.existence_disclosed:
            return not_found(request)
        reason = PROFESSIONAL_DEPOSIT if not doc["is_upload"] else outcome.decision.reason_fr
        return render(
            request, "documents/delete.html", status_code=403, doc=doc,
            why_not=PROFESSIONAL_DEPOSIT, error=reason,
        )  # fmt: skip
    return RedirectResponse("/documents?fait=supprime", status_code=303)


def document_routes() -> list[BaseRoute]:
    """Every route of the documents pages (the fixed paths before ``/documents/{id}``)."""
    return [
        Route("/documents/ajouter", upload_page, methods=["GET", "POST"]),
        *list_routes(),
        Route("/documents/{id}/remplacer", replace_page, methods=["GET", "POST"]),
        Route("/documents/{id}/masquer", mask, methods=["POST"]),
        Route("/documents/{id}/archiver", archive, methods=["POST"]),
        Route("/documents/{id}/supprimer", delete_page, methods=["GET", "POST"]),
    ]
